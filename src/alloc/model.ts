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
}

export interface AllocPolicy {
  readonly vcpuRatio: number;
  readonly memoryOvercommit: number;
  readonly redundancy: 'n+1' | 'none';
}

export interface ClusterModel {
  readonly nodes: ReadonlyMap<string, NodeModel>;
  /** Placed instances (primary set). */
  readonly instances: ReadonlyMap<string, InstanceModel>;
  readonly policy: AllocPolicy;
}
