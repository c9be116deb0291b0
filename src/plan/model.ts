/**
 * The allocator's model of one cluster as it stands: nodes with their capacities (manifest first,
 * then what the node reports) and every placed instance where the store says it is. Used by the
 * planner and by balance, capacity and verify.
 *
 * A cluster imported from Ganeti also carries, in `ganeti.drover.io/` labels, what Ganeti counts
 * and Drover's manifests have no field for (the node OS's memory and vCPUs, memory and disk in use
 * by nobody, CPU speed, location tags, auto_balance, ADMIN_offline, …): they go into the model too,
 * so that the score balance reports is the score hcheck gives the exported file.
 */
import { MiB } from '../alloc/ganeti-model.ts';
import { parseGanetiText, type GanetiPolicy, type ISpec } from '../alloc/ganeti-text.ts';
import type { AllocPolicy, ClusterModel, DiskTemplateName, InstanceModel, InstancePolicy, InstanceSpec, NodeModel } from '../alloc/model.ts';
import { GANETI_LABEL, ganetiInstanceFields, ganetiNodeFields, isImported, tagsUnder } from '../model/ganeti-labels.ts';
import type { DesiredCluster, DesiredInstance, DesiredNode, PolicyTemplate } from '../model/desired.ts';
import { nodeCapacity, type NodeFacts } from './facts.ts';
import { diskBytes, hostMemory } from './spec.ts';
import type { PlanInput } from './types.ts';

/**
 * `usable`: a node that cannot take work now counts as drained (placement); `declared`: only what
 * the manifests say (verify reports unreachable nodes on their own, not as drained).
 */
export type NodeFlags = 'usable' | 'declared';

export function nodeModels(input: PlanInput, cluster: DesiredCluster, facts: ReadonlyMap<string, NodeFacts>, flags: NodeFlags = 'usable'): Map<string, NodeModel> {
  const nodes = new Map<string, NodeModel>();
  for (const f of facts.values()) {
    if (f.desired?.cluster !== cluster.name) continue;
    nodes.set(f.name, {
      name: f.name,
      group: f.desired.group,
      ...nodeCapacity(f.desired, input.observed.nodes.get(f.name)?.capacity),
      drained: flags === 'declared' ? f.desired.drained : !f.usable || f.held, // held nodes keep what they have and get nothing new
      offline: f.desired.offline || (flags === 'usable' && !f.up && f.dead),
      labels: f.desired.labels,
      ...(f.desired.spindles !== undefined && { spindles: f.desired.spindles }),
      ...ganetiNode(cluster, f.desired),
    });
  }
  return nodes;
}

/** The Ganeti fields of an imported cluster's node (none for Drover's own clusters). */
function ganetiNode(cluster: DesiredCluster, n: DesiredNode): Partial<NodeModel> {
  if (!isImported(cluster.labels)) return {};
  const g = ganetiNodeFields(n.labels).fields;
  const location = tagsUnder(cluster.labels, 'nlocation', g.tags);
  return {
    ...(g.nodeMemory !== undefined && { nodeMemory: g.nodeMemory }),
    ...(g.unaccountedMemory !== undefined && { unaccountedMemory: g.unaccountedMemory }),
    nodeVcpus: g.nodeVcpus ?? 1, // the htools format's default
    ...(g.cpuSpeed !== undefined && { cpuSpeed: g.cpuSpeed }),
    ...(location.length && { locationTags: location }),
  };
}

export function instanceModel(i: DesiredInstance, primary: string | undefined, secondary: string | undefined, cluster?: DesiredCluster): InstanceModel {
  return {
    name: i.name,
    memory: hostMemory(i),
    vcpus: i.vcpus,
    disk: diskBytes(i),
    template: i.diskTemplate,
    running: i.state === 'running',
    antiAffinity: i.antiAffinity,
    ...(i.disks.length !== 1 && { diskCount: i.disks.length }),
    ...(primary && { primary }),
    ...(secondary && { secondary }),
    ...(cluster && ganetiInstance(cluster, i)),
  };
}

function ganetiInstance(cluster: DesiredCluster, i: DesiredInstance): Partial<InstanceModel> {
  if (!isImported(cluster.labels)) return {};
  const g = ganetiInstanceFields(i.labels, i.state, i.disks.length).fields;
  const desiredLocation = tagsUnder(cluster.labels, 'desiredlocation', g.tags);
  return {
    running: g.running,
    ...(!g.autoBalance && { autoBalance: false }),
    ...(g.adminOffline && { adminOffline: true }),
    ...(g.forthcoming && { forthcoming: true }),
    ...(g.spindleUse !== undefined && { spindleUse: g.spindleUse }),
    ...(g.diskless && { diskless: true }),
    ...(desiredLocation.length && { desiredLocation }),
  };
}

const ALL_TEMPLATES: readonly DiskTemplateName[] = ['drbd', 'plain', 'diskless', 'file', 'sharedfile', 'blockdev', 'rbd', 'ext', 'gluster'];
const GANETI_TEMPLATE: Readonly<Record<PolicyTemplate, DiskTemplateName>> = { replicated: 'drbd', plain: 'plain', diskless: 'diskless' };

/**
 * The allocator's policy from the Cluster's: Ganeti's ipolicy when the Cluster states size ranges,
 * and the node groups' own policies an imported cluster keeps (where they differ from its cluster
 * policy: the rest follows the manifest's).
 */
export function allocPolicy(cluster: DesiredCluster): AllocPolicy {
  const p = cluster.policy;
  const ranges = p.instanceSpecs;
  const instancePolicy: InstancePolicy | undefined = ranges && {
    minMax: ranges, std: p.standardSpec ?? ranges[0]!.min,
    diskTemplates: p.diskTemplates ? p.diskTemplates.map((t) => GANETI_TEMPLATE[t]) : ALL_TEMPLATES,
    vcpuRatio: p.vcpuRatio, spindleRatio: p.spindleRatio ?? Number.POSITIVE_INFINITY,
  };
  const groups = instancePolicy && groupPolicies(cluster);
  return {
    vcpuRatio: p.vcpuRatio, memoryOvercommit: p.memoryOvercommit, redundancy: p.redundancy,
    ...(p.spindleRatio !== undefined && { spindleRatio: p.spindleRatio }),
    ...(instancePolicy && { instancePolicy }),
    ...(groups && Object.keys(groups).length && { groupPolicies: groups }),
  };
}

/** Group policy lines of an imported cluster that override its cluster line, in the model's units. */
function groupPolicies(cluster: DesiredCluster): Record<string, InstancePolicy> | undefined {
  const lines = cluster.labels[`${GANETI_LABEL}policies`];
  if (lines === undefined) return undefined;
  let parsed: readonly GanetiPolicy[];
  try {
    parsed = parseGanetiText(`\n\n\n\n${lines}\n`, 'labels').policies ?? [];
  } catch {
    return undefined; // export reports a malformed label; the model then follows the manifest alone
  }
  const own = parsed.find((x) => x.owner === '');
  const same = (a: GanetiPolicy): boolean => own !== undefined && JSON.stringify({ ...a, owner: '' }) === JSON.stringify(own);
  const bytes = (s: ISpec): InstanceSpec => ({ memory: s.memory * MiB, vcpus: s.cpus, diskSize: s.diskSize * MiB, diskCount: s.diskCount, nicCount: s.nicCount, spindleUse: s.spindleUse });
  return Object.fromEntries(parsed.filter((x) => x.owner !== '' && !same(x)).map((x) => [x.owner, {
    minMax: x.minMax.map((m) => ({ min: bytes(m.min), max: bytes(m.max) })), std: bytes(x.std),
    diskTemplates: x.diskTemplates.filter((t): t is DiskTemplateName => (ALL_TEMPLATES as readonly string[]).includes(t)),
    vcpuRatio: x.vcpuRatio, spindleRatio: x.spindleRatio,
  }]));
}

/**
 * Free disk as an imported node reports it: its disk less what nobody Ganeti knows uses and the
 * disks of the instances on it now (the allocator then moves disks in and out of that figure).
 */
export function withReportedDisk(nodes: Map<string, NodeModel>, instances: ReadonlyMap<string, InstanceModel>, cluster: DesiredCluster, desired: ReadonlyMap<string, DesiredNode>): Map<string, NodeModel> {
  if (!isImported(cluster.labels)) return nodes;
  const used = new Map<string, number>();
  const add = (n: string | undefined, b: number): void => { if (n !== undefined) used.set(n, (used.get(n) ?? 0) + b); };
  for (const i of instances.values()) {
    if (i.diskless || i.forthcoming) continue;
    add(i.primary, i.disk);
    if (i.template === 'replicated') add(i.secondary, i.disk);
  }
  for (const [name, n] of nodes) {
    const x = ganetiNodeFields(desired.get(name)?.labels ?? {}).fields.unaccountedDisk;
    if (x !== undefined && x !== 0) nodes.set(name, { ...n, freeDisk: n.disk - x - (used.get(name) ?? 0) });
  }
  return nodes;
}

/** The cluster's current placement as a model (instances the store has placed and the manifests want). */
export function currentModel(input: PlanInput, cluster: DesiredCluster, facts: ReadonlyMap<string, NodeFacts>, flags: NodeFlags = 'usable'): ClusterModel {
  const instances = new Map<string, InstanceModel>();
  for (const d of input.desired.instances.values()) {
    const p = input.store.placements.get(d.name);
    if (d.cluster !== cluster.name || d.state === 'absent' || !p) continue;
    instances.set(d.name, instanceModel(d, p.primary, d.diskTemplate === 'replicated' ? p.secondary : undefined, cluster));
  }
  const nodes = withReportedDisk(nodeModels(input, cluster, facts, flags), instances, cluster, input.desired.nodes);
  return { nodes, instances, policy: allocPolicy(cluster) };
}
