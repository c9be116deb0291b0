/**
 * Operations: what a plan asks apply/ to do, one instance at a time. A discriminated union on
 * `type`. `cause` says why, as data (causes.ts); the sentence people read is rendered from it.
 */
import type { Cause } from './causes.ts';
import type { DiskSpec, DiskTemplate, HealthCheck, PortSpec, VmBoot } from './desired.ts';
import type { NicBinding } from './nics.ts';

/**
 * What a container (or a VM) is made of: everything the driver needs to create it, and nothing else. The VM
 * fields are absent on containers, so that they change no container's spec hash (model/hash.ts).
 */
export interface InstanceSpec {
  readonly name: string;
  /** A container image; for a VM the disk image file disk 0 starts from ('' for none). */
  readonly image: string;
  readonly hypervisor?: 'kvm';
  readonly boot?: VmBoot;
  readonly machine?: string;
  readonly memory: number; // bytes
  readonly vcpus: number;
  readonly diskTemplate: DiskTemplate;
  readonly disks: readonly DiskSpec[];
  readonly env: Readonly<Record<string, string>>;
  readonly command?: readonly string[];
  readonly ports: readonly PortSpec[];
  /**
   * Its NICs on the node the operation creates or restores it on (the link is that node's): plan/ builds
   * them from the Network documents and the store's assignments. Absent (plans saved before NICs): none.
   */
  readonly nics?: readonly NicBinding[];
}

interface Base {
  readonly instance: string;
  readonly cause: Cause;
}

/** One field of the spec, from what was applied to what the manifest says, in the manifest's units (`memory: 1G → 768M`). */
export interface FieldChange {
  readonly path: string;
  readonly from: string;
  readonly to: string;
}

/** What a change does to a running instance: nothing (in place), a restart, or a new container (disks kept). */
export type Disruption = 'none' | 'restart' | 'recreate';

/** An operation that changes the spec of an instance where it is: its fields and how disruptive it is. */
interface Changing extends Base {
  /** Empty when the fields are unknown (what was applied is not recorded: applied by an older version). */
  readonly changes: readonly FieldChange[];
  /** The fields that only a new container can change are not known (placement applied by an older version). */
  readonly fieldsUnknown?: true;
  readonly disruption: Disruption;
}

/**
 * An operation that leaves the instance running again after taking it down: with a health check,
 * it is done only once the check passes (the next member of its group waits for that).
 */
interface BringsBack {
  readonly health?: HealthCheck;
}

export interface CreateInstance extends Base {
  readonly type: 'CreateInstance';
  readonly primary: string;
  readonly secondary?: string;
  readonly spec: InstanceSpec;
  readonly generation: number;
  readonly start: boolean;
}
export interface SyncDisks extends Base {
  readonly type: 'SyncDisks';
  readonly primary: string;
  readonly secondary: string;
}
export interface StartInstance extends Base, BringsBack {
  readonly type: 'StartInstance';
  readonly primary: string;
}
export interface StopInstance extends Base {
  readonly type: 'StopInstance';
  readonly primary: string;
}
/**
 * Why a migration is (or was) cold: the backend cannot migrate live, the instance is stopped (nothing
 * to keep), it publishes ports (only an instance without them moves live today), `node` cannot
 * checkpoint, or the driver tried and fell back (apply only; its words in `why`).
 */
export type ColdCause = 'backend' | 'stopped' | 'ports' | 'no-checkpoint' | 'fell-back';

/** What the planner expects of a migration, from the backend's capabilities, the spec and the nodes. */
export type MigrationForecast =
  | {
    readonly path: 'live';
    /** Nodes not probed for checkpointing yet: live is tried, and falls back to cold if it cannot be. */
    readonly unprobed?: readonly string[];
  }
  | { readonly path: 'cold'; readonly cause: ColdCause; readonly node?: string };

/** Which path a migration took, as the journal records it. */
export type MigrationPath =
  | { readonly path: 'live'; readonly downtimeMs: number }
  | { readonly path: 'cold'; readonly cause: ColdCause; readonly why?: string };

/** Move a running or stopped instance to its secondary and swap roles; nothing is lost. */
export interface MigrateInstance extends Base, BringsBack {
  readonly type: 'MigrateInstance';
  readonly from: string;
  readonly to: string;
  readonly spec: InstanceSpec;
  readonly generation: number;
  /** Run it on `to` afterwards (false for an instance that should stay stopped). */
  readonly start: boolean;
  /** Live or cold, as far as the planner can tell (absent in plans saved before it was added). */
  readonly expected?: MigrationForecast;
}
/**
 * Move an instance to a node that holds no copy of it: create its disks there, copy them, stop,
 * final copy, start there, remove the old copy. The secondary, if any, stays.
 */
export interface MoveInstance extends Base, BringsBack {
  readonly type: 'MoveInstance';
  readonly from: string;
  readonly to: string;
  readonly secondary?: string;
  readonly spec: InstanceSpec;
  readonly generation: number;
  readonly start: boolean;
}
/** The primary is gone: fence it, then run the instance on its secondary from the replica. */
export interface FailoverInstance extends Base {
  readonly type: 'FailoverInstance';
  readonly from: string;
  readonly to: string;
  readonly spec: InstanceSpec;
  readonly generation: number;
  readonly start: boolean;
  /** ms since epoch of the last good sync of the replica: what a failover would lose after it. */
  readonly recoveryPoint?: number;
  /** A synchronous mirror kept the replica in sync (last seen so at recoveryPoint): nothing is lost. */
  readonly inSync?: true;
}
export interface ReplaceSecondary extends Base {
  readonly type: 'ReplaceSecondary';
  readonly primary: string;
  /** The old secondary; its replica is removed if the node is reachable. */
  readonly from?: string;
  readonly to: string;
  readonly disks: readonly DiskSpec[];
  readonly generation: number;
}
/** The spec changed in a way the container cannot take in place: recreate it, keep the disks. */
export interface RecreateInstance extends Changing, BringsBack {
  readonly type: 'RecreateInstance';
  readonly primary: string;
  readonly spec: InstanceSpec;
  readonly generation: number;
  readonly start: boolean;
  readonly disruption: 'recreate';
}
/** Limits the backend changes on the container as it runs (its `inPlaceResize` fields). */
export interface ModifyInstance extends Changing {
  readonly type: 'ModifyInstance';
  readonly primary: string;
  readonly spec: InstanceSpec;
  readonly disruption: 'none';
}
/** Limits the backend changes only while the container is stopped (its `restartResize` fields): stop, change, start. */
export interface RestartInstance extends Changing, BringsBack {
  readonly type: 'RestartInstance';
  readonly primary: string;
  readonly spec: InstanceSpec;
  readonly start: boolean;
  readonly disruption: 'restart';
}
/** Disks grown to the manifest's sizes, on the secondary first (a replica is never smaller than its primary), then the primary. */
export interface GrowDisk extends Changing {
  readonly type: 'GrowDisk';
  readonly primary: string;
  readonly secondary?: string;
  /** The instance's disks at their new sizes. */
  readonly disks: readonly DiskSpec[];
  readonly disruption: 'none';
}
/**
 * `metadata.renamedFrom`: give the instance's copies on its nodes (container, disks, replica) and its
 * placement the new name, in place; `instance` is the new name. Nothing moves and no data is copied
 * between nodes; the backend's capability says whether the instance restarts (`disruption`).
 */
export interface RenameInstance extends Changing {
  readonly type: 'RenameInstance';
  readonly from: string;
  readonly primary: string;
  readonly secondary?: string;
}
export interface RemoveInstance extends Base {
  readonly type: 'RemoveInstance';
  readonly primary?: string;
  readonly secondary?: string;
}
/** A copy no manifest or placement accounts for (stale after a failover, or unwanted). */
export interface RemoveOrphan extends Base {
  readonly type: 'RemoveOrphan';
  readonly node: string;
  readonly containers: boolean;
  readonly volumes: boolean;
}

export type Operation =
  | CreateInstance
  | SyncDisks
  | StartInstance
  | StopInstance
  | MigrateInstance
  | MoveInstance
  | FailoverInstance
  | ReplaceSecondary
  | RecreateInstance
  | ModifyInstance
  | RestartInstance
  | GrowDisk
  | RenameInstance
  | RemoveInstance
  | RemoveOrphan;

export type OperationType = Operation['type'];

/** The nodes an operation touches, for concurrency limits and display. */
export function nodesOf(op: Operation): string[] {
  switch (op.type) {
    case 'CreateInstance': return [op.primary, ...(op.secondary ? [op.secondary] : [])];
    case 'SyncDisks': return [op.primary, op.secondary];
    case 'StartInstance':
    case 'StopInstance':
    case 'RecreateInstance':
    case 'ModifyInstance':
    case 'RestartInstance': return [op.primary];
    case 'GrowDisk': return [op.primary, ...(op.secondary ? [op.secondary] : [])];
    case 'MigrateInstance':
    case 'FailoverInstance': return [op.from, op.to];
    case 'MoveInstance': return [op.from, op.to, ...(op.secondary ? [op.secondary] : [])];
    case 'ReplaceSecondary': return [op.primary, op.to, ...(op.from ? [op.from] : [])];
    case 'RemoveInstance':
    case 'RenameInstance': return [op.primary, op.secondary].filter((n): n is string => !!n);
    case 'RemoveOrphan': return [op.node];
  }
}

/**
 * An operation as a version older than causes saved it (a machine in flight, a plan saved with
 * --out): its sentence becomes its cause, so it runs and is journaled as it would have been.
 */
export function withCause(op: Operation): Operation {
  const saved = op as Operation & { readonly reason?: string };
  return op.cause ? op : { ...op, cause: { kind: 'legacy-reason', reason: saved.reason ?? '' } };
}

/** How a running instance fares while an operation runs, as plans show it next to the operation. */
export type Downtime =
  | 'none' // keeps running (in-place change, disk grow, replica work, a new instance)
  | 'freeze' // live migration: paused for its final sync
  | 'restart' | 'recreate'
  | 'move' // stopped, final sync, started elsewhere
  | 'already-down' // failover: its node is gone
  | 'stop' | 'start' | 'remove';

export function downtimeOf(op: Operation): Downtime {
  switch (op.type) {
    case 'ModifyInstance': case 'GrowDisk': case 'CreateInstance': case 'SyncDisks': case 'ReplaceSecondary': return 'none';
    case 'RestartInstance': return 'restart';
    case 'RenameInstance': return op.disruption === 'none' ? 'none' : 'restart';
    case 'RecreateInstance': return 'recreate';
    case 'MigrateInstance': return op.start && op.expected?.path === 'live' ? 'freeze' : op.start ? 'move' : 'none';
    case 'MoveInstance': return op.start ? 'move' : 'none';
    case 'FailoverInstance': return 'already-down';
    case 'StartInstance': return 'start';
    case 'StopInstance': return 'stop';
    case 'RemoveInstance': case 'RemoveOrphan': return 'remove';
  }
}

/** What a move loses of the data that moves: nothing after a final sync, or the writes since the replica's last sync. */
export type RecoveryPoint =
  | { readonly kind: 'none-lost'; readonly finalSync: 'frozen' | 'stopped' }
  | { readonly kind: 'in-sync'; readonly seenAt: number }
  | { readonly kind: 'last-sync'; readonly at: number }
  | { readonly kind: 'never-synced' };

export function recoveryPointOf(op: Operation): RecoveryPoint | undefined {
  switch (op.type) {
    case 'MigrateInstance': return { kind: 'none-lost', finalSync: downtimeOf(op) === 'freeze' ? 'frozen' : 'stopped' };
    case 'MoveInstance': return { kind: 'none-lost', finalSync: 'stopped' };
    case 'FailoverInstance':
      if (op.recoveryPoint === undefined) return { kind: 'never-synced' };
      return op.inSync ? { kind: 'in-sync', seenAt: op.recoveryPoint } : { kind: 'last-sync', at: op.recoveryPoint };
    default: return undefined;
  }
}
