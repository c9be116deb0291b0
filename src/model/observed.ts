/**
 * Observed state: what the nodes say is there, as one probe of every node returned it.
 * Produced by observe/ (through drivers/), read by plan/. Plain readonly data.
 */
import type { NodeCapacity } from './desired.ts';
import type { ObservedNic } from './nics.ts';

export type NodeHealth = 'up' | 'unreachable';

/** A container (the running form of an instance) found on a node. */
export interface ObservedContainer {
  readonly instance: string;
  readonly state: 'running' | 'stopped';
  /**
   * A running container frozen by its engine (the cgroup freezer: its processes exist, none runs).
   * `backup`: a backup of it holds it frozen for its copy right now (its helper runs), so it thaws soon;
   * `left`: nothing does (a backup killed mid-freeze, or a pause by hand), so the plan thaws it.
   */
  readonly paused?: 'backup' | 'left';
  /** Hash of what only a new container can change (image, env, command, ports, mounts): see specHash(). */
  readonly specHash: string;
  /** Bumped by Drover on every create/failover; an older copy is stale. */
  readonly generation: number;
  /**
   * The limits it really runs with (bytes, CPUs), read from the node: a backend may change them in place,
   * so they are not in the spec hash (see model/hash.ts). Absent when the driver cannot tell.
   */
  readonly memory?: number;
  readonly vcpus?: number;
  /** A VM's accelerator: `kvm` (hardware) or `tcg` (emulated); absent for containers. */
  readonly accel?: 'kvm' | 'tcg';
  /** One run of its health check (observe/ runs it for running containers that declare one). */
  readonly health?: HealthResult;
  /**
   * Its NICs as the node shows them (address and MAC), in the spec's order; absent when the driver cannot
   * tell. Judged against the store's assignment (drift, verify) only while the container runs.
   */
  readonly nics?: readonly ObservedNic[];
  /**
   * A running VM's block replication as its QEMU reports it (the primary's block jobs); absent for containers,
   * stopped VMs, and when the driver cannot ask (the VM's monitor busy with another client).
   */
  readonly replication?: ObservedReplication;
}

/**
 * `in-sync`: a write-blocking mirror is READY, every write reaches the replica before the guest sees it
 * complete (nothing would be lost); `copying`: its full copy runs; `stopped`: no mirror runs, or it ended
 * (the secondary died): the replica has nothing written since; `increments`: no mirror, replicated by
 * increments (replication.mode async), whose syncs date the replica.
 */
export type ObservedReplication =
  | { readonly kind: 'in-sync' }
  | { readonly kind: 'increments' }
  | { readonly kind: 'copying'; readonly done: number; readonly total: number }
  | { readonly kind: 'stopped'; readonly detail: string };

/** What one health check said; `output` is the command's output or the connect error, trimmed. */
export interface HealthResult {
  readonly ok: boolean;
  readonly output: string;
}

/** A disk of an instance found on a node: its primary copy, or the replica on its secondary. */
export interface ObservedVolume {
  readonly instance: string;
  readonly disk: number;
  readonly role: 'primary' | 'replica';
  readonly size: number; // bytes
  readonly generation: number;
}

export interface ObservedNode {
  readonly name: string;
  readonly health: NodeHealth;
  /** Why the node is unreachable, as the driver saw it. */
  readonly error?: string;
  /** What the node reports; undefined when unreachable. */
  readonly capacity?: NodeCapacity;
  readonly containers: readonly ObservedContainer[];
  readonly volumes: readonly ObservedVolume[];
  /** Can checkpoint a running instance (live migration), as the driver last found; absent when not known. */
  readonly canCheckpoint?: boolean;
  /** The bridges and interfaces instances can attach to (NicBinding.link); absent when the driver cannot tell. */
  readonly links?: readonly string[];
  /** The most NICs one instance may have there (its engine's limit); absent when the driver cannot tell or sets none. */
  readonly maxNics?: number;
}

export interface Observed {
  /** ms since the epoch when the probes started. */
  readonly at: number;
  readonly nodes: ReadonlyMap<string, ObservedNode>;
}
