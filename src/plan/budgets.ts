/**
 * Disruption budgets: instances of a cluster that share an antiAffinity value form a group, and
 * Drover's own changes take at most the cluster's `reconcile.maxUnavailable` of a group's members
 * down at once. Members already down (not running, unhealthy, on a down node, or mid-operation)
 * count against it, as Kubernetes counts them; their own repairs (a failover among them) are never
 * held back, since they take nothing more down.
 *
 * Level-triggered: the plan runs wave 1 only, and says which waves follow; the rest of the group
 * waits as pending work and is planned again next round, from what the nodes then show. So a
 * master killed mid-update resumes the machine in flight (it counts as down meanwhile) and never
 * starts a member early: nothing of the rolling update lives anywhere but on the nodes.
 */
import type { HoldCause } from '../model/causes.ts';
import type { Budget, DesiredCluster, DesiredInstance } from '../model/desired.ts';
import type { Disruption, Operation } from '../model/operations.ts';
import type { StoreView } from '../store/types.ts';
import type { Copy, NodeFacts } from './facts.ts';
import type { Pending } from './types.ts';

/**
 * Recreate and a cold move take the instance down; so does a migration that is not forecast to be
 * live (a live one that falls back to cold goes down briefly: counted as live, said in the journal).
 * Failover starts an instance that is already down; start and stop alone are the manifest's own
 * wish about the instance, not a disruption of a running service.
 */
export function disruptionOf(op: Operation): Disruption {
  switch (op.type) { // every type named: a new one must say whether it takes its instance down
    case 'RecreateInstance': case 'RestartInstance': case 'ModifyInstance': case 'GrowDisk': return op.disruption;
    case 'MoveInstance': return 'restart';
    case 'RenameInstance': return op.disruption; // the backend's: in place on sim, a restart on docker
    case 'MigrateInstance': return op.start && op.expected?.path !== 'live' ? 'restart' : 'none';
    case 'CreateInstance': case 'SyncDisks': case 'StartInstance': case 'StopInstance': case 'FailoverInstance':
    case 'ReplaceSecondary': case 'RemoveInstance': case 'RemoveOrphan': return 'none';
  }
}

/** One instance's operations, in order: disruptive if one of them is, or if it stops and starts again. */
export function chainDisruption(chain: readonly Operation[]): Disruption {
  const worst = chain.map(disruptionOf);
  if (worst.includes('recreate')) return 'recreate';
  if (worst.includes('restart')) return 'restart';
  const stop = chain.findIndex((op) => op.type === 'StopInstance');
  return stop >= 0 && chain.slice(stop).some((op) => op.type === 'StartInstance') ? 'restart' : 'none';
}

/** The members a budget of `budget` lets be down at once, out of `members` (a share is rounded up). */
export function budgetLimit(budget: Budget | undefined, members: number): number {
  if (!budget) return 1;
  const n = 'count' in budget ? budget.count : Math.ceil((budget.percent * members) / 100);
  return Math.max(1, n); // resolve/ refuses 0; a model built by hand never deadlocks
}

export interface BudgetInput {
  readonly cluster: DesiredCluster;
  /** The cluster's instances, those in flight too (the running ones are the groups' members). */
  readonly instances: readonly DesiredInstance[];
  /** Each instance's operations this round. */
  readonly chains: readonly (readonly Operation[])[];
  readonly copies: ReadonlyMap<string, readonly Copy[]>;
  readonly facts: ReadonlyMap<string, NodeFacts>;
  readonly store: StoreView;
}

export interface Waves {
  /** Chains to run this round: everything outside a budget, and the first wave. */
  readonly now: readonly (readonly Operation[])[];
  /** Chains of later waves: shown by the plan, run once the waves before them run again. */
  readonly deferred: readonly (readonly Operation[])[];
  /** instance → its wave, for instances whose chain takes a group member down (1 = now). */
  readonly waves: ReadonlyMap<string, number>;
  readonly pending: readonly Pending[];
}

interface Group {
  readonly name: string;
  readonly members: readonly string[];
  readonly limit: number;
  /** Members down now; then, wave by wave, the members each wave takes down. */
  readonly down: readonly string[];
  readonly load: string[][];
}

export function assignWaves(input: BudgetInput): Waves {
  const groups = groupsOf(input);
  const down = new Set(groups.flatMap((g) => g.down));
  const waves = new Map<string, number>();
  const pending: Pending[] = [];
  const candidates = input.chains
    .filter((c) => inGroups(groups, c[0]!.instance).length && !down.has(c[0]!.instance) && chainDisruption(c) !== 'none')
    .sort((a, b) => (a[0]!.instance < b[0]!.instance ? -1 : 1));
  for (const chain of candidates) {
    const instance = chain[0]!.instance;
    const mine = inGroups(groups, instance);
    const full = (g: Group, w: number) => (g.load[w]?.length ?? 0) >= (w === 1 ? g.limit - g.down.length : g.limit);
    let wave = 1;
    while (mine.some((g) => full(g, wave))) wave++;
    const blocking = mine.find((g) => full(g, 1));
    for (const g of mine) (g.load[wave] ??= []).push(instance);
    waves.set(instance, wave);
    if (blocking) pending.push({ instance, cause: held(blocking, wave) });
  }
  const later = (c: readonly Operation[]) => (waves.get(c[0]!.instance) ?? 1) > 1;
  return { now: input.chains.filter((c) => !later(c)), deferred: input.chains.filter(later), waves, pending };
}

function held(g: Group, wave: number): HoldCause {
  return { kind: 'disruption-budget', group: g.name, limit: g.limit, unavailable: [...g.down, ...(g.load[1] ?? [])], wave };
}

const inGroups = (groups: readonly Group[], instance: string): Group[] => groups.filter((g) => g.members.includes(instance));

/** The cluster's groups: running members by antiAffinity value, with their budget and who is down. */
function groupsOf(input: BudgetInput): Group[] {
  const byTag = new Map<string, string[]>();
  for (const d of input.instances) {
    if (d.state !== 'running') continue;
    for (const tag of d.antiAffinity) byTag.set(tag, [...(byTag.get(tag) ?? []), d.name]);
  }
  const unavailable = unavailableMembers(input);
  return [...byTag].filter(([, members]) => members.length > 1).map(([name, members]) => ({
    name, members, limit: budgetLimit(input.cluster.reconcile.maxUnavailable, members.length),
    down: members.filter((m) => unavailable.has(m)), load: [],
  }));
}

/**
 * Members not serving now: mid-operation (a machine in flight that takes them down), not placed,
 * primary down, container missing or stopped, or failing their health check.
 */
function unavailableMembers(input: BudgetInput): Set<string> {
  const out = new Set<string>();
  for (const m of input.store.machines.values()) {
    if (chainDisruption([m.op]) !== 'none' || m.op.type === 'FailoverInstance') out.add(m.op.instance);
  }
  for (const d of input.instances) {
    const p = input.store.placements.get(d.name);
    const container = p && input.facts.get(p.primary)?.up ? input.copies.get(d.name)?.find((c) => c.node === p.primary)?.container : undefined;
    if (container?.state !== 'running' || container.health?.ok === false) out.add(d.name);
  }
  return out;
}
