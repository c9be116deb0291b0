/**
 * The `ganeti.drover.io/` labels `drover import ganeti` writes, read as typed fields. They carry what
 * a Ganeti cluster has and Drover's manifests have no field for (the node OS's memory, memory and
 * disk the node reports in use by nobody, CPU speed, auto_balance, ADMIN_offline, …). Export writes
 * them back; the allocator's model reads them through here, so that the cluster Drover balances is
 * the cluster Ganeti scores. Pure; a value that is not what its key wants is returned as a problem
 * (manifest/ reports it at the label), and counts as absent.
 */

export const GANETI_LABEL = 'ganeti.drover.io/';
const MiB = 2 ** 20;

type Labels = Readonly<Record<string, string>>;

export interface GanetiNodeFields {
  /** Bytes the node's own OS uses (Ganeti n_mem). */
  readonly nodeMemory?: number;
  /** Bytes in use by nobody Ganeti knows (x_mem); may be negative, as Ganeti computes it. */
  readonly unaccountedMemory?: number;
  /** Bytes of disk in use beyond the instances' disks. */
  readonly unaccountedDisk?: number;
  /** vCPUs the node OS uses; absent: the format's default (1) on an imported cluster. */
  readonly nodeVcpus?: number;
  readonly cpuSpeed?: number;
  readonly tags: readonly string[];
}

/**
 * Statuses whose instance uses memory on its primary (htools' Instance.usesMemory): the one set, for
 * manifests here and for Ganeti's text files in alloc/ganeti-model.ts (model/ is below alloc/).
 */
const USES_MEMORY: ReadonlySet<string> = new Set(['running', 'ERROR_up', 'ERROR_nodedown', 'ERROR_nodeoffline', 'ERROR_wrongnode']);
export const usesMemory = (status: string): boolean => USES_MEMORY.has(status);

/** Ganeti statuses whose admin state is down: Drover's `stopped`. */
export const stoppedStatus = (status: string): boolean => status.startsWith('ADMIN_');

/** The Ganeti status of an instance: the kept one while it agrees with the manifest's state, else the state's own. */
export function ganetiStatus(labels: Labels, state: string): string {
  const kept = labels[`${GANETI_LABEL}status`];
  return kept !== undefined && stoppedStatus(kept) === (state === 'stopped') ? kept : state === 'stopped' ? 'ADMIN_down' : 'running';
}

export interface GanetiInstanceFields {
  /** Uses memory on its primary, by its Ganeti status (an ERROR_down instance does not). */
  readonly running: boolean;
  readonly autoBalance: boolean;
  readonly adminOffline: boolean;
  readonly forthcoming: boolean;
  readonly spindleUse?: number;
  readonly diskless: boolean;
  readonly tags: readonly string[];
}

export interface LabelProblem { readonly key: string; readonly message: string }

const INT = /^-?\d+$/, NUM = /^\d+(\.\d+)?$/;

/** Reads numeric labels, noting the ones that are malformed. */
class Reader {
  readonly problems: LabelProblem[] = [];
  constructor(private readonly labels: Labels) {}
  raw(key: string): string | undefined { return this.labels[GANETI_LABEL + key]; }
  num(key: string, pattern: RegExp, what: string, min = -Infinity): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!pattern.test(v) || Number(v) < min) { this.problems.push({ key: GANETI_LABEL + key, message: `expected ${what}, got ${JSON.stringify(v)}` }); return undefined; }
    return Number(v);
  }
  mib(key: string, min = -Infinity): number | undefined {
    const v = this.num(key, INT, min === 0 ? 'a whole number of MiB, 0 or more' : 'a whole number of MiB', min);
    return v === undefined ? undefined : v * MiB;
  }
  list(key: string): string[] { const v = this.raw(key); return v ? v.split(',') : []; }
}

export function ganetiNodeFields(labels: Labels): { readonly fields: GanetiNodeFields; readonly problems: readonly LabelProblem[] } {
  const r = new Reader(labels);
  const nodeMemory = r.mib('node-memory', 0), unaccountedMemory = r.mib('unaccounted-memory'), unaccountedDisk = r.mib('unaccounted-disk');
  const cpuSpeed = r.num('cpu-speed', NUM, 'a number more than 0');
  const nodeVcpus = r.num('node-cpus', INT, 'a whole number, 0 or more', 0);
  const fields: GanetiNodeFields = {
    ...(nodeMemory !== undefined && { nodeMemory }), ...(unaccountedMemory !== undefined && { unaccountedMemory }),
    ...(unaccountedDisk !== undefined && { unaccountedDisk }),
    ...(nodeVcpus !== undefined && { nodeVcpus }),
    ...(cpuSpeed !== undefined && cpuSpeed > 0 && { cpuSpeed }),
    tags: r.list('tags'),
  };
  if (cpuSpeed === 0) r.problems.push({ key: `${GANETI_LABEL}cpu-speed`, message: 'expected a number more than 0, got "0"' });
  return { fields, problems: r.problems };
}

export function ganetiInstanceFields(labels: Labels, state: string, disks: number): { readonly fields: GanetiInstanceFields; readonly problems: readonly LabelProblem[] } {
  const r = new Reader(labels);
  const status = ganetiStatus(labels, state);
  const spindleUse = r.num('spindle-use', INT, 'a whole number, 0 or more', 0);
  return {
    fields: {
      running: usesMemory(status),
      autoBalance: r.raw('auto-balance') !== 'false',
      adminOffline: status === 'ADMIN_offline',
      forthcoming: r.raw('forthcoming') === 'true',
      ...(spindleUse !== undefined && { spindleUse }),
      diskless: r.raw('disk-template') === 'diskless' && disks === 0,
      tags: r.list('tags'),
    },
    problems: r.problems,
  };
}

/** Whether the cluster came from `drover import ganeti` (its node groups are kept in a label). */
export const isImported = (clusterLabels: Labels): boolean => clusterLabels[`${GANETI_LABEL}groups`] !== undefined;

/** Tags under an htools prefix declared in the cluster tags (`htools:KIND:PREFIX`). */
export function tagsUnder(clusterLabels: Labels, kind: 'nlocation' | 'desiredlocation', tags: readonly string[]): string[] {
  const p = `htools:${kind}:`;
  const prefixes = (clusterLabels[`${GANETI_LABEL}cluster-tags`] ?? '').split('\n').filter((t) => t.startsWith(p)).map((t) => t.slice(p.length));
  return prefixes.length === 0 ? [] : tags.filter((t) => prefixes.some((x) => t.startsWith(x)));
}
