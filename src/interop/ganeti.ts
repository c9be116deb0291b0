/**
 * Ganeti's htools text format ↔ Drover manifests (`drover import ganeti`, `drover export ganeti`).
 * Pure: text structures and manifest documents in, documents and text structures out.
 *
 * Why a folder of its own: this code speaks both languages — alloc/'s Ganeti text structures and
 * manifest/'s documents and Desired — and belongs to neither (alloc/ knows no manifests; manifest/
 * knows no Ganeti).
 *
 * What Drover's manifests have a field for becomes that field: node capacity and group, offline,
 * instance memory/vcpus/disk/template/state/pins/antiAffinity, the cluster's vcpuRatio. Everything
 * else the file says is kept, uninterpreted, in `ganeti.drover.io/…` labels (string values, as the
 * label schema wants), so that export writes the same bytes: per node and instance the columns
 * Drover has no field for (numbers as in the file, MiB), and on the Cluster the sections that belong
 * to no Drover object (node groups, cluster tags, instance policies, trailing text), verbatim. Labels
 * are written only where the value differs from the one the file format implies by default, so an
 * ordinary file gives short manifests. No schema change was needed.
 */
import { dump } from 'js-yaml';
import { ganetiToModel } from '../alloc/ganeti-model.ts';
import {
  formatGanetiText, GanetiTextError, parseGanetiText,
  type GanetiCluster, type GanetiGroup, type GanetiInstance, type GanetiNode, type GanetiPolicy,
} from '../alloc/ganeti-text.ts';
import { DEFAULT_BACKEND } from '../drivers/backends.ts';
import type { Backend, Desired, DesiredCluster, DesiredInstance, DesiredNode, NodeCapacity } from '../model/desired.ts';

/** Prefix of the labels that carry what Drover's model does not. */
export const LABEL = 'ganeti.drover.io/';
const MiB = 2 ** 20;
/** schemas/common.schema.json#/$defs/name: a DNS label or an FQDN. */
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** Column counts of a full node and instance line (shorter lines come from older Ganeti versions). */
const NODE_COLUMNS = 15, INSTANCE_COLUMNS = 13;

type Labels = Readonly<Record<string, string>>;

/** Whether a name can name a Drover object (a Cluster, for `--cluster`). */
export const isDroverName = (name: string): boolean => NAME.test(name);

export interface ManifestDoc {
  readonly apiVersion: 'drover/v1';
  readonly kind: 'Cluster' | 'Node' | 'Instance';
  readonly metadata: { readonly name: string; readonly labels?: Labels };
  readonly spec: Readonly<Record<string, unknown>>;
}

export interface ImportedManifests {
  readonly cluster: ManifestDoc;
  readonly nodes: readonly ManifestDoc[];
  readonly instances: readonly ManifestDoc[];
  /** What Drover models and the file format cannot carry, in words (the import says so). */
  readonly notCarried: readonly string[];
}

export interface ImportOptions {
  /** Name of the Cluster document (default `ganeti`). */
  readonly cluster?: string;
  readonly backend?: Backend;
}

// ---------------------------------------------------------------------------------------------
// Shared by both directions

interface Use { mem: number; dsk: number }

/**
 * Memory and disk (MiB) the instances take per node, by htools' rules (as `hbal -S` accounts them):
 * memory on the primary unless ADMIN_offline or forthcoming; disk on primary and secondary unless
 * diskless or forthcoming. Import and export use the same rule, so what is unaccounted for
 * (reported free vs. computed free) is carried over exactly, and moves adjust the free figures.
 */
function usage(insts: readonly GanetiInstance[]): Map<string, Use> {
  const m = new Map<string, Use>();
  const at = (n: string): Use => m.get(n) ?? (m.set(n, { mem: 0, dsk: 0 }), m.get(n)!);
  for (const i of insts) {
    if (i.status !== 'ADMIN_offline' && !i.forthcoming) at(i.primary).mem += i.memory;
    if (i.template !== 'diskless' && !i.forthcoming) {
      at(i.primary).dsk += i.disk;
      if (i.secondary !== '') at(i.secondary).dsk += i.disk;
    }
  }
  return m;
}

/** Ganeti statuses whose admin state is down: Drover's `stopped`. All others want the instance up. */
const stoppedStatus = (s: string): boolean => s.startsWith('ADMIN_');

/** One formatted line of a cluster holding a single group or policy (reuses the exact formatter). */
function oneLine(gc: Partial<GanetiCluster>): string {
  return formatGanetiText({ groups: [], nodes: [], instances: [], clusterTags: [], trailer: '', ...gc }).split('\n').find((l) => l !== '')!;
}

const labelsOf = (entries: readonly (readonly [string, string | undefined])[]): Labels =>
  Object.fromEntries(entries.filter((e): e is readonly [string, string] => e[1] !== undefined).map(([k, v]) => [LABEL + k, v]));

const unless = <T>(value: T, dflt: T, show: (v: T) => string = String): string | undefined => (value === dflt ? undefined : show(value));

// ---------------------------------------------------------------------------------------------
// Import: GanetiCluster → documents

export function ganetiToManifests(gc: GanetiCluster, file: string, options: ImportOptions = {}): ImportedManifests {
  ganetiToModel(gc, file); // its refusals (disk templates, exclusive storage), each with the line
  const cluster = options.cluster ?? 'ganeti';
  const nodeName = droverNames(gc.nodes, 'node', file);
  const instName = droverNames(gc.instances, 'instance', file);
  const use = usage(gc.instances);
  const iex = prefixes(gc.clusterTags);
  const offline = new Set(gc.nodes.filter((n) => n.role === 'Y').map((n) => n.name));
  return {
    cluster: clusterDoc(gc, cluster, options.backend ?? DEFAULT_BACKEND),
    nodes: gc.nodes.map((n) => nodeDoc(n, gc, cluster, nodeName, use, file)),
    instances: gc.instances.map((i) => instanceDoc(i, { cluster, nodes: nodeName, names: instName, iex, offline, file })),
    notCarried: [NICS_NOT_CARRIED],
  };
}

/**
 * The htools text format has no NICs: no addresses, MACs, networks or links, only the nic-count bounds of
 * the instance policies (kept with the policies, verbatim, in the Cluster's labels). Said by import and export.
 */
export const NICS_NOT_CARRIED = 'NICs (addresses, MACs, networks): the htools text format has none (only the nic-count bounds of its instance policies, kept in the Cluster\'s ganeti.drover.io/policies label); declare Network documents and spec.nics by hand';

/** Ganeti name → Drover name (lowercase: DNS names ignore case); refused when it is no DNS name. */
function droverNames(objs: readonly { readonly name: string; readonly line?: number }[], kind: string, file: string): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Map<string, string>();
  for (const o of objs) {
    const d = o.name.toLowerCase();
    const fail = (why: string): GanetiTextError => new GanetiTextError(file, o.line ?? 0, `${kind} ${o.name}: ${why}`);
    if (!NAME.test(d)) throw fail('not a DNS label or FQDN, which Drover names must be (letters, digits, "-", dot-separated)');
    if (taken.has(d)) throw fail(`Drover names ignore case, and ${taken.get(d)} has the same name`);
    taken.set(d, o.name);
    out.set(o.name, d);
  }
  return out;
}

function clusterDoc(gc: GanetiCluster, name: string, backend: Backend): ManifestDoc {
  const pol = gc.policies?.find((p) => p.owner === '');
  const labels = labelsOf([
    ['groups', gc.groups.map((g) => oneLine({ groups: [g] })).join('\n')],
    ['cluster-tags', gc.clusterTags.length ? gc.clusterTags.join('\n') : undefined],
    ['policies', gc.policies?.map((p) => oneLine({ policies: [p] })).join('\n')],
    ['trailer', gc.trailer === '' ? undefined : gc.trailer],
  ]);
  return {
    apiVersion: 'drover/v1', kind: 'Cluster', metadata: { name, labels },
    spec: { backend, ...(pol && { policy: { vcpuRatio: pol.vcpuRatio } }) },
  };
}

function nodeDoc(n: GanetiNode, gc: GanetiCluster, cluster: string, names: ReadonlyMap<string, string>, use: ReadonlyMap<string, Use>, file: string): ManifestDoc {
  const fail = (why: string): GanetiTextError => new GanetiTextError(file, n.line ?? 0, `node ${n.name}: ${why}`);
  if (n.unknownResources) throw fail('its resources are unknown ("?"); a Drover node needs its memory, disk and CPUs');
  if (n.totalMemory <= 0 || n.totalDisk <= 0) throw fail('total memory and disk must be more than 0 for a Drover node');
  if (n.cpus < 1) throw fail('a Drover node has at least 1 CPU');
  const u = use.get(n.name) ?? { mem: 0, dsk: 0 };
  const name = names.get(n.name)!;
  const labels = labelsOf([
    ['name', unless(n.name, name)],
    ['role', n.role === 'M' ? 'M' : undefined], // Y is spec.offline
    ['node-memory', unless(n.nodeMemory, 0)],
    // What the node reports in use beyond its OS and its instances (Ganeti's x_mem), and likewise for disk.
    ['unaccounted-memory', unless(n.totalMemory - n.nodeMemory - n.freeMemory - u.mem, 0)],
    ['unaccounted-disk', unless(n.totalDisk - n.freeDisk - u.dsk, 0)],
    ['spindles', unless(n.spindles, 1)],
    ['tags', n.tags.length ? n.tags.join(',') : undefined],
    ['free-spindles', unless(n.freeSpindles, 0)],
    ['node-cpus', unless(n.nodeCpus, 1)],
    ['cpu-speed', unless(n.cpuSpeed, 1)],
    ['columns', unless(n.columns, NODE_COLUMNS)],
  ]);
  const group = gc.groups.find((g) => g.uuid === n.groupUuid)!.name;
  return {
    apiVersion: 'drover/v1', kind: 'Node', metadata: { name, ...(Object.keys(labels).length && { labels }) },
    spec: {
      cluster, group, capacity: { memory: `${n.totalMemory}M`, vcpus: n.cpus, disk: `${n.totalDisk}M` },
      ...(n.role === 'Y' && { offline: true }),
    },
  };
}

interface InstanceContext {
  readonly cluster: string;
  /** Ganeti → Drover names. */
  readonly nodes: ReadonlyMap<string, string>;
  readonly names: ReadonlyMap<string, string>;
  /** Exclusion tag prefixes (htools:iextags). */
  readonly iex: readonly string[];
  /** Nodes with role Y. */
  readonly offline: ReadonlySet<string>;
  readonly file: string;
}

function instanceDoc(i: GanetiInstance, ctx: InstanceContext): ManifestDoc {
  const { cluster, nodes, names, iex, offline, file } = ctx;
  const fail = (why: string): GanetiTextError => new GanetiTextError(file, i.line ?? 0, `instance ${i.name}: ${why}`);
  const diskless = i.template === 'diskless';
  if (i.memory <= 0) throw fail('memory 0: a Drover instance has memory');
  if (i.vcpus < 1) throw fail('a Drover instance has at least 1 vCPU');
  if (!diskless && i.disk <= 0) throw fail(`disk size 0 with template ${i.template}: a Drover disk has a size`);
  if (i.template !== 'drbd' && i.secondary !== '') throw fail(`a secondary node with template ${i.template}: only replicated instances have one in Drover`);
  const state = stoppedStatus(i.status) ? 'stopped' : 'running';
  const name = names.get(i.name)!;
  const labels = labelsOf([
    ['name', unless(i.name, name)],
    ['status', unless(i.status, canonicalStatus(state))],
    ['auto-balance', i.autoBalance ? undefined : 'false'],
    ['tags', i.tags.length ? i.tags.join(',') : undefined],
    ['spindle-use', unless(i.spindleUse, 1)],
    ['disk-spindles', unless(i.diskSpindles, '-')],
    ['forthcoming', i.forthcoming ? 'true' : undefined],
    ['columns', unless(i.columns, INSTANCE_COLUMNS)],
    // Drover's diskless instance is a plain one without disks; Ganeti still records a disk size.
    ['disk-template', diskless ? 'diskless' : undefined],
    ['disk', diskless ? String(i.disk) : undefined],
    // Drover refuses a pin to an offline node (it would have to evacuate it): such an instance is left
    // for Drover to place, and the label remembers where Ganeti has it, for export until it is placed.
    ['primary', offline.has(i.primary) ? nodes.get(i.primary) : undefined],
    ['secondary', offline.has(i.secondary) ? nodes.get(i.secondary) : undefined],
  ]);
  const anti = i.tags.filter((t) => iex.some((p) => t.startsWith(p)));
  return {
    apiVersion: 'drover/v1', kind: 'Instance', metadata: { name, ...(Object.keys(labels).length && { labels }) },
    spec: {
      cluster, memory: `${i.memory}M`, vcpus: i.vcpus,
      diskTemplate: i.template === 'drbd' ? 'replicated' : 'plain',
      disks: diskless ? [] : [{ size: `${i.disk}M`, mount: '/data' }],
      state,
      ...(!offline.has(i.primary) && { primary: nodes.get(i.primary)! }),
      ...(i.secondary !== '' && !offline.has(i.secondary) && { secondary: nodes.get(i.secondary)! }),
      ...(anti.length && { antiAffinity: anti }),
    },
  };
}

const canonicalStatus = (state: 'running' | 'stopped'): string => (state === 'running' ? 'running' : 'ADMIN_down');

/** Multi-document YAML, one `---` between documents. */
export function toYaml(docs: readonly ManifestDoc[]): string {
  return docs.map((d) => dump(d, { lineWidth: -1, noRefs: true })).join('---\n');
}

// ---------------------------------------------------------------------------------------------
// Export: Desired (+ placements, + node health) → GanetiCluster

export interface Where { readonly primary: string; readonly secondary?: string }

export interface ExportInput {
  readonly desired: Desired;
  readonly cluster: string;
  /** Drover's placement of an instance when it has one (the store); otherwise its pins are used. */
  readonly placement?: (instance: string) => Where | undefined;
  /** Nodes seen unreachable: written offline (`Y`), as htools must not count on them. */
  readonly unreachable?: ReadonlySet<string>;
  /** What a node reports, for nodes whose manifest leaves capacity to the engine (docker). */
  readonly observedCapacity?: (node: string) => NodeCapacity | undefined;
}

export interface ExportResult {
  readonly text: GanetiCluster;
  /** Instances with no node (neither pinned nor placed yet): Ganeti's format has no place for them. */
  readonly unplaced: readonly string[];
  /** Instances written without their NICs (the format has none; see NICS_NOT_CARRIED), with how many each has. */
  readonly nicsLeftOut: readonly { readonly instance: string; readonly nics: number }[];
}

/** A manifest value export cannot use (a hand-edited label), with the document's place. */
export class GanetiExportError extends Error {}

export function manifestsToGaneti(input: ExportInput): ExportResult {
  const c = input.desired.clusters.get(input.cluster);
  if (!c) throw new GanetiExportError(`no Cluster "${input.cluster}" in the manifests`);
  const nodes = [...input.desired.nodes.values()].filter((n) => n.cluster === c.name);
  const gName = new Map(nodes.map((n) => [n.name, n.labels[`${LABEL}name`] ?? n.name]));
  const base = clusterSections(c);
  const wanted = [...input.desired.instances.values()].filter((i) => i.cluster === c.name && i.state !== 'absent');
  const placed = wanted.map((i) => [i, input.placement?.(i.name) ?? pins(i)] as const);
  const clusterTags = withExclusionTags(base.clusterTags, wanted);
  const iex = prefixes(clusterTags);
  const instances = placed.filter((p): p is readonly [DesiredInstance, Where] => p[1] !== undefined)
    .map(([i, w]) => exportInstance(i, w, (n) => gName.get(n) ?? n, iex));
  const use = usage(instances);
  const groups = withGroups(base.groups, nodes);
  const gNodes = nodes.map((n) => exportNode(n, use.get(gName.get(n.name)!), groups, input));
  return {
    text: { groups, nodes: gNodes, instances, clusterTags, ...(base.policies && { policies: base.policies }), trailer: base.trailer },
    unplaced: placed.filter((p) => p[1] === undefined).map((p) => p[0].name),
    nicsLeftOut: placed.filter((p) => p[1] !== undefined && p[0].nics?.length).map(([i]) => ({ instance: i.name, nics: i.nics!.length })),
  };
}

/** The pins, or where Ganeti had an instance that import could not pin (an offline node). */
function pins(i: DesiredInstance): Where | undefined {
  const primary = i.primary ?? i.labels[`${LABEL}primary`];
  const secondary = i.secondary ?? i.labels[`${LABEL}secondary`];
  return primary === undefined ? undefined : { primary, ...(secondary !== undefined && { secondary }) };
}

const prefixes = (tags: readonly string[]): string[] =>
  tags.filter((t) => t.startsWith('htools:iextags:')).map((t) => t.slice('htools:iextags:'.length));

interface Sections { readonly groups: readonly GanetiGroup[]; readonly clusterTags: readonly string[]; readonly policies?: readonly GanetiPolicy[]; readonly trailer: string }

/** The Cluster's labels back into the sections no Drover object holds; vcpuRatio from the spec. */
function clusterSections(c: DesiredCluster): Sections {
  const label = (k: string): string | undefined => c.labels[LABEL + k];
  const groupLines = label('groups') ?? '', policyLines = label('policies');
  const sections = [groupLines, '', '', '', ...(policyLines !== undefined ? [policyLines] : [])];
  let parsed: GanetiCluster;
  try {
    parsed = parseGanetiText(sections.map((s) => (s === '' ? '' : `${s}\n`)).join('\n'), 'labels');
  } catch (e) {
    if (!(e instanceof GanetiTextError)) throw e;
    throw new GanetiExportError(`${at(c.source)}Cluster "${c.name}": labels ${LABEL}groups/policies: ${e.detail}`);
  }
  // An empty policy section parses as none at all; the label says it was there.
  const policies = policyLines === undefined ? undefined : (parsed.policies ?? [])
    .map((p) => (p.owner === '' ? { ...p, vcpuRatio: c.policy.vcpuRatio } : p));
  const tags = label('cluster-tags');
  return { groups: parsed.groups, clusterTags: tags ? tags.split('\n') : [], ...(policies && { policies }), trailer: label('trailer') ?? '' };
}

const at = (s: { readonly file: string; readonly line: number }): string => `${s.file}:${s.line}: `;

/** Cluster tags plus an exclusion-tag declaration for each antiAffinity value no prefix covers yet. */
function withExclusionTags(tags: readonly string[], insts: readonly DesiredInstance[]): string[] {
  const out = [...tags];
  for (const v of new Set(insts.flatMap((i) => i.antiAffinity))) {
    if (!prefixes(out).some((p) => v.startsWith(p))) out.push(`htools:iextags:${v}`);
  }
  return out;
}

/** The kept groups, plus one for each node group the manifests name that Ganeti did not have. */
function withGroups(groups: readonly GanetiGroup[], nodes: readonly DesiredNode[]): GanetiGroup[] {
  const out = [...groups];
  for (const g of new Set(nodes.map((n) => n.group))) {
    if (!out.some((x) => x.name === g)) out.push({ name: g, uuid: g, allocPolicy: 'preferred', tags: [], networks: [], columns: 5 });
  }
  return out;
}

/** A number from a label, or the format's default when the label is absent. */
function numLabel(labels: Labels, key: string, dflt: number, where: string): number {
  const v = labels[LABEL + key];
  if (v === undefined) return dflt;
  // Every Ganeti number kept in a label is an integer, except the CPU speed.
  const ok = key === 'cpu-speed' ? /^\d+(\.\d+)?$/ : /^-?\d+$/;
  if (!ok.test(v)) throw new GanetiExportError(`${where}: label ${LABEL}${key}: expected ${key === 'cpu-speed' ? 'a number' : 'an integer'}, got ${JSON.stringify(v)}`);
  return Number(v);
}

const mib = (bytes: number): number => Math.round(bytes / MiB);

function exportInstance(d: DesiredInstance, w: Where, gName: (n: string) => string, iex: readonly string[]): GanetiInstance {
  const where = `${at(d.source)}Instance "${d.name}"`;
  const L = (k: string): string | undefined => d.labels[LABEL + k];
  const num = (k: string, dflt: number): number => numLabel(d.labels, k, dflt, where);
  const diskless = L('disk-template') === 'diskless' && d.disks.length === 0;
  const template = diskless ? 'diskless' : d.diskTemplate === 'replicated' ? 'drbd' : 'plain';
  const kept = L('status');
  // The kept status only while it still agrees with the manifest's state (someone may have started it).
  const status = kept !== undefined && stoppedStatus(kept) === (d.state === 'stopped') ? kept : canonicalStatus(d.state === 'stopped' ? 'stopped' : 'running');
  return {
    name: L('name') ?? d.name, memory: mib(d.memory), vcpus: d.vcpus, status,
    disk: diskless ? num('disk', 0) : mib(d.disks.reduce((s, x) => s + x.size, 0)),
    autoBalance: L('auto-balance') !== 'false',
    primary: gName(w.primary), secondary: template === 'drbd' && w.secondary !== undefined ? gName(w.secondary) : '',
    template, tags: instanceTags(L('tags'), d.antiAffinity, iex),
    spindleUse: num('spindle-use', 1), diskSpindles: L('disk-spindles') ?? '-', forthcoming: L('forthcoming') === 'true',
    columns: num('columns', INSTANCE_COLUMNS),
  };
}

/** Kept tags, minus exclusion tags the manifest dropped from antiAffinity, plus the ones it added. */
function instanceTags(kept: string | undefined, anti: readonly string[], iex: readonly string[]): string[] {
  const tags = (kept ? kept.split(',') : []).filter((t) => !iex.some((p) => t.startsWith(p)) || anti.includes(t));
  return [...tags, ...anti.filter((a) => !tags.includes(a))];
}

function exportNode(n: DesiredNode, u: Use | undefined, groups: readonly GanetiGroup[], input: ExportInput): GanetiNode {
  const where = `${at(n.source)}Node "${n.name}"`;
  const num = (k: string, dflt: number): number => numLabel(n.labels, k, dflt, where);
  const cap = { ...input.observedCapacity?.(n.name), ...n.capacity };
  const [tMem, tDsk, nMem] = [mib(cap.memory ?? 0), mib(cap.disk ?? 0), num('node-memory', 0)];
  const tags = n.labels[`${LABEL}tags`];
  // htools has no drained flag: Ganeti's own loaders hand it drained nodes as offline, and so do we.
  const offline = n.offline || n.drained || (input.unreachable?.has(n.name) ?? false);
  return {
    name: n.labels[`${LABEL}name`] ?? n.name,
    totalMemory: tMem, nodeMemory: nMem, freeMemory: tMem - nMem - num('unaccounted-memory', 0) - (u?.mem ?? 0),
    totalDisk: tDsk, freeDisk: tDsk - num('unaccounted-disk', 0) - (u?.dsk ?? 0), cpus: cap.vcpus ?? 0,
    role: offline ? 'Y' : n.labels[`${LABEL}role`] === 'M' ? 'M' : 'N',
    groupUuid: groups.find((g) => g.name === n.group)!.uuid,
    spindles: num('spindles', 1), tags: tags ? tags.split(',') : [], exclusiveStorage: false,
    freeSpindles: num('free-spindles', 0), nodeCpus: num('node-cpus', 1), cpuSpeed: num('cpu-speed', 1),
    unknownResources: false, columns: num('columns', NODE_COLUMNS),
  };
}
