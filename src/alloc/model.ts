/**
 * The allocator's view of a cluster: plain numbers per node and instance, built from Desired +
 * Observed + the store by plan/, or from a Ganeti text file. Everything in alloc/ is pure.
 */

export interface NodeModel {
  readonly name: string;
  readonly group: string;
  readonly memory: number; // bytes, total usable for instances
  readonly vcpus: number;
  readonly disk: number; // bytes
  /** Takes no new instances (drained, offline, unreachable or fenced). */
  readonly drained: boolean;
  readonly offline: boolean;
  readonly labels: Readonly<Record<string, string>>;
  // Optional, Ganeti-fidelity fields (set when the model comes from a Ganeti text file; absent = the
  // neutral value, so Drover's own clusters never need them). Units as above (bytes).
  /** Memory the node's own OS uses (Ganeti n_mem); default 0. */
  readonly nodeMemory?: number;
  /** Memory in use but accounted to nobody (Ganeti x_mem = t_mem - n_mem - f_mem - instances); default 0. */
  readonly unaccountedMemory?: number;
  /** Free disk as reported by the node, when it differs from disk minus the instances' disks. */
  readonly freeDisk?: number;
  /** vCPUs the node OS uses (Ganeti's 14th node column); default 0. */
  readonly nodeVcpus?: number;
  /** CPU speed relative to a standard node (Ganeti's 15th node column); default 1. */
  readonly cpuSpeed?: number;
  /** Spindle count (Ganeti's spindle_count); default 1. */
  readonly spindles?: number;
  /** Failure domains the node belongs to (Ganeti location tags, htools:nlocation). */
  readonly locationTags?: readonly string[];
}

export interface InstanceModel {
  readonly name: string;
  readonly memory: number; // bytes
  readonly vcpus: number;
  readonly disk: number; // bytes, all disks
  readonly template: 'plain' | 'replicated';
  /** Whether it counts as running for N+1 (Ganeti counts only instances that should run). */
  readonly running: boolean;
  readonly antiAffinity: readonly string[];
  readonly primary?: string;
  readonly secondary?: string;
  // Optional, Ganeti-fidelity fields; absent = the neutral value.
  /** Ganeti auto_balance: counts for N+1 on its secondary; default true. */
  readonly autoBalance?: boolean;
  /** Ganeti ADMIN_offline: uses no vCPUs and reserves no memory on its secondary; default false. */
  readonly adminOffline?: boolean;
  /** Ganeti forthcoming instance: reserved, not yet created; counted only by the *_forth metrics. */
  readonly forthcoming?: boolean;
  /** Ganeti spindle use (default 1). */
  readonly spindleUse?: number;
  /** Location tags it wishes its primary to carry (htools:desiredlocation); soft. */
  readonly desiredLocation?: readonly string[];
  /** Ganeti diskless template: no local disk (only from Ganeti files). */
  readonly diskless?: boolean;
}

export interface AllocPolicy {
  readonly vcpuRatio: number;
  readonly memoryOvercommit: number;
  readonly redundancy: 'n+1' | 'none';
  /** Ganeti ipolicy spindle-ratio (default 32): limit of instance spindles per node spindle. */
  readonly spindleRatio?: number;
}

export interface ClusterModel {
  readonly nodes: ReadonlyMap<string, NodeModel>;
  /** Placed instances (primary set). */
  readonly instances: ReadonlyMap<string, InstanceModel>;
  readonly policy: AllocPolicy;
}
