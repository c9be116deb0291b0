/**
 * Builders for the planner's inputs, by hand: Desired (cluster, nodes, instances with every default
 * resolved), Observed (what each node shows) and a StoreView. Plus `settle()`, which turns a plan's
 * creates into the store and the nodes as an uninterrupted apply would leave them, so that tests can
 * re-plan "after apply" without running anything.
 */
import type { Desired, DesiredCluster, DesiredInstance, DesiredNetwork, DesiredNode, SourceLocation } from '../../src/model/desired.ts';
import type { Observed, ObservedContainer, ObservedNode, ObservedVolume } from '../../src/model/observed.ts';
import type { Operation } from '../../src/model/operations.ts';
import { specHash } from '../../src/model/hash.ts';
import { toSpec } from '../../src/plan/spec.ts';
import type { JobRecord, MachineRecord, NodeRecord, Placement, StoreView } from '../../src/store/types.ts';

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

export const src = (file: string, line = 1, column = 1): SourceLocation => ({ file, line, column });

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface ClusterOver extends Partial<Omit<DesiredCluster, 'failover' | 'policy' | 'reconcile'>> {
  readonly failover?: Partial<DesiredCluster['failover']>;
  readonly policy?: Partial<DesiredCluster['policy']>;
  readonly reconcile?: Partial<DesiredCluster['reconcile']>;
}

export function cluster(over: ClusterOver = {}): DesiredCluster {
  const { failover, policy, reconcile, ...rest } = over;
  return {
    name: 'lab',
    labels: {},
    backend: 'sim',
    defaults: { memory: 512 * MiB, vcpus: 1, image: 'busybox', diskTemplate: 'replicated', disks: [{ size: GiB, mount: '/data' }] },
    policy: { vcpuRatio: 4, memoryOvercommit: 1, redundancy: 'n+1', ...policy },
    reconcile: { intervalMs: 300_000, concurrency: { perNode: 4, total: 32 }, ...reconcile },
    failover: { automatic: true, nodeDownAfterMs: 60_000, ...failover },
    replication: { intervalMs: 3_600_000 }, // replicas synced in these fixtures are never due again within a test
    docker: { checkpointTimeoutMs: 30_000 },
    sim: { latencyMs: 0 },
    source: src('manifests/cluster.yaml'),
    ...rest,
  };
}

export function node(name: string, over: Partial<DesiredNode> = {}): DesiredNode {
  return {
    name,
    labels: {},
    cluster: 'lab',
    capacity: { memory: 8 * GiB, vcpus: 8, disk: 100 * GiB },
    group: 'default',
    drained: false,
    offline: false,
    source: src('manifests/nodes.yaml', 1, 1),
    ...over,
  };
}

export function instance(name: string, over: Partial<DesiredInstance> = {}): DesiredInstance {
  return {
    name,
    labels: {},
    cluster: 'lab',
    image: 'busybox',
    memory: 512 * MiB,
    vcpus: 1,
    diskTemplate: 'replicated',
    disks: [{ size: GiB, mount: '/data' }],
    state: 'running',
    antiAffinity: [],
    env: {},
    ports: [],
    source: src(`manifests/instances/${name}.yaml`, 2, 1),
    ...over,
  };
}

export function desired(nodes: readonly DesiredNode[], instances: readonly DesiredInstance[], c: DesiredCluster = cluster()): Desired {
  return {
    clusters: new Map([[c.name, c]]),
    nodes: new Map(nodes.map((n) => [n.name, n])),
    instances: new Map(instances.map((i) => [i.name, i])),
  };
}

/** A Network `lan` of cluster lab: 10.42.0.0/24, gateway .1, a pool of .100-.103 with .101 reserved, link br42. */
export function network(over: Partial<DesiredNetwork> = {}): DesiredNetwork {
  return {
    name: 'lan', labels: {}, cluster: 'lab', subnet: '10.42.0.0/24', gateway: '10.42.0.1',
    pool: { first: '10.42.0.100', last: '10.42.0.103' }, reserved: ['10.42.0.101'], link: 'br42',
    nodeLinks: {}, groupLinks: {}, mode: 'bridged', source: src('manifests/net.yaml'), ...over,
  };
}

export const withNetworks = (d: Desired, ...networks: DesiredNetwork[]): Desired => ({ ...d, networks: new Map(networks.map((n) => [n.name, n])) });

/** Replace instances (by name) in a Desired, leaving the rest. */
export function withInstances(d: Desired, ...changed: DesiredInstance[]): Desired {
  const instances = new Map(d.instances);
  for (const i of changed) instances.set(i.name, i);
  return { ...d, instances };
}

export function withNodes(d: Desired, ...changed: DesiredNode[]): Desired {
  const nodes = new Map(d.nodes);
  for (const n of changed) nodes.set(n.name, n);
  return { ...d, nodes };
}

export interface MutableStore extends StoreView {
  readonly placements: Map<string, Placement>;
  readonly nodes: Map<string, NodeRecord>;
  readonly machines: Map<string, MachineRecord>;
  readonly jobs: Map<string, JobRecord>;
}

export function store(placements: readonly Placement[] = [], nodes: readonly NodeRecord[] = []): MutableStore {
  return {
    placements: new Map(placements.map((p) => [p.instance, p])),
    nodes: new Map(nodes.map((n) => [n.name, n])),
    machines: new Map(),
    jobs: new Map(),
  };
}

export interface NodeView {
  health?: 'up' | 'unreachable';
  containers?: ObservedContainer[];
  volumes?: ObservedVolume[];
}

/** An Observed where every desired node is up and empty, unless `over` says otherwise. */
export function observed(d: Desired, over: Readonly<Record<string, NodeView>> = {}, at = 1_000_000): Observed {
  const nodes = new Map<string, ObservedNode>();
  for (const n of d.nodes.values()) {
    const v = over[n.name] ?? {};
    const health = v.health ?? 'up';
    nodes.set(n.name, {
      name: n.name,
      health,
      ...(health === 'up' ? { capacity: { memory: n.capacity?.memory ?? 0, vcpus: n.capacity?.vcpus ?? 0, disk: n.capacity?.disk ?? 0 } } : { error: 'unreachable (test)' }),
      containers: health === 'up' ? v.containers ?? [] : [],
      volumes: health === 'up' ? v.volumes ?? [] : [],
    });
  }
  return { at, nodes };
}

export const hashOf = (d: DesiredInstance): string => specHash(toSpec(d));

/**
 * The store and nodes an uninterrupted apply leaves for these placements: a container (running or
 * stopped as wanted, current spec) and primary volumes on the primary, replica volumes on the
 * secondary, synced. `down` nodes are reported unreachable (their copies invisible).
 */
export function settled(
  d: Desired,
  placements: readonly Placement[],
  options: { down?: readonly string[]; nodeRecords?: readonly NodeRecord[]; at?: number } = {},
): { store: MutableStore; observed: Observed } {
  const views: Record<string, Mutable<NodeView>> = {};
  const view = (n: string) => (views[n] ??= { containers: [], volumes: [] });
  for (const p of placements) {
    const i = d.instances.get(p.instance);
    if (!i) continue;
    view(p.primary).containers!.push({ instance: i.name, state: i.state === 'running' ? 'running' : 'stopped', specHash: hashOf(i), generation: p.generation, memory: i.memory, vcpus: i.vcpus });
    i.disks.forEach((disk, k) => {
      view(p.primary).volumes!.push({ instance: i.name, disk: k, role: 'primary', size: disk.size, generation: p.generation });
      if (p.secondary) view(p.secondary).volumes!.push({ instance: i.name, disk: k, role: 'replica', size: disk.size, generation: p.generation });
    });
  }
  for (const n of options.down ?? []) views[n] = { health: 'unreachable' };
  return { store: store(placements, options.nodeRecords ?? []), observed: observed(d, views, options.at) };
}

/** Placements as the creates of a plan make them (synced at `at`). */
export function placementsOf(ops: readonly Operation[], at = 1_000_000): Placement[] {
  return ops.flatMap((op) => op.type !== 'CreateInstance' ? [] : [{
    instance: op.instance, primary: op.primary, generation: op.generation,
    ...(op.secondary && { secondary: op.secondary, lastSync: { at, node: op.secondary } }),
  }]);
}

/** A placement with a synced replica. */
export function placed(instance: string, primary: string, secondary?: string, generation = 1, syncedAt = 900_000): Placement {
  return { instance, primary, generation, ...(secondary && { secondary, lastSync: { at: syncedAt, node: secondary } }) };
}

/** A node of an Observed built here, with its lists open to edits (to add stray copies). */
export function editable(o: Observed, name: string): { containers: ObservedContainer[]; volumes: ObservedVolume[] } {
  const n = o.nodes.get(name);
  if (!n) throw new Error(`no node ${name} in the observed state`);
  return n as unknown as { containers: ObservedContainer[]; volumes: ObservedVolume[] };
}
