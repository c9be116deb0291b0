/**
 * Ganeti text clusters ↔ Drover's ClusterModel. What the model cannot represent is refused with the
 * file line: disk templates other than drbd (→ replicated), plain and diskless; exclusive storage.
 * htools' tag conventions become model fields: `htools:iextags:P` → antiAffinity (instance tags
 * starting with P), `htools:nlocation:P` → node locationTags, `htools:desiredlocation:P` →
 * desiredLocation. Migration tags (`htools:migration`) restrict hbal's moves and are not modelled.
 */
import type { ClusterModel, InstanceModel, NodeModel } from './model.ts';
import { GanetiTextError, type GanetiCluster, type GanetiInstance, type GanetiNode } from './ganeti-text.ts';

export const MiB = 2 ** 20;

const TEMPLATES: Readonly<Record<string, 'replicated' | 'plain' | 'diskless'>> = {
  drbd: 'replicated', plain: 'plain', diskless: 'diskless',
};

function prefixes(tags: readonly string[], kind: string): string[] {
  const p = `htools:${kind}:`;
  return tags.filter((t) => t.startsWith(p)).map((t) => t.slice(p.length));
}

function matching(tags: readonly string[], prefixList: readonly string[]): string[] {
  return prefixList.length === 0 ? [] : tags.filter((t) => prefixList.some((p) => t.startsWith(p)));
}

/** Whether Ganeti counts this instance's memory on its primary (htools' usesMemory). */
function usesMemory(i: GanetiInstance): boolean {
  return i.status !== 'ADMIN_offline' && !i.forthcoming;
}

export function ganetiToModel(gc: GanetiCluster, file = '<input>'): ClusterModel {
  const groupName = new Map(gc.groups.map((g) => [g.uuid, g.name]));
  const iex = prefixes(gc.clusterTags, 'iextags');
  const loc = prefixes(gc.clusterTags, 'nlocation');
  const dloc = prefixes(gc.clusterTags, 'desiredlocation');
  const iMem = new Map<string, number>();
  for (const i of gc.instances) if (usesMemory(i)) iMem.set(i.primary, (iMem.get(i.primary) ?? 0) + i.memory);
  const nodes = new Map<string, NodeModel>();
  for (const n of gc.nodes) {
    if (n.exclusiveStorage) throw new GanetiTextError(file, n.line ?? 0, `node ${n.name}: exclusive storage is not supported by Drover's model`);
    const offline = n.role === 'Y' || n.unknownResources;
    nodes.set(n.name, {
      name: n.name,
      group: groupName.get(n.groupUuid) ?? n.groupUuid,
      memory: n.totalMemory * MiB,
      vcpus: n.cpus,
      disk: n.totalDisk * MiB,
      drained: false,
      offline,
      labels: {},
      nodeMemory: n.nodeMemory * MiB,
      // Ganeti's x_mem: what the node reports used beyond its own and its instances' memory.
      unaccountedMemory: (n.totalMemory - n.nodeMemory - n.freeMemory - (iMem.get(n.name) ?? 0)) * MiB,
      freeDisk: n.freeDisk * MiB,
      nodeVcpus: n.nodeCpus,
      cpuSpeed: n.cpuSpeed,
      spindles: n.spindles,
      locationTags: matching(n.tags, loc),
    });
  }
  const instances = new Map<string, InstanceModel>();
  for (const i of gc.instances) {
    const t = TEMPLATES[i.template];
    if (t === undefined) {
      throw new GanetiTextError(file, i.line ?? 0, `instance ${i.name}: disk template ${i.template} cannot be represented (Drover has drbd as replicated, plain, diskless)`);
    }
    instances.set(i.name, {
      name: i.name,
      memory: i.memory * MiB,
      vcpus: i.vcpus,
      disk: i.disk * MiB,
      template: t === 'replicated' ? 'replicated' : 'plain',
      running: i.status === 'running' || i.status === 'ERROR_up',
      antiAffinity: matching(i.tags, iex),
      primary: i.primary,
      ...(t === 'replicated' && i.secondary !== '' ? { secondary: i.secondary } : {}),
      autoBalance: i.autoBalance,
      adminOffline: i.status === 'ADMIN_offline',
      forthcoming: i.forthcoming,
      spindleUse: i.spindleUse,
      desiredLocation: matching(i.tags, dloc),
      ...(t === 'diskless' ? { diskless: true } : {}),
    });
  }
  const pol = gc.policies?.find((p) => p.owner === '');
  return {
    nodes,
    instances,
    policy: { vcpuRatio: pol?.vcpuRatio ?? 4, memoryOvercommit: 1, redundancy: 'n+1', spindleRatio: pol?.spindleRatio ?? 32 },
  };
}

/**
 * The same file with instances on new nodes, nodes' free memory and disk adjusted as `hbal -S` would
 * write them: the file Ganeti's own tools read to judge our placements.
 */
export function withPlacements(
  gc: GanetiCluster,
  placements: ReadonlyMap<string, { readonly primary: string; readonly secondary?: string }>,
): GanetiCluster {
  const dMem = new Map<string, number>(), dDsk = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number): void => void m.set(k, (m.get(k) ?? 0) + v);
  const instances = gc.instances.map((i) => {
    const p = placements.get(i.name);
    if (!p || (p.primary === i.primary && (p.secondary ?? '') === i.secondary)) return i;
    const local = i.template !== 'diskless' && !i.forthcoming;
    if (usesMemory(i)) { add(dMem, i.primary, i.memory); add(dMem, p.primary, -i.memory); }
    if (local) {
      add(dDsk, i.primary, i.disk); add(dDsk, p.primary, -i.disk);
      if (i.secondary !== '') add(dDsk, i.secondary, i.disk);
      if (p.secondary) add(dDsk, p.secondary, -i.disk);
    }
    return { ...i, primary: p.primary, secondary: p.secondary ?? '' };
  });
  const nodes = gc.nodes.map((n): GanetiNode => {
    const m = dMem.get(n.name) ?? 0, d = dDsk.get(n.name) ?? 0;
    return m === 0 && d === 0 ? n : { ...n, freeMemory: n.freeMemory + m, freeDisk: n.freeDisk + d };
  });
  return { ...gc, nodes, instances };
}
