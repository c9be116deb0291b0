/** Generated clusters for benchmarks: N nodes, M instances, as Desired plus a matching world. */
import type { Desired, DesiredCluster, DesiredInstance, DesiredNode } from '../src/model/desired.ts';
import type { Observed, ObservedNode } from '../src/model/observed.ts';
import type { Operation } from '../src/model/operations.ts';
import { specHash } from '../src/model/hash.ts';
import type { Placement, StoreView } from '../src/store/types.ts';

const GiB = 1024 ** 3;
const source = { file: 'bench', line: 1, column: 1 };

export function cluster(total = 256, perNode = 8): DesiredCluster {
  return {
    name: 'bench', labels: {}, backend: 'sim', source,
    defaults: { memory: GiB / 2, vcpus: 1, image: 'busybox', diskTemplate: 'replicated', disks: [{ size: GiB, mount: '/data' }] },
    policy: { vcpuRatio: 4, memoryOvercommit: 1, redundancy: 'n+1' },
    reconcile: { intervalMs: 300_000, concurrency: { perNode, total } },
    failover: { automatic: true, nodeDownAfterMs: 30_000 },
    replication: { intervalMs: 60_000 },
    docker: { checkpointTimeoutMs: 30_000 },
    sim: { latencyMs: 0 },
  };
}

export function generate(nodes: number, instances: number, c = cluster()): Desired {
  const ns: DesiredNode[] = [];
  for (let i = 0; i < nodes; i++) {
    ns.push({ name: `node${i}`, labels: {}, cluster: c.name, capacity: { memory: 64 * GiB, vcpus: 32, disk: 2000 * GiB }, group: 'default', drained: false, offline: false, source });
  }
  const is: DesiredInstance[] = [];
  for (let i = 0; i < instances; i++) {
    is.push({
      name: `inst${i}`, labels: {}, cluster: c.name, image: 'busybox', memory: (1 + (i % 4)) * GiB / 2, vcpus: 1 + (i % 2),
      diskTemplate: i % 10 === 0 ? 'plain' : 'replicated', disks: [{ size: (1 + (i % 3)) * GiB, mount: '/data' }], state: 'running',
      antiAffinity: [], env: {}, ports: [], source,
    });
  }
  return { clusters: new Map([[c.name, c]]), nodes: new Map(ns.map((n) => [n.name, n])), instances: new Map(is.map((x) => [x.name, x])) };
}

export function emptyWorld(d: Desired): { observed: Observed; store: StoreView } {
  const nodes = new Map<string, ObservedNode>();
  for (const n of d.nodes.values()) nodes.set(n.name, { name: n.name, health: 'up', capacity: { memory: n.capacity!.memory!, vcpus: n.capacity!.vcpus!, disk: n.capacity!.disk! }, containers: [], volumes: [] });
  return { observed: { at: 0, nodes }, store: { placements: new Map(), nodes: new Map(), machines: new Map() } };
}

/** The world as it would be once the plan's CreateInstance operations ran. */
export function convergedWorld(d: Desired, ops: readonly Operation[]): { observed: Observed; store: StoreView } {
  const { observed } = emptyWorld(d);
  const placements = new Map<string, Placement>();
  const at = (n: string) => observed.nodes.get(n) as unknown as { containers: unknown[]; volumes: unknown[] }; // built here, mutable until returned
  for (const op of ops) {
    if (op.type !== 'CreateInstance') continue;
    placements.set(op.instance, { instance: op.instance, primary: op.primary, ...(op.secondary && { secondary: op.secondary }), generation: op.generation, ...(op.secondary && { lastSync: { at: 0, node: op.secondary } }) });
    at(op.primary).containers.push({ instance: op.instance, state: 'running', specHash: specHash(op.spec), generation: op.generation });
    op.spec.disks.forEach((disk, i) => {
      at(op.primary).volumes.push({ instance: op.instance, disk: i, role: 'primary', size: disk.size, generation: op.generation });
      if (op.secondary) at(op.secondary).volumes.push({ instance: op.instance, disk: i, role: 'replica', size: disk.size, generation: op.generation });
    });
  }
  return { observed, store: { placements, nodes: new Map(), machines: new Map() } };
}
