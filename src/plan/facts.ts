/**
 * Facts the planner derives once per run: what each node can do now, and where each instance's
 * copies are. Pure functions over Desired + Observed + the store.
 */
import { capabilitiesOf } from '../drivers/backends.ts';
import type { FailoverBlock, Unfit } from '../model/causes.ts';
import type { DesiredCluster, DesiredNode, NodeCapacity } from '../model/desired.ts';
import type { ObservedContainer, ObservedReplication, ObservedVolume } from '../model/observed.ts';
import type { Pending, PlanInput } from './types.ts';
import type { Placement, StoreView } from '../store/types.ts';

export interface NodeFacts {
  readonly name: string;
  readonly desired?: DesiredNode;
  readonly cluster?: DesiredCluster;
  readonly up: boolean;
  readonly nodeDownSince?: number;
  /** Powered off by Drover; takes no work until its stale copies are gone. */
  readonly fenced: boolean;
  /** Can take new instances and replicas. */
  readonly usable: boolean;
  /** Failed too often lately: keeps what it holds, but the allocator gives it nothing new. */
  readonly held: boolean;
  /** Gone for good as far as failover is concerned (past the grace, or declared offline). */
  readonly dead: boolean;
  /** When `dead` will become true if the node stays down. */
  readonly deadAt?: number;
  /** Why a dead node's instances cannot fail over, if they cannot. */
  readonly failoverBlocked?: FailoverBlock;
  readonly error?: string;
}

export interface Copy {
  readonly node: string;
  readonly container?: ObservedContainer;
  readonly volumes: readonly ObservedVolume[];
}

export function nodeFacts(input: PlanInput): Map<string, NodeFacts> {
  const facts = new Map<string, NodeFacts>();
  const names = new Set([...input.desired.nodes.keys(), ...input.observed.nodes.keys()]);
  for (const name of names) facts.set(name, factsOf(name, input));
  return facts;
}

function factsOf(name: string, input: PlanInput): NodeFacts {
  const desired = input.desired.nodes.get(name);
  const cluster = desired ? input.desired.clusters.get(desired.cluster) : undefined;
  const observed = input.observed.nodes.get(name);
  const record = input.store.nodes.get(name);
  const up = observed?.health === 'up';
  const fenced = record?.fencedAt !== undefined;
  const usable = up && !!desired && !desired.drained && !desired.offline && !fenced;
  const held = (record?.holdUntil ?? 0) > input.now;
  const base = { name, up, fenced, usable, held, ...(desired && { desired }), ...(cluster && { cluster }), ...(observed?.error && { error: observed.error }) };
  if (up) return { ...base, dead: false };
  const since = record?.nodeDownSince ?? input.now;
  const deadAt = desired?.offline ? since : since + (cluster?.failover.nodeDownAfterMs ?? 0);
  const blocked = failoverBlocked(cluster);
  return {
    ...base,
    nodeDownSince: since,
    dead: fenced || input.now >= deadAt,
    deadAt,
    ...(blocked && { failoverBlocked: blocked }),
  };
}

/** Why a dead node's instances could not fail over in this cluster, if they could not. */
export function failoverBlocked(cluster: DesiredCluster | undefined): FailoverBlock | undefined {
  if (!cluster) return { kind: 'no-manifest' };
  if (!cluster.failover.automatic) return { kind: 'automatic-off', cluster: cluster.name };
  if (!capabilitiesOf(cluster.backend).powerSwitch && !cluster.failover.fenceCommand) {
    return { kind: 'no-fence', cluster: cluster.name };
  }
  return undefined;
}

/** Why a node cannot take new instances or replicas. */
export function unfitness(f: NodeFacts | undefined): Unfit {
  if (!f?.desired) return { kind: 'no-manifest' };
  if (!f.up) return { kind: 'unreachable', ...(f.error && { error: f.error }) };
  if (f.desired.offline) return { kind: 'offline' };
  if (f.desired.drained) return { kind: 'drained' };
  if (f.fenced) return { kind: 'fenced' };
  if (f.held) return { kind: 'held' };
  return { kind: 'busy' };
}

/** A node's capacity: what its manifest says, else what the node reports, else nothing. */
export function nodeCapacity(desired: DesiredNode, observed: NodeCapacity | undefined): NodeCapacity {
  return {
    memory: desired.capacity?.memory ?? observed?.memory ?? 0,
    vcpus: desired.capacity?.vcpus ?? observed?.vcpus ?? 0,
    disk: desired.capacity?.disk ?? observed?.disk ?? 0,
  };
}

/**
 * The state of a replicated instance's replica (the degraded-replica rule): anything but `synced`
 * is degraded. `secondary` is what its node shows: whether it answers and how many of the
 * instance's disks it holds as replicas (replicaCount).
 */
export type ReplicaHealth =
  | { readonly kind: 'synced'; readonly node: string; readonly at: number }
  | { readonly kind: 'no-secondary' }
  | { readonly kind: 'unreachable'; readonly node: string }
  | { readonly kind: 'missing'; readonly node: string; readonly missing: number; readonly of: number }
  | { readonly kind: 'never-synced'; readonly node: string };

/**
 * The instance's volumes on its secondary that are replicas. A volume still marked primary there
 * (a migration whose source died before it was demoted) is no replica: the next sync makes it one.
 */
export const replicaCount = (volumes: readonly Pick<ObservedVolume, 'role'>[]): number => volumes.filter((v) => v.role === 'replica').length;

export function replicaHealth(
  disks: number,
  placement: Pick<Placement, 'secondary' | 'lastSync'>,
  secondary: { readonly up: boolean; readonly volumes: number },
): ReplicaHealth {
  const node = placement.secondary;
  if (!node) return { kind: 'no-secondary' };
  if (!secondary.up) return { kind: 'unreachable', node };
  if (secondary.volumes < disks) return { kind: 'missing', node, missing: disks - secondary.volumes, of: disks };
  if (placement.lastSync?.node !== node) return { kind: 'never-synced', node };
  return { kind: 'synced', node, at: placement.lastSync.at };
}

/** instance → its copies on reachable nodes. */
export function copiesByInstance(input: PlanInput): Map<string, Copy[]> {
  const byInstance = new Map<string, Map<string, { container?: ObservedContainer; volumes: ObservedVolume[] }>>();
  const at = (instance: string, node: string) => {
    let nodes = byInstance.get(instance);
    if (!nodes) byInstance.set(instance, (nodes = new Map()));
    let c = nodes.get(node);
    if (!c) nodes.set(node, (c = { volumes: [] }));
    return c;
  };
  for (const n of input.observed.nodes.values()) {
    for (const c of n.containers) at(c.instance, n.name).container = c;
    for (const v of n.volumes) at(v.instance, n.name).volumes.push(v);
  }
  const out = new Map<string, Copy[]>();
  for (const [instance, nodes] of byInstance) {
    out.set(instance, [...nodes].map(([node, c]) => ({ node, volumes: c.volumes, ...(c.container && { container: c.container }) })));
  }
  return out;
}

/** Instances with an operation in flight (resumed before anything is planned for them). */
export function instancesInFlight(store: StoreView): ReadonlySet<string> {
  return new Set([...store.machines.values()].map((m) => m.op.instance));
}

/** The partition guard's state in one cluster while it stops automatic failover. */
export interface PartitionGuard {
  readonly cluster: string;
  readonly unreachable: number;
  readonly nodes: number;
  readonly limit: number;
}

/** What the guard needs of a node: whether it answers, and whether its absence is already decided. */
export interface GuardNode {
  readonly up: boolean;
  /** Powered off by Drover, or declared offline: gone by decision, not a symptom of a partition. */
  readonly settled: boolean;
}

/** Cluster settings built by hand (tests, bench) may omit the share: Drover's default. */
export const DEFAULT_MAX_UNREACHABLE_SHARE = 0.5;

/**
 * Kubernetes' unhealthy-zone rule for failover: one node's loss is one event and always fails over,
 * but when more than `failover.maxUnreachableShare` of a cluster's nodes stop answering at once, the
 * likelier story is that this master is the one cut off, and failing everything over would only
 * fence healthy nodes. Nodes already fenced or declared offline are left out of both counts.
 */
export function partitionGuard(cluster: DesiredCluster, nodes: readonly GuardNode[]): PartitionGuard | undefined {
  const counted = nodes.filter((n) => !n.settled);
  const unreachable = counted.filter((n) => !n.up).length;
  const limit = cluster.failover.maxUnreachableShare ?? DEFAULT_MAX_UNREACHABLE_SHARE;
  if (unreachable < 2 || unreachable / counted.length <= limit) return undefined;
  return { cluster: cluster.name, unreachable, nodes: counted.length, limit };
}

/** The guard of `cluster` from the planner's node facts. */
export function guardOf(cluster: DesiredCluster, facts: ReadonlyMap<string, NodeFacts>): PartitionGuard | undefined {
  const nodes = [...facts.values()].filter((f) => f.desired?.cluster === cluster.name);
  return partitionGuard(cluster, nodes.map((f) => ({ up: f.up, settled: f.fenced || f.desired!.offline })));
}

/** The partition guards behind a plan's pending work, one per cluster (what `watch` reports). */
export function guardsIn(pending: readonly Pending[]): PartitionGuard[] {
  const byCluster = new Map<string, PartitionGuard>();
  for (const { cause: c } of pending) {
    if (c.kind === 'partition-guard') byCluster.set(c.cluster, { cluster: c.cluster, unreachable: c.unreachable, nodes: c.nodes, limit: c.limit });
  }
  return [...byCluster.values()];
}

/**
 * What a look at a VM's mirror (its primary's QEMU) makes of the placement's last sync: seen in sync, the
 * replica is good as of now; seen ended after being in sync, replication stopped at the last time it was
 * seen in sync. Only once a sync to this secondary is recorded (a mirror still running into an old
 * secondary says nothing of the new one). Unchanged otherwise (a container, not seen, never mirrored).
 */
export const MIRROR_RESEEN_MS = 5_000;

export function mirroredSync(p: Placement, seen: ObservedReplication | undefined, now: number): Placement['lastSync'] {
  const last = p.lastSync;
  if (!seen || seen.kind === 'increments' || !p.secondary || last?.node !== p.secondary) return last;
  if (seen.kind === 'in-sync') {
    // seen again soon after: kept (no store write per look); a stop is then dated up to this much early, never late
    if (last.mirror === 'in-sync' && now - last.at < MIRROR_RESEEN_MS) return last;
    return { at: Math.max(now, last.at), node: last.node, mirror: 'in-sync' };
  }
  // a full copy under way (`copying`) is a sync in progress, not a stop: left as it is
  return seen.kind === 'stopped' && last.mirror === 'in-sync' ? { ...last, mirror: 'stopped' } : last;
}

/**
 * What a failover would lose now: `none-lost` while a synchronous mirror is in sync (as seen now, or as last
 * seen when the primary cannot be asked), else the writes since `at`; `unsynced` without a synced replica.
 */
export type RecoveryState =
  | { readonly kind: 'none-lost' }
  | { readonly kind: 'since'; readonly at: number }
  | { readonly kind: 'unsynced' };

export function recoveryState(p: Pick<Placement, 'secondary' | 'lastSync'> | undefined, seen: ObservedReplication | undefined): RecoveryState {
  const last = p?.lastSync;
  if (!p?.secondary || last?.node !== p.secondary) return { kind: 'unsynced' };
  const inSync = seen ? seen.kind === 'in-sync' : last.mirror === 'in-sync';
  return inSync ? { kind: 'none-lost' } : { kind: 'since', at: last.at };
}
