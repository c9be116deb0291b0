/**
 * Where the soak's nodes live: the sim's world (read directly, read-only) or a Docker test bed of four
 * engines (each read through its unix socket). Either way the nodes are seen without Drover.
 */
import { SimWorld } from '../../src/drivers/sim/world.ts';
import { FENCE, IDLE, nodeIndex, runningCopies, upBed, type Bed } from '../../test/e2e-docker/helpers.ts';
import { CLUSTER, NODES, type ManifestSpec } from './cluster.ts';
import { cliIn } from './drover.ts';
import type { ContainerSeen, DataSeen, Probe, Running, VolumesSeen } from './invariants.ts';

export interface Backend extends ManifestSpec {
  readonly name: 'sim' | 'docker';
  /** env of every drover child (the fence script's test bed). */
  readonly env: Readonly<Record<string, string>>;
  killNode(node: string): Promise<void>;
  restoreNode(node: string): Promise<void>;
  probe(): Promise<Probe>;
  /** instance → live running nodes (a powered-off node runs nothing); for the double-run watcher. */
  running(): Promise<Running>;
  /** Change an instance's data on `node` (its primary); returns what its disk holds then. */
  write(node: string, instance: string, round: number): Promise<DataSeen>;
  /** What an instance's disk holds on `node`. */
  read(node: string, instance: string): Promise<DataSeen>;
  /** docker reads cost a helper container each: check a sample only. */
  readonly dataSample: number;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const push = <T>(m: Map<string, T[]>, k: string, v: T) => m.set(k, [...(m.get(k) ?? []), v]);

export async function openBackend(kind: 'sim' | 'docker', stateDir: string, manifests: string, base: number): Promise<Backend> {
  return kind === 'docker' ? dockerBackend(await upBed(NODES.length, base, 'drover-soak')) : simBackend(stateDir, manifests);
}

function simBackend(stateDir: string, manifests: string): Backend {
  const withWorld = <T>(fn: (w: SimWorld) => T): T => {
    const w = new SimWorld(stateDir, { readOnly: true });
    try { return fn(w); } finally { w.close(); }
  };
  const read = async (node: string, instance: string): Promise<DataSeen> => withWorld((w) => {
    const vs = [...w.node(node).volumes.values()].filter((v) => v.instance === instance);
    return { kind: 'version', version: vs.length ? Math.min(...vs.map((v) => v.dataVersion)) : -1 };
  });
  return {
    name: 'sim',
    clusterSpec: {
      backend: 'sim',
      defaults: { memory: '512M', vcpus: 1, image: 'busybox', diskTemplate: 'replicated', disks: [{ size: '1G', mount: '/data' }] },
      policy: { redundancy: 'n+1' },
      reconcile: { interval: '1m', concurrency: { perNode: 4, total: 12 } },
      failover: { automatic: true, nodeDownAfter: '2s', holdAfterFailures: 0 },
      replication: { interval: '10s' },
      sim: { latency: '50ms' },
    },
    nodeSpec: () => ({ capacity: { memory: '32G', vcpus: 32, disk: '500G' } }),
    instanceSpec: () => ({}),
    env: { DROVER_FSYNC: '0' },
    memories: ['512M', '768M'],
    async killNode(n) { await cliIn(['sim', 'fail-node', n, '--state-dir', stateDir]); },
    async restoreNode(n) { await cliIn(['sim', 'restore-node', n, '--state-dir', stateDir]); },
    probe: async () => withWorld((w) => {
      const healthy = new Map<string, boolean>();
      const containers = new Map<string, ContainerSeen[]>();
      const volumes = new Map<string, VolumesSeen[]>();
      for (const n of NODES) {
        const f = w.flagsOf(n);
        healthy.set(n, !f.failed && !f.fenced);
        for (const c of w.node(n).containers.values()) push(containers, c.instance, { node: n, running: c.state === 'running' && !f.fenced });
        for (const v of w.node(n).volumes.values()) push(volumes, v.instance, { node: n, role: v.role });
      }
      return { healthy, containers, volumes };
    }),
    running: async () => withWorld((w) => {
      const m = new Map<string, string[]>();
      for (const n of NODES) {
        if (w.flagsOf(n).fenced) continue; // powered off: the sim stopped its containers
        for (const c of w.node(n).containers.values()) if (c.state === 'running') push(m, c.instance, n);
      }
      return m;
    }),
    async write(node, instance) {
      const r = await cliIn(['sim', 'write', instance, manifests, '--state-dir', stateDir]);
      if (r.code !== 0) throw new Error(`sim write ${instance}: ${r.err}`);
      return read(node, instance);
    },
    read,
    dataSample: Infinity,
    async close() {},
  };
}

function dockerBackend(bed: Bed): Backend {
  const probeNode = async (i: number) => {
    const e = bed.engine(i);
    const t = <T>(p: Promise<T>) => Promise.race([p, sleep(3000).then(() => { throw new Error('timeout'); })]);
    const [cs, vs] = await Promise.all([
      t(e.listContainers({ all: true, filters: { label: [`drover.cluster=${CLUSTER}`] } })),
      t(e.listVolumes({ filters: { label: [`drover.cluster=${CLUSTER}`] } })),
    ]);
    return { cs: cs.filter((c) => c.Labels['drover.helper'] === undefined), vs: vs.Volumes ?? [] };
  };
  return {
    name: 'docker',
    clusterSpec: {
      backend: 'docker',
      defaults: { memory: '32M', vcpus: 1, image: bed.image, diskTemplate: 'replicated', disks: [{ size: '64M', mount: '/data' }] },
      policy: { vcpuRatio: 16, memoryOvercommit: 1.0, redundancy: 'n+1' },
      reconcile: { interval: '1m', concurrency: { perNode: 4, total: 12 } },
      failover: { automatic: true, nodeDownAfter: '2s', fenceCommand: [FENCE], holdAfterFailures: 0 },
      replication: { interval: '20s' },
    },
    nodeSpec: (n) => ({ endpoint: bed.endpoint(nodeIndex(n)) }),
    instanceSpec: (name) => ({ command: IDLE, env: { INSTANCE: name } }),
    env: { ...bed.env },
    memories: ['32M', '40M'],
    async killNode(n) { await bed.run('kill', String(nodeIndex(n))); },
    async restoreNode(n) { await bed.run('restore', String(nodeIndex(n))); },
    async probe() {
      const healthy = new Map<string, boolean>();
      const containers = new Map<string, ContainerSeen[]>();
      const volumes = new Map<string, VolumesSeen[]>();
      await Promise.all(NODES.map(async (n) => {
        let r;
        try { r = await probeNode(nodeIndex(n)); } catch { healthy.set(n, false); return; }
        healthy.set(n, true);
        for (const c of r.cs) {
          const inst = c.Labels['drover.instance'];
          if (inst) push(containers, inst, { node: n, running: c.State === 'running' });
        }
        const roles = new Map<string, string>();
        for (const v of r.vs) if (v.Name.endsWith('-meta')) roles.set(v.Labels['drover.instance']!, v.Labels['drover.role'] ?? '?');
        const seen = new Set<string>();
        for (const v of r.vs) {
          const inst = v.Labels['drover.instance'];
          if (!inst || seen.has(inst)) continue;
          seen.add(inst);
          push(volumes, inst, { node: n, role: roles.get(inst) ?? '?' });
        }
      }));
      return { healthy, containers, volumes };
    },
    async running() {
      const { copies } = await runningCopies(bed, CLUSTER, 2000);
      return new Map([...copies].map(([i, cs]) => [i, cs.map((c) => c.node)]));
    },
    async write(node, instance, round) {
      const files = { [`soak/r${round}.txt`]: `${instance} round ${round}` };
      await bed.data.write(node, instance, 0, files);
      return { kind: 'files', files };
    },
    read: async (node, instance) => ({ kind: 'files', files: await bed.data.read(node, instance, 0) }),
    dataSample: 6,
    close: () => bed.down(),
  };
}
