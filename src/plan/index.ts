/**
 * plan(): Desired + Observed + the store → an ordered list of operations, each with its cause.
 * Pure and deterministic: no I/O, no clock (the caller passes `now`).
 */
import type { HoldCause, RemovalCause } from '../model/causes.ts';
import { capabilitiesOf } from '../drivers/backends.ts';
import type { DesiredInstance } from '../model/desired.ts';
import type { Operation } from '../model/operations.ts';
import { copiesByInstance, instancesInFlight, nodeFacts, type NodeFacts } from './facts.ts';
import { assignWaves } from './budgets.ts';
import { instanceOperations } from './instance.ts';
import { describeCause } from './reasons.ts';
import { withForecast } from './migration.ts';
import { nicSource, planNics } from './nics.ts';
import { busyNodes, orphanOperations } from './orphans.ts';
import { planRenames } from './rename.ts';
import { computeTargets } from './targets.ts';
import { withOverrides } from './overrides.ts';
import type { Pending, Plan, PlanError, PlanInput } from './types.ts';

export type { Plan, PlanInput, PlanError, Pending } from './types.ts';

export function plan(given: PlanInput): Plan {
  const { desired, notes } = withOverrides(given.desired, given.store);
  const input = desired === given.desired ? given : { ...given, desired };
  const facts = nodeFacts(input);
  const copies = copiesByInstance(input);
  const warnings: string[] = [...notes];
  const errors: PlanError[] = [];
  const pending: Pending[] = [];
  const chains: (readonly Operation[])[] = [];
  const deferred: (readonly Operation[])[] = [];
  const waves: Record<string, number> = {};
  const inFlight = instancesInFlight(input.store);
  const renames = planRenames(input, facts, inFlight);
  warnings.push(...renames.warnings);
  errors.push(...renames.errors);
  pending.push(...renames.pending);

  for (const cluster of input.desired.clusters.values()) {
    const wanted: DesiredInstance[] = [];
    for (const d of input.desired.instances.values()) {
      if (d.cluster !== cluster.name) continue;
      if (inFlight.has(d.name) || renames.renaming.has(d.name)) continue; // resumed or renamed first, planned next run
      if (d.state === 'absent') {
        const remove = removal(input, d.name, { kind: 'state-absent' });
        if (remove) chains.push([remove]);
      } else wanted.push(d);
    }
    wanted.push(...renames.asOld.filter((d) => d.cluster === cluster.name));
    // a rename that restarts its instance takes a group member down: it goes through the budget too
    const planned: (readonly Operation[])[] = renames.operations.filter((op) => input.desired.instances.get(op.instance)?.cluster === cluster.name).map((op) => [op]);
    const nicsOf = planNics(input, cluster, wanted);
    for (const t of computeTargets(input, cluster, wanted, facts, warnings)) {
      const waiting = waitingOnNode(t.placement?.primary, facts, t.instance.name);
      if (waiting) { pending.push(waiting); continue; }
      if (t.blocked) {
        if (t.placement) pending.push({ instance: t.instance.name, cause: t.blocked });
        else errors.push({ instance: t.instance.name, message: describeCause(t.blocked), cause: t.blocked, source: t.instance.source });
        continue;
      }
      const nics = nicsOf(t);
      if ('refused' in nics) { nicError(errors, t.instance, nics.refused); continue; }
      const { ops, held, refused } = instanceOperations(t, copies.get(t.instance.name) ?? [], facts, { now: input.now, replicationIntervalMs: cluster.replication.intervalMs, ...(cluster.replication.mode && { replicationMode: cluster.replication.mode }) }, capabilitiesOf(cluster.backend), nics.nics);
      if (held) pending.push({ instance: t.instance.name, cause: held });
      if (refused) errors.push(refused);
      if (t.secondaryHeld) pending.push({ instance: t.instance.name, cause: t.secondaryHeld });
      if (ops.length) planned.push(ops.map((op) => withForecast(op, input.desired, input.observed)));
    }
    const members = [...input.desired.instances.values()].filter((d) => d.cluster === cluster.name);
    const w = assignWaves({ cluster, instances: members, chains: planned, copies, facts, store: input.store });
    chains.push(...w.now);
    deferred.push(...w.deferred);
    pending.push(...w.pending);
    for (const [instance, wave] of w.waves) waves[instance] = wave;
  }
  for (const name of input.store.placements.keys()) {
    if (input.desired.instances.has(name) || renames.old.has(name)) continue;
    if (!input.prune) { warnings.push(`${name}: placed by Drover but in no manifest; kept (use --prune to remove it)`); continue; }
    const remove = removal(input, name, { kind: 'not-in-manifest' });
    if (remove) chains.push([remove]);
  }
  const orphans = orphanOperations(input, copies, facts, busyNodes(chains.flat()));
  warnings.push(...orphans.warnings);
  for (const o of orphans.operations) chains.push([o]);
  return { operations: order(chains, facts), deferred: order(deferred, facts), waves, warnings, errors, pending };
}

/** An instance left without its NICs: one error each, but one per network for an exhausted pool (it names them all). */
function nicError(errors: PlanError[], d: DesiredInstance, cause: HoldCause): void {
  if (cause.kind === 'pool-exhausted' && errors.some((e) => e.cause?.kind === 'pool-exhausted' && e.cause.network === cause.network)) return;
  errors.push({ instance: d.name, message: describeCause(cause), cause, source: nicSource(d, cause) });
}

function removal(input: PlanInput, instance: string, cause: RemovalCause): Operation | undefined {
  const p = input.store.placements.get(instance);
  if (!p) return undefined;
  return { type: 'RemoveInstance', instance, primary: p.primary, ...(p.secondary && { secondary: p.secondary }), cause };
}

function waitingOnNode(primary: string | undefined, facts: ReadonlyMap<string, NodeFacts>, instance: string): Pending | undefined {
  const f = primary ? facts.get(primary) : undefined;
  if (!f || f.up || f.dead) return undefined;
  return {
    instance,
    cause: { kind: 'node-down', node: f.name, since: f.nodeDownSince!, deadAt: f.deadAt!, ...(f.error && { error: f.error }) },
    retryAt: f.deadAt!,
  };
}

/** Cleanup of fenced nodes first, then failovers, removals, moves, and new work last. */
const PHASE: Readonly<Record<Operation['type'], number>> = {
  RemoveOrphan: 2, FailoverInstance: 1, RemoveInstance: 2, RenameInstance: 3, MigrateInstance: 3, MoveInstance: 3,
  StopInstance: 4, RecreateInstance: 4, RestartInstance: 4, ModifyInstance: 4, GrowDisk: 4, CreateInstance: 5, ReplaceSecondary: 6, SyncDisks: 7, StartInstance: 8,
};

function order(chains: readonly (readonly Operation[])[], facts: ReadonlyMap<string, NodeFacts>): Operation[] {
  const phase = (c: readonly Operation[]) => {
    const head = c[0]!;
    return head.type === 'RemoveOrphan' && facts.get(head.node)?.fenced ? 0 : PHASE[head.type];
  };
  return chains
    .map((c) => ({ c, phase: phase(c), name: c[0]!.instance }))
    .sort((a, b) => a.phase - b.phase || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((x) => x.c);
}
