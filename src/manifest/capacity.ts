/**
 * Capacity checks that need no allocator: a replicated template needs two usable nodes, an instance
 * must be smaller than the largest node, and pinned instances must fit the memory and disk of the
 * node they are pinned to. Pins above the vcpu ratio are a warning: the ratio is a policy Ganeti's
 * clusters run above (verify reports it), while memory and disk beyond a node cannot be.
 * Only instances that should exist (state != absent) take room. Values that failed to resolve are
 * NaN, and every comparison with NaN is false: a bad field never causes a second, wrong error here.
 */

import type { Desired, DesiredCluster, DesiredInstance, DesiredNode } from '../model/desired.ts';
import { formatBytes } from '../model/quantity.ts';
import type { Docs } from './build.ts';
import type { Diagnostics } from './diagnostic.ts';
import type { Gaps } from './gaps.ts';
import { listNames } from './references.ts';
import { where } from './types.ts';

export function checkCapacity(desired: Desired, docs: Docs, gaps: Gaps, diags: Diagnostics): void {
  for (const cluster of desired.clusters.values()) {
    if (gaps.mayMissNodeOf(cluster.name)) continue; // sums over a partial node list would mislead
    const nodes = [...desired.nodes.values()].filter((n) => n.cluster === cluster.name);
    const instances = [...desired.instances.values()].filter((i) => i.cluster === cluster.name && i.state !== 'absent');
    checkReplicated(cluster, nodes, instances, docs, diags);
    checkLargest(cluster, nodes, instances, docs, diags);
    checkPinned(cluster, nodes, instances, docs, diags);
  }
}

const diskOf = (i: DesiredInstance): number => i.disks.reduce((sum, d) => sum + d.size, 0);

function checkReplicated(
  cluster: DesiredCluster, nodes: readonly DesiredNode[], instances: readonly DesiredInstance[], docs: Docs, diags: Diagnostics,
): void {
  const replicated = instances.filter((i) => i.diskTemplate === 'replicated');
  if (replicated.length === 0) return;
  const usable = nodes.filter((n) => !n.offline);
  if (usable.length < 2) {
    const offline = nodes.filter((n) => n.offline).map((n) => n.name);
    const why = offline.length > 0 ? ` (offline: ${listNames(offline)})` : '';
    for (const inst of replicated) {
      const m = docs.instances.get(inst.name)!;
      diags.error(where(m, '/spec/diskTemplate', 'key'),
        `${m.title}: diskTemplate replicated needs two usable nodes, but cluster "${cluster.name}" has ${usable.length}${why}`);
    }
    return;
  }
  const open = usable.filter((n) => !n.drained);
  if (open.length < 2) {
    const drained = usable.filter((n) => n.drained).map((n) => n.name);
    diags.warning(docs.clusters.get(cluster.name)!.doc.root,
      `Cluster "${cluster.name}": drained nodes (${listNames(drained)}) are evacuated and take no new instances; fewer than two nodes can take a new replicated instance`);
  }
}

/** Largest figure among usable nodes that state it (docker nodes may leave capacity to the engine). */
function largest(nodes: readonly DesiredNode[], pick: (n: DesiredNode) => number | undefined): number | undefined {
  let max: number | undefined;
  for (const n of nodes) {
    const v = n.offline ? undefined : pick(n);
    if (v !== undefined && (max === undefined || v > max)) max = v;
  }
  return max;
}

function checkLargest(
  cluster: DesiredCluster, nodes: readonly DesiredNode[], instances: readonly DesiredInstance[], docs: Docs, diags: Diagnostics,
): void {
  const ratio = cluster.policy.vcpuRatio;
  const memory = largest(nodes, (n) => n.capacity?.memory);
  const cpus = largest(nodes, (n) => n.capacity?.vcpus);
  const disk = largest(nodes, (n) => n.capacity?.disk);
  for (const inst of instances) {
    const m = docs.instances.get(inst.name)!;
    const err = (field: string, msg: string): void =>
      diags.error(where(m, `/spec/${field}`), `${m.title}: spec.${field}: ${msg}`);
    if (memory !== undefined && inst.memory > memory) {
      err('memory', `${formatBytes(inst.memory)} is more than any node has (largest: ${formatBytes(memory)})`);
    }
    if (cpus !== undefined && inst.vcpus > cpus * ratio) {
      err('vcpus', `${inst.vcpus} is more than any node offers (largest: ${cpus} CPUs × vcpuRatio ${ratio} = ${cpus * ratio})`);
    }
    if (disk !== undefined && diskOf(inst) > disk) {
      err('disks', `${formatBytes(diskOf(inst))} of disks is more than any node has (largest: ${formatBytes(disk)})`);
    }
  }
}

interface Load {
  memory: number;
  vcpus: number;
  disk: number;
  readonly primaries: string[];
  readonly all: string[];
}

/** Sums per node of what is pinned there; reported at the node's capacity figure. */
function checkPinned(
  cluster: DesiredCluster, nodes: readonly DesiredNode[], instances: readonly DesiredInstance[], docs: Docs, diags: Diagnostics,
): void {
  const load = new Map<string, Load>(nodes.map((n) => [n.name, { memory: 0, vcpus: 0, disk: 0, primaries: [], all: [] }]));
  for (const inst of instances) {
    const p = inst.primary === undefined ? undefined : load.get(inst.primary);
    if (p !== undefined) {
      p.memory += inst.memory;
      p.vcpus += inst.vcpus;
      p.disk += diskOf(inst);
      p.primaries.push(inst.name);
      p.all.push(inst.name);
    }
    const s = inst.secondary === undefined || inst.secondary === inst.primary ? undefined : load.get(inst.secondary);
    if (s !== undefined) {
      s.disk += diskOf(inst); // a secondary holds the replica's disks, not the memory
      s.all.push(inst.name);
    }
  }
  const { memoryOvercommit, vcpuRatio } = cluster.policy;
  for (const node of nodes) {
    const l = load.get(node.name)!;
    const cap = node.capacity;
    const m = docs.nodes.get(node.name)!;
    const err = (field: string, msg: string): void =>
      diags.error(where(m, `/spec/capacity/${field}`), `${m.title}: ${msg}`);
    if (cap?.memory !== undefined && l.memory > cap.memory * memoryOvercommit) {
      err('memory', `instances pinned here as primary need ${formatBytes(l.memory)} of memory, more than ${formatBytes(cap.memory)} × memoryOvercommit ${memoryOvercommit} (${listNames(l.primaries)})`);
    }
    // vcpuRatio is a policy, not a physical limit: Ganeti runs nodes above it and hbal repairs them.
    // Refusing would make exactly the clusters that need balancing impossible to load.
    if (cap?.vcpus !== undefined && l.vcpus > cap.vcpus * vcpuRatio) {
      diags.warning(where(m, '/spec/capacity/vcpus'), `${m.title}: instances pinned here as primary need ${l.vcpus} vcpus, more than ${cap.vcpus} × vcpuRatio ${vcpuRatio} (${listNames(l.primaries)}); `
        + 'loaded as Ganeti runs it: verify reports it (EPOLICYCPU), nothing new lands here, and balance can move what is not pinned');
    }
    if (cap?.disk !== undefined && l.disk > cap.disk) {
      err('disk', `disks of instances pinned here (primary or secondary) need ${formatBytes(l.disk)}, more than ${formatBytes(cap.disk)} (${listNames(l.all)})`);
    }
  }
}
