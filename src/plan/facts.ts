/**
 * Facts the planner derives once per run: what each node can do now, and where each instance's
 * copies are. Pure functions over Desired + Observed + the store.
 */
import { capabilitiesOf } from '../drivers/backends.ts';
import type { DesiredCluster, DesiredNode } from '../model/desired.ts';
import type { ObservedContainer, ObservedVolume } from '../model/observed.ts';
import type { PlanInput } from './types.ts';
import type { StoreView } from '../store/types.ts';

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
  readonly failoverBlocked?: string;
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
export function failoverBlocked(cluster: DesiredCluster | undefined): string | undefined {
  if (!cluster) return 'the node is in no manifest';
  if (!cluster.failover.automatic) return `automatic failover is off in Cluster "${cluster.name}" (failover.automatic: false)`;
  if (!capabilitiesOf(cluster.backend).powerSwitch && !cluster.failover.fenceCommand) {
    return `Cluster "${cluster.name}" has no failover.fenceCommand, so the node cannot be fenced and nothing fails over`;
  }
  return undefined;
}

/** Why a node cannot take new instances or replicas, for messages. */
export function unusableWhy(f: NodeFacts | undefined): string {
  if (!f?.desired) return 'it is in no manifest';
  if (!f.up) return `it is unreachable (${f.error ?? 'no answer'})`;
  if (f.desired.offline) return 'it is offline';
  if (f.desired.drained) return 'it is drained';
  if (f.fenced) return 'it was fenced and its stale copies are not cleaned yet';
  if (f.held) return 'it failed too often lately and is held back';
  return 'it cannot take work now';
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
