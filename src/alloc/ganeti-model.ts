/**
 * Ganeti text clusters ↔ Drover's ClusterModel. What the model cannot represent is refused with the
 * file line: disk templates other than drbd (→ replicated), plain and diskless; exclusive storage.
 * htools' tag conventions become model fields: `htools:iextags:P` → antiAffinity (instance tags
 * starting with P), `htools:nlocation:P` → node locationTags, `htools:desiredlocation:P` →
 * desiredLocation. Migration tags (`htools:migration`) restrict hbal's moves and are not modelled.
 */
import type { ClusterModel, DiskTemplateName, InstanceModel, InstancePolicy, InstanceSpec, NodeModel } from './model.ts';
import { usesMemory as statusUsesMemory } from '../model/ganeti-labels.ts';
import { GanetiTextError, type GanetiCluster, type GanetiInstance, type GanetiNode, type GanetiPolicy, type ISpec } from './ganeti-text.ts';

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

/** Whether Ganeti counts this instance's memory on its primary (htools' usesMemory): it runs. */
function usesMemory(i: GanetiInstance): boolean {
  return statusUsesMemory(i.status) && !i.forthcoming;
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
      ...(n.role === 'M' ? { master: true } : {}),
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
      running: statusUsesMemory(i.status),
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
  const groupPolicies: Record<string, InstancePolicy> = {};
  for (const p of gc.policies ?? []) if (p.owner !== '') groupPolicies[p.owner] = policyOf(p);
  return {
    nodes,
    instances,
    policy: {
      vcpuRatio: pol?.vcpuRatio ?? 4, memoryOvercommit: 1, redundancy: 'n+1', spindleRatio: pol?.spindleRatio ?? 32,
      ...(pol ? { instancePolicy: policyOf(pol) } : {}),
      ...(Object.keys(groupPolicies).length > 0 ? { groupPolicies } : {}),
    },
  };
}

/** An htools spec (MiB) in the model's units (bytes). */
export function specOf(s: ISpec): InstanceSpec {
  return { memory: s.memory * MiB, vcpus: s.cpus, diskSize: s.diskSize * MiB, diskCount: s.diskCount, nicCount: s.nicCount, spindleUse: s.spindleUse };
}

/** An htools policy line in the model's units. */
export function policyOf(p: GanetiPolicy): InstancePolicy {
  return {
    minMax: p.minMax.map((m) => ({ min: specOf(m.min), max: specOf(m.max) })), std: specOf(p.std),
    diskTemplates: p.diskTemplates as DiskTemplateName[], vcpuRatio: p.vcpuRatio, spindleRatio: p.spindleRatio,
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

/**
 * A Ganeti text cluster from Drover's model (for `drover export ganeti` and for judging our results
 * with the real tools). Sizes are rounded to MiB; one node group per model group (its name as uuid);
 * antiAffinity values become instance tags declared as exclusion tags (`htools:iextags:<value>`), and
 * node location tags likewise (`htools:nlocation:<tag>`). The instance policy section is `base`'s (the
 * file the model came from: its groups, policies and trailer are kept), else the model's own
 * instancePolicy/groupPolicies, else none.
 */
export function modelToGaneti(model: ClusterModel, base?: GanetiCluster): GanetiCluster {
  const mib = (b: number): number => Math.round(b / MiB);
  const nodes = [...model.nodes.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  const insts = [...model.instances.values()].filter((i) => i.primary !== undefined).sort((a, b) => (a.name < b.name ? -1 : 1));
  const baseGroups = new Map((base?.groups ?? []).map((g) => [g.name, g]));
  const groupNames = [...new Set(nodes.map((n) => n.group))].sort();
  const groups = groupNames.map((g) => baseGroups.get(g) ?? { name: g, uuid: g, allocPolicy: 'preferred', tags: [], networks: [], columns: 5 });
  const uuid = new Map(groups.map((g) => [g.name, g.uuid]));
  const used = new Map<string, { mem: number; dsk: number }>();
  const use = (n: string): { mem: number; dsk: number } => used.get(n) ?? (used.set(n, { mem: 0, dsk: 0 }), used.get(n)!);
  for (const i of insts) {
    if (i.adminOffline !== true && i.forthcoming !== true && i.running) use(i.primary!).mem += mib(i.memory);
    if (i.diskless !== true && i.forthcoming !== true) {
      use(i.primary!).dsk += mib(i.disk);
      if (i.template === 'replicated' && i.secondary) use(i.secondary).dsk += mib(i.disk);
    }
  }
  const baseNodes = new Map((base?.nodes ?? []).map((n) => [n.name, n]));
  const gNodes: GanetiNode[] = nodes.map((n, idx) => {
    const u = used.get(n.name) ?? { mem: 0, dsk: 0 };
    const b = baseNodes.get(n.name);
    const tMem = mib(n.memory), nMem = mib(n.nodeMemory ?? 0), x = mib(n.unaccountedMemory ?? 0);
    return {
      name: n.name, totalMemory: tMem, nodeMemory: nMem, freeMemory: tMem - nMem - x - u.mem, totalDisk: mib(n.disk),
      freeDisk: n.freeDisk !== undefined && b ? b.freeDisk : mib(n.disk) - u.dsk, cpus: n.vcpus,
      role: n.offline ? 'Y' : b?.role ?? (n.master === true || (idx === 0 && !nodes.some((x) => x.master === true)) ? 'M' : 'N'), groupUuid: uuid.get(n.group)!, spindles: n.spindles ?? 1,
      tags: b?.tags ?? [...(n.locationTags ?? [])], exclusiveStorage: false, freeSpindles: 0, nodeCpus: n.nodeVcpus ?? 1,
      cpuSpeed: n.cpuSpeed ?? 1, unknownResources: false, columns: b?.columns ?? 15,
    };
  });
  const baseInsts = new Map((base?.instances ?? []).map((i) => [i.name, i]));
  const gInsts: GanetiInstance[] = insts.map((i) => {
    const b = baseInsts.get(i.name);
    const template = i.template === 'replicated' ? 'drbd' : i.diskless ? 'diskless' : 'plain';
    const status = b?.status ?? (i.adminOffline ? 'ADMIN_offline' : i.running ? 'running' : 'ADMIN_down');
    return {
      name: i.name, memory: mib(i.memory), disk: mib(i.disk), vcpus: i.vcpus, status, autoBalance: i.autoBalance !== false,
      primary: i.primary!, secondary: i.template === 'replicated' ? i.secondary ?? '' : '', template,
      tags: b?.tags ?? [...new Set([...i.antiAffinity, ...(i.desiredLocation ?? [])])], spindleUse: i.spindleUse ?? 1,
      diskSpindles: '-', forthcoming: i.forthcoming === true, columns: b?.columns ?? 13,
    };
  });
  const clusterTags = base?.clusterTags ?? [
    ...[...new Set(insts.flatMap((i) => i.antiAffinity))].sort().map((t) => `htools:iextags:${t}`),
    ...[...new Set(nodes.flatMap((n) => n.locationTags ?? []))].sort().map((t) => `htools:nlocation:${t}`),
    ...[...new Set(insts.flatMap((i) => i.desiredLocation ?? []))].sort().map((t) => `htools:desiredlocation:${t}`),
  ];
  const policies = base?.policies ?? modelPolicies(model, groupNames);
  return {
    groups, nodes: gNodes, instances: gInsts, clusterTags,
    ...(policies ? { policies } : {}), trailer: base?.trailer ?? '',
  };
}

/** The model's instance policies as the text format's section (MiB): the cluster's, then each group's. */
function modelPolicies(model: ClusterModel, groups: readonly string[]): GanetiPolicy[] | undefined {
  const cluster = model.policy.instancePolicy;
  if (!cluster) return undefined;
  const mib = (b: number): number => Math.round(b / MiB);
  const spec = (s: InstanceSpec): ISpec => ({
    memory: mib(s.memory), cpus: s.vcpus, diskSize: mib(s.diskSize), diskCount: s.diskCount, nicCount: s.nicCount, spindleUse: s.spindleUse,
  });
  const line = (owner: string, p: InstancePolicy): GanetiPolicy => ({
    owner, std: spec(p.std), minMax: p.minMax.map((m) => ({ min: spec(m.min), max: spec(m.max) })),
    diskTemplates: [...p.diskTemplates], vcpuRatio: p.vcpuRatio, spindleRatio: p.spindleRatio,
  });
  return [line('', cluster), ...groups.map((g) => line(g, model.policy.groupPolicies?.[g] ?? cluster))];
}
