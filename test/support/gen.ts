/**
 * Seeded cluster generator for tests and benchmarks (ganeti.md §9.4's recipe): N nodes of 256 GiB
 * (4 GiB for the node), 4 TiB disk, 64 cores; DRBD instances of 1/2/4/8 GiB (10 GiB disk per GiB,
 * one vCPU per GiB) placed at random, the first 30 % of nodes three times as likely; vcpu-ratio 8.
 */
import type { GanetiCluster, GanetiInstance, GanetiNode } from '../../src/alloc/ganeti-text.ts';
import { rng } from './rng.ts';


export function generateCluster(nodes: number, perNode = 20, seed = 1): GanetiCluster {
  const r = rng(seed);
  const names = Array.from({ length: nodes }, (_, i) => `node-${String(i + 1).padStart(4, '0')}`);
  const tMem = 262144, nMem = 4096, tDsk = 4194304, cpus = 64;
  const used = names.map(() => ({ mem: 0, dsk: 0 }));
  const hot = Math.max(1, Math.floor(nodes * 0.3));
  const pick = (): number => {
    // weight 3 for the first 30 %, 1 for the rest
    const w = hot * 3 + (nodes - hot);
    let x = r() * w;
    if (x < hot * 3) return Math.floor(x / 3);
    x -= hot * 3;
    return hot + Math.floor(x);
  };
  const instances: GanetiInstance[] = [];
  for (let i = 0; i < nodes * perNode; i++) {
    const size = [1, 2, 4, 8][Math.floor(r() * 4)]!;
    const mem = size * 1024, dsk = size * 10240;
    let p = pick(), s = pick(), tries = 0;
    while ((s === p || used[p]!.mem + mem > tMem - nMem - 8192 || used[p]!.dsk + dsk > tDsk || used[s]!.dsk + dsk > tDsk) && tries++ < 100) {
      p = pick();
      s = pick();
    }
    if (tries >= 100) continue;
    used[p]!.mem += mem;
    used[p]!.dsk += dsk;
    used[s]!.dsk += dsk;
    instances.push({
      name: `inst-${String(i).padStart(6, '0')}`, memory: mem, disk: dsk, vcpus: size, status: 'running', autoBalance: true,
      primary: names[p]!, secondary: names[s]!, template: 'drbd', tags: [], spindleUse: 1, diskSpindles: '-', forthcoming: false, columns: 13,
    });
  }
  const nodeList: GanetiNode[] = names.map((name, i) => ({
    name, totalMemory: tMem, nodeMemory: nMem, freeMemory: tMem - nMem - used[i]!.mem, totalDisk: tDsk, freeDisk: tDsk - used[i]!.dsk,
    cpus, role: i === 0 ? 'M' : 'N', groupUuid: 'uuid-g1', spindles: 1, tags: [], exclusiveStorage: false, freeSpindles: 0,
    nodeCpus: 1, cpuSpeed: 1, unknownResources: false, columns: 15,
  }));
  const spec = { memory: 1024, cpus: 1, diskSize: 10240, diskCount: 1, nicCount: 1, spindleUse: 1 };
  const max = { memory: 65536, cpus: 16, diskSize: 1048576, diskCount: 16, nicCount: 8, spindleUse: 12 };
  const policy = (owner: string) => ({ owner, std: spec, minMax: [{ min: { ...spec, memory: 128, diskSize: 1024 }, max }], diskTemplates: ['drbd', 'plain', 'diskless'], vcpuRatio: 8, spindleRatio: 32 });
  return {
    groups: [{ name: 'group-01', uuid: 'uuid-g1', allocPolicy: 'preferred', tags: [], networks: [], columns: 5 }],
    nodes: nodeList, instances, clusterTags: [], policies: [policy(''), policy('group-01')], trailer: '',
  };
}

/** The empty cluster `hspace --simulate=p,N,DISK,MEM,CPUS,SPINDLES` builds (sizes in MiB), with Ganeti's default ipolicy. */
export function simulatedCluster(n: number, diskMiB: number, memMiB: number, cpus: number, spindles = 1): GanetiCluster {
  const nodes: GanetiNode[] = Array.from({ length: n }, (_, i) => ({
    name: `node-01-${String(i + 1).padStart(3, '0')}`, totalMemory: memMiB, nodeMemory: 0, freeMemory: memMiB, totalDisk: diskMiB,
    freeDisk: diskMiB, cpus, role: i === 0 ? 'M' : 'N', groupUuid: 'fake-uuid-01', spindles, tags: [], exclusiveStorage: false,
    freeSpindles: 0, nodeCpus: 1, cpuSpeed: 1, unknownResources: false, columns: 15,
  }));
  const std = { memory: 128, cpus: 1, diskSize: 1024, diskCount: 1, nicCount: 1, spindleUse: 1 };
  const max = { memory: 32768, cpus: 8, diskSize: 1048576, diskCount: 16, nicCount: 8, spindleUse: 12 };
  const templates = ['diskless', 'file', 'sharedfile', 'plain', 'blockdev', 'drbd', 'rbd', 'ext', 'gluster'];
  const policy = (owner: string) => ({ owner, std, minMax: [{ min: std, max }], diskTemplates: templates, vcpuRatio: 4, spindleRatio: 32 });
  return {
    groups: [{ name: 'group-01', uuid: 'fake-uuid-01', allocPolicy: 'preferred', tags: [], networks: [], columns: 5 }],
    nodes, instances: [], clusterTags: [], policies: [policy(''), policy('group-01')], trailer: '',
  };
}
