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
  /**
   * Physical spindles (Ganeti's ndparam spindle_count, the text format's 10th node column); default 1.
   * Ganeti (without exclusive storage, which the model does not have) lets a node carry instances
   * whose summed spindle use (InstanceModel.spindleUse, primaries and secondaries alike) is at most
   * spindleRatio × spindles (the policy of the node's group): a hard limit for new placements and
   * moves, a soft one (reported, weighed by the score's spindles_cv) for what is already there.
   */
  readonly spindles?: number;
  /** Failure domains the node belongs to (Ganeti location tags, htools:nlocation). */
  readonly locationTags?: readonly string[];
  /** The cluster's master node (Ganeti role M): maintenance rolls reboot it last. Default false. */
  readonly master?: boolean;
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
  /** Ganeti spindle use (beparam spindle_use, default 1): counted on primary and secondary. */
  readonly spindleUse?: number;
  /** Number of disks, checked against the policy's disk-count bounds; default 1 (0 if diskless). */
  readonly diskCount?: number;
  /** Number of NICs, checked against the policy's nic-count bounds; default 1. */
  readonly nicCount?: number;
  /** Location tags it wishes its primary to carry (htools:desiredlocation); soft. */
  readonly desiredLocation?: readonly string[];
  /** Ganeti diskless template: no local disk (only from Ganeti files). */
  readonly diskless?: boolean;
}

/**
 * One instance size (Ganeti's ISpec), in the model's units: memory and disk size in bytes (the
 * htools text format and Ganeti's ipolicy write MiB: multiply by 2^20).
 */
export interface InstanceSpec {
  readonly memory: number; // bytes
  readonly vcpus: number;
  /** Size of each disk, bytes (Ganeti checks every disk against the bounds). */
  readonly diskSize: number;
  readonly diskCount: number;
  readonly nicCount: number;
  readonly spindleUse: number;
}

/** Ganeti's disk template names, as ipolicies list them. The model's 'replicated' is drbd. */
export type DiskTemplateName = 'drbd' | 'plain' | 'diskless' | 'file' | 'sharedfile' | 'blockdev' | 'rbd' | 'ext' | 'gluster';

/**
 * Ganeti's instance policy (ipolicy) of a cluster or a node group. An instance complies when it fits
 * one of the min/max pairs (every bound inclusive) and its template is listed. `std` is the size
 * capacity counts in (hspace's standard spec), never a default for new instances. Ganeti's defaults:
 * minMax [{min 128 MiB/1 vCPU/1 disk of 1 GiB/1 NIC/1 spindle, max 32 GiB/8 vCPUs/16 disks of 1 TiB/
 * 8 NICs/12 spindles}], std = min, every template, vcpuRatio 4, spindleRatio 32.
 */
export interface InstancePolicy {
  readonly minMax: readonly { readonly min: InstanceSpec; readonly max: InstanceSpec }[];
  readonly std: InstanceSpec;
  readonly diskTemplates: readonly DiskTemplateName[];
  /** Most vCPUs of primaries per physical CPU of a node. */
  readonly vcpuRatio: number;
  /** Most instance spindle use per node spindle (NodeModel.spindles). */
  readonly spindleRatio: number;
}

export interface AllocPolicy {
  /** The cluster's vCPU ratio (equal to instancePolicy.vcpuRatio when that is set). */
  readonly vcpuRatio: number;
  readonly memoryOvercommit: number;
  readonly redundancy: 'n+1' | 'none';
  /**
   * The cluster's spindle ratio (Ganeti ipolicy spindle-ratio; equal to instancePolicy.spindleRatio
   * when that is set). Absent: spindles are not limited (Drover's clusters without a policy).
   */
  readonly spindleRatio?: number;
  /**
   * The cluster's full instance policy. Absent: no size bounds and no template list (every instance
   * complies), the ratios above still apply.
   */
  readonly instancePolicy?: InstancePolicy;
  /**
   * A node group's own policy, by group name, already merged with the cluster's as Ganeti does (a key
   * the group sets replaces the cluster's, std merges per field). Its ratios and bounds apply to the
   * group's nodes and to instances whose primary is there; groups absent here use the cluster's.
   */
  readonly groupPolicies?: Readonly<Record<string, InstancePolicy>>;
}

export interface ClusterModel {
  readonly nodes: ReadonlyMap<string, NodeModel>;
  /** Placed instances (primary set). */
  readonly instances: ReadonlyMap<string, InstanceModel>;
  readonly policy: AllocPolicy;
}
