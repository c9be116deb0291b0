/**
 * The htools text backend format (`hscan`, `hbal -S`, Ganeti's test/data/htools/*.data): parse into a
 * faithful structure and format it back byte for byte. Line-based, `|`-separated; sections (groups,
 * nodes, instances, cluster tags, optional instance policies) separated by one empty line. Missing
 * trailing columns (older files) are remembered, so the round trip is exact. Memory and disk in MiB,
 * as in the file; conversion to Drover's model (bytes) is in ganeti-model.ts.
 */

export interface GanetiGroup {
  readonly name: string;
  readonly uuid: string;
  readonly allocPolicy: string;
  readonly tags: readonly string[];
  readonly networks: readonly string[];
  /** Columns present in the file (3–5). */
  readonly columns: number;
}

export interface GanetiNode {
  readonly name: string;
  readonly totalMemory: number;
  readonly nodeMemory: number;
  readonly freeMemory: number;
  readonly totalDisk: number;
  readonly freeDisk: number;
  readonly cpus: number;
  /** `N` online, `M` master (online), `Y` offline. */
  readonly role: 'N' | 'M' | 'Y';
  readonly groupUuid: string;
  readonly spindles: number;
  readonly tags: readonly string[];
  readonly exclusiveStorage: boolean;
  readonly freeSpindles: number;
  readonly nodeCpus: number;
  readonly cpuSpeed: number;
  /** A `?` in a resource column: Ganeti loads the node offline with no resources. */
  readonly unknownResources: boolean;
  /** Original text of columns 2–7 when unknownResources (to write them back). */
  readonly rawResources?: readonly string[];
  readonly columns: number;
  /** 1-based line in the parsed file (not written back). */
  readonly line?: number;
}

export interface GanetiInstance {
  readonly name: string;
  readonly memory: number;
  readonly disk: number;
  readonly vcpus: number;
  /** Ganeti's status string: running, ADMIN_down, ADMIN_offline, ERROR_up, … */
  readonly status: string;
  readonly autoBalance: boolean;
  readonly primary: string;
  /** Empty when none. */
  readonly secondary: string;
  readonly template: string;
  readonly tags: readonly string[];
  readonly spindleUse: number;
  /** `-` when not exclusive storage. */
  readonly diskSpindles: string;
  readonly forthcoming: boolean;
  readonly columns: number;
  /** 1-based line in the parsed file (not written back). */
  readonly line?: number;
}

export interface ISpec {
  readonly memory: number;
  readonly cpus: number;
  readonly diskSize: number;
  readonly diskCount: number;
  readonly nicCount: number;
  readonly spindleUse: number;
}

export interface GanetiPolicy {
  /** '' for the cluster, else a group name. */
  readonly owner: string;
  readonly std: ISpec;
  readonly minMax: readonly { readonly min: ISpec; readonly max: ISpec }[];
  readonly diskTemplates: readonly string[];
  readonly vcpuRatio: number;
  readonly spindleRatio: number;
}

export interface GanetiCluster {
  readonly groups: readonly GanetiGroup[];
  readonly nodes: readonly GanetiNode[];
  readonly instances: readonly GanetiInstance[];
  readonly clusterTags: readonly string[];
  /** Absent when the file has no policy section. */
  readonly policies?: readonly GanetiPolicy[];
  /** Text after the policy section (ignored by Ganeti), kept for the round trip. */
  readonly trailer: string;
}

export class GanetiTextError extends Error {
  constructor(readonly file: string, readonly line: number, readonly detail: string) {
    super(`${file}:${line}: ${detail}`);
    this.name = 'GanetiTextError';
  }
}

interface Line { readonly text: string; readonly no: number }

/** Splits into sections at single empty lines (two in a row = an empty section). */
function sections(text: string): Line[][] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const out: Line[][] = [[]];
  lines.forEach((t, i) => {
    if (t === '') out.push([]);
    else out[out.length - 1]!.push({ text: t, no: i + 1 });
  });
  return out;
}

export function parseGanetiText(text: string, file = '<input>'): GanetiCluster {
  const secs = sections(text);
  if (secs.length < 4) throw new GanetiTextError(file, text.split('\n').length, `expected at least 4 sections (groups, nodes, instances, tags), found ${secs.length}`);
  const err = (l: Line, msg: string): GanetiTextError => new GanetiTextError(file, l.no, msg);
  const int = (l: Line, s: string | undefined, what: string): number => {
    if (s === undefined || !/^-?\d+$/.test(s)) throw err(l, `${what}: expected an integer, got ${JSON.stringify(s ?? '')}`);
    return Number(s);
  };
  const float = (l: Line, s: string, what: string): number => {
    if (!/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(s)) throw err(l, `${what}: expected a number, got ${JSON.stringify(s)}`);
    return Number(s);
  };
  const list = (s: string | undefined): string[] => (s === undefined || s === '' ? [] : s.split(','));
  const yn = (l: Line, s: string, what: string): boolean => {
    if (s !== 'Y' && s !== 'N') throw err(l, `${what}: expected Y or N, got ${JSON.stringify(s)}`);
    return s === 'Y';
  };

  const groups = secs[0]!.map((l): GanetiGroup => {
    const c = l.text.split('|');
    if (c.length < 3 || c.length > 5) throw err(l, `node group: expected 3 to 5 columns, found ${c.length}`);
    return { name: c[0]!, uuid: c[1]!, allocPolicy: c[2]!, tags: list(c[3]), networks: list(c[4]), columns: c.length };
  });
  const groupUuids = new Set(groups.map((g) => g.uuid));

  const nodes = secs[1]!.map((l): GanetiNode => {
    const c = l.text.split('|');
    if (c.length < 9 || c.length > 15) throw err(l, `node: expected 9 to 15 columns, found ${c.length}`);
    const role = c[7]!;
    if (role !== 'N' && role !== 'M' && role !== 'Y') throw err(l, `node ${c[0]}: role must be N, M or Y, got ${JSON.stringify(role)}`);
    if (!groupUuids.has(c[8]!)) throw err(l, `node ${c[0]}: unknown node group uuid ${JSON.stringify(c[8])}`);
    const res = c.slice(1, 7);
    const unknown = res.some((x) => x === '?');
    const num = (j: number, what: string): number => (unknown ? 0 : int(l, c[j], `node ${c[0]} ${what}`));
    return {
      name: c[0]!,
      totalMemory: num(1, 'total memory'), nodeMemory: num(2, 'node memory'), freeMemory: num(3, 'free memory'),
      totalDisk: num(4, 'total disk'), freeDisk: num(5, 'free disk'), cpus: num(6, 'cpus'),
      role, groupUuid: c[8]!,
      spindles: c.length > 9 ? int(l, c[9], `node ${c[0]} spindles`) : 1,
      tags: list(c[10]),
      exclusiveStorage: c.length > 11 ? yn(l, c[11]!, `node ${c[0]} exclusive storage`) : false,
      freeSpindles: c.length > 12 ? int(l, c[12], `node ${c[0]} free spindles`) : 0,
      nodeCpus: c.length > 13 ? int(l, c[13], `node ${c[0]} node cpus`) : 1,
      cpuSpeed: c.length > 14 ? float(l, c[14]!, `node ${c[0]} cpu speed`) : 1,
      unknownResources: unknown,
      ...(unknown ? { rawResources: res } : {}),
      columns: c.length,
      line: l.no,
    };
  });
  const nodeNames = new Set<string>();
  secs[1]!.forEach((l, i) => {
    if (nodeNames.has(nodes[i]!.name)) throw err(l, `duplicate node ${nodes[i]!.name}`);
    nodeNames.add(nodes[i]!.name);
  });

  const instNames = new Set<string>();
  const instances = secs[2]!.map((l): GanetiInstance => {
    const c = l.text.split('|');
    if (c.length < 9 || c.length > 13) throw err(l, `instance: expected 9 to 13 columns, found ${c.length}`);
    const name = c[0]!;
    if (instNames.has(name)) throw err(l, `duplicate instance ${name}`);
    instNames.add(name);
    if (!nodeNames.has(c[6]!)) throw err(l, `instance ${name}: unknown primary node ${JSON.stringify(c[6])}`);
    if (c[7] !== '' && !nodeNames.has(c[7]!)) throw err(l, `instance ${name}: unknown secondary node ${JSON.stringify(c[7])}`);
    if (c[7] === c[6]) throw err(l, `instance ${name}: primary and secondary are the same node`);
    return {
      name,
      memory: int(l, c[1], `instance ${name} memory`), disk: int(l, c[2], `instance ${name} disk`),
      vcpus: int(l, c[3], `instance ${name} vcpus`), status: c[4]!,
      autoBalance: yn(l, c[5]!, `instance ${name} auto_balance`),
      primary: c[6]!, secondary: c[7]!, template: c[8]!, tags: list(c[9]),
      spindleUse: c.length > 10 ? int(l, c[10], `instance ${name} spindle use`) : 1,
      diskSpindles: c.length > 11 ? c[11]! : '-',
      forthcoming: c.length > 12 ? yn(l, c[12]!, `instance ${name} forthcoming`) : false,
      columns: c.length,
      line: l.no,
    };
  });

  const clusterTags = secs[3]!.map((l) => l.text);
  let policies: GanetiPolicy[] | undefined;
  let trailer = '';
  if (secs.length > 4) {
    const spec = (l: Line, s: string): ISpec => {
      const v = s.split(',');
      if (v.length !== 6) throw err(l, `instance spec ${JSON.stringify(s)}: expected 6 comma-separated integers`);
      const n = v.map((x) => int(l, x, 'instance spec'));
      return { memory: n[0]!, cpus: n[1]!, diskSize: n[2]!, diskCount: n[3]!, nicCount: n[4]!, spindleUse: n[5]! };
    };
    policies = secs[4]!.map((l): GanetiPolicy => {
      const c = l.text.split('|');
      if (c.length !== 6) throw err(l, `instance policy: expected 6 columns, found ${c.length}`);
      const mm = c[2]!.split(';');
      if (mm.length % 2 !== 0) throw err(l, 'instance policy: min/max specs must come in pairs');
      const minMax: { min: ISpec; max: ISpec }[] = [];
      for (let i = 0; i < mm.length; i += 2) minMax.push({ min: spec(l, mm[i]!), max: spec(l, mm[i + 1]!) });
      return {
        owner: c[0]!, std: spec(l, c[1]!), minMax, diskTemplates: list(c[3]),
        vcpuRatio: float(l, c[4]!, 'vcpu ratio'), spindleRatio: float(l, c[5]!, 'spindle ratio'),
      };
    });
    const lines = text.split('\n');
    const lastPolicy = secs[4]!.length > 0 ? secs[4]![secs[4]!.length - 1]!.no : undefined;
    if (lastPolicy !== undefined) trailer = lines.slice(lastPolicy).join('\n');
    else trailer = secs.slice(5).map((s) => s.map((l) => l.text).join('\n')).join('\n');
  }
  return { groups, nodes, instances, clusterTags, ...(policies ? { policies } : {}), trailer };
}

/** Haskell's `show` for a Double, as htools writes ratios and cpu speed: 4.0, 1.5. */
function showDouble(x: number): string {
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

function showSpec(s: ISpec): string {
  return [s.memory, s.cpus, s.diskSize, s.diskCount, s.nicCount, s.spindleUse].join(',');
}

export function formatGanetiText(c: GanetiCluster): string {
  const groups = c.groups.map((g) => [g.name, g.uuid, g.allocPolicy, g.tags.join(','), g.networks.join(',')].slice(0, g.columns).join('|'));
  const nodes = c.nodes.map((n) => {
    const res = n.rawResources ?? [n.totalMemory, n.nodeMemory, n.freeMemory, n.totalDisk, n.freeDisk, n.cpus].map(String);
    return [
      n.name, ...res, n.role, n.groupUuid, String(n.spindles), n.tags.join(','), n.exclusiveStorage ? 'Y' : 'N',
      String(n.freeSpindles), String(n.nodeCpus), showDouble(n.cpuSpeed),
    ].slice(0, n.columns).join('|');
  });
  const insts = c.instances.map((i) => [
    i.name, String(i.memory), String(i.disk), String(i.vcpus), i.status, i.autoBalance ? 'Y' : 'N', i.primary, i.secondary,
    i.template, i.tags.join(','), String(i.spindleUse), i.diskSpindles, i.forthcoming ? 'Y' : 'N',
  ].slice(0, i.columns).join('|'));
  const parts = [groups, nodes, insts, [...c.clusterTags]].map((s) => s.join('\n'));
  if (c.policies) {
    parts.push(c.policies.map((p) => [
      p.owner, showSpec(p.std), p.minMax.map((m) => `${showSpec(m.min)};${showSpec(m.max)}`).join(';'),
      p.diskTemplates.join(','), showDouble(p.vcpuRatio), showDouble(p.spindleRatio),
    ].join('|')).join('\n'));
  }
  // Each section ends with its own newline, and sections are separated by one empty line.
  let out = parts.map((p) => (p === '' ? '' : p + '\n')).join('\n');
  if (c.trailer !== '') out += c.trailer;
  return out;
}
