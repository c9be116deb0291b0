/**
 * The operations that take one instance from what is to its target, in the order they must run.
 */
import type { HoldCause, RepairCause } from '../model/causes.ts';
import type { DesiredInstance, HealthCheck } from '../model/desired.ts';
import type { Operation } from '../model/operations.ts';
import { specMatches } from '../model/hash.ts';
import { replicaCount, replicaHealth, type Copy, type NodeFacts, type ReplicaHealth } from './facts.ts';
import type { Target } from './targets.ts';
import { toSpec } from './spec.ts';

export interface InstancePlan {
  readonly ops: readonly Operation[];
  /** Set when the safe next step needs a human (never guessed when data could be lost). */
  readonly held?: HoldCause;
}

/** Time-dependent inputs: the planner never reads the clock. */
export interface Timing {
  readonly now: number;
  /** A replica older than this is synced again (the Cluster's replication.interval). */
  readonly replicationIntervalMs: number;
}

export function instanceOperations(t: Target, copies: readonly Copy[], facts: ReadonlyMap<string, NodeFacts>, timing: Timing): InstancePlan {
  const held = lostPrimaryDisks(t, copies);
  if (held) return { ops: [], held };
  return { ops: operationsFor(t, copies, facts, timing) };
}

/**
 * Disks gone from the primary while the synced replica still has them: recreating them empty
 * would be silent data loss, and syncing would spread it. Hold, and say how to recover.
 */
function lostPrimaryDisks(t: Target, copies: readonly Copy[]): HoldCause | undefined {
  const p = t.placement;
  if (!p?.secondary || t.primaryChange.kind !== 'keep' || p.lastSync?.node !== p.secondary) return undefined;
  const count = (node: string) => copies.find((c) => c.node === node)?.volumes.length ?? 0;
  const onPrimary = count(p.primary);
  if (onPrimary >= count(p.secondary) || onPrimary >= t.instance.disks.length) return undefined;
  return { kind: 'held-disks-missing-on-primary', instance: t.instance.name, node: p.primary, secondary: p.secondary, syncedAt: p.lastSync.at };
}

function operationsFor(t: Target, copies: readonly Copy[], facts: ReadonlyMap<string, NodeFacts>, timing: Timing): Operation[] {
  const up = (n: string | undefined) => n !== undefined && facts.get(n)?.up === true;
  const d = t.instance;
  const p = t.placement;
  const spec = toSpec(d);
  const start = d.state === 'running';
  const generation = (p?.generation ?? 0) + 1;
  if (!p) {
    return [{ type: 'CreateInstance', instance: d.name, primary: t.primary!, ...(t.secondary && { secondary: t.secondary }), spec, generation, start, cause: { kind: 'new-instance' } }];
  }
  const ops: Operation[] = [];
  let primary = p.primary;
  let secondary = p.secondary;
  const change = t.primaryChange;
  if (change.kind === 'failover') {
    ops.push({ type: 'FailoverInstance', instance: d.name, from: primary, to: t.primary!, spec, generation, start, cause: change.why, ...(p.lastSync && { recoveryPoint: p.lastSync.at }) });
    secondary = undefined;
  } else if (change.kind === 'migrate') {
    ops.push({ type: 'MigrateInstance', instance: d.name, from: primary, to: t.primary!, spec, generation, start, cause: change.why, ...healthOf(d) });
    secondary = primary;
  } else if (change.kind === 'move' && secondary && t.secondary === primary) {
    // hbal's "r:x f": copy the replica to the new node, then migrate onto it; the old primary
    // keeps its disks as the new replica. One copy, where a move and a new secondary take two.
    ops.push({ type: 'ReplaceSecondary', instance: d.name, primary, from: secondary, to: t.primary!, disks: d.disks, generation: p.generation, cause: change.why });
    ops.push({ type: 'MigrateInstance', instance: d.name, from: primary, to: t.primary!, spec, generation, start, cause: change.why, ...healthOf(d) });
    secondary = primary;
  } else if (change.kind === 'move') {
    const keep = secondary && secondary !== t.primary && secondary === t.secondary ? secondary : undefined;
    ops.push({ type: 'MoveInstance', instance: d.name, from: primary, to: t.primary!, ...(keep && { secondary: keep }), spec, generation, start, cause: change.why, ...healthOf(d) });
    secondary = keep;
  }
  primary = t.primary!;
  if (t.secondary !== secondary) {
    if (t.secondary) {
      const from = secondary && secondary !== primary ? secondary : undefined;
      ops.push({ type: 'ReplaceSecondary', instance: d.name, primary, ...(from && { from }), to: t.secondary, disks: d.disks, generation: change.kind === 'keep' ? p.generation : generation, cause: t.secondaryWhy ?? { kind: 'secondary-changes' } });
    } else if (secondary && facts.get(secondary)?.up) {
      ops.push({ type: 'RemoveOrphan', instance: d.name, node: secondary, containers: false, volumes: true, cause: t.secondaryWhy ?? { kind: 'no-secondary-wanted' } });
    }
  }
  if (change.kind !== 'keep') return ops;
  return [...ops, ...inPlace(t, copies, up, timing)];
}

/** No move this round: fix the container on the primary and the replica on the secondary. */
function inPlace(t: Target, copies: readonly Copy[], up: (node: string | undefined) => boolean, timing: Timing): Operation[] {
  const d = t.instance;
  const p = t.placement!;
  const primary = t.primary!;
  const on = copies.find((c) => c.node === primary);
  const spec = toSpec(d);
  const start = d.state === 'running';
  const ops: Operation[] = [];
  const container = on?.container;
  const disksMissing = (on?.volumes.length ?? 0) < d.disks.length;
  if (!container || !specMatches(container.specHash, spec) || disksMissing) {
    const kind = !container ? 'container-missing' : disksMissing ? 'disks-missing' : 'spec-changed';
    ops.push({ type: 'RecreateInstance', instance: d.name, primary, spec, generation: p.generation + 1, start, cause: { kind, node: primary }, ...healthOf(d) });
  } else if (start && container.state !== 'running') {
    ops.push({ type: 'StartInstance', instance: d.name, primary, cause: { kind: 'state-changed', want: 'running' }, ...healthOf(d) });
  } else if (!start && container.state === 'running') {
    ops.push({ type: 'StopInstance', instance: d.name, primary, cause: { kind: 'state-changed', want: 'stopped' } });
  }
  const s = t.secondary;
  if (s && s === p.secondary && up(s)) { // a secondary inside its grace stays degraded, untouched
    const why = syncCause(replicaHealth(d.disks.length, p, { up: true, volumes: replicaCount(copies.find((c) => c.node === s)?.volumes ?? []) }), timing);
    if (why) ops.push({ type: 'SyncDisks', instance: d.name, primary, secondary: s, cause: why });
  }
  return ops;
}

/** The check an operation that brings the instance back waits for (apply/steps.ts). */
const healthOf = (d: DesiredInstance): { health?: HealthCheck } => (d.health ? { health: d.health } : {});

/** Why the replica is synced now: it is degraded, or older than the Cluster's replication.interval. */
function syncCause(r: ReplicaHealth, timing: Timing): RepairCause | undefined {
  switch (r.kind) {
    case 'missing': return { kind: 'replica-missing', node: r.node };
    case 'never-synced': return { kind: 'replica-unsynced', node: r.node };
    case 'synced': {
      const age = timing.now - r.at;
      return age >= timing.replicationIntervalMs ? { kind: 'replica-stale', node: r.node, age, interval: timing.replicationIntervalMs } : undefined;
    }
    default: return undefined; // no secondary, or unreachable: nothing to sync to
  }
}
