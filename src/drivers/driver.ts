/**
 * The one interface through which Drover touches nodes. Each backend implements it, and
 * test/support/contract.ts runs the same suite against every backend.
 *
 * Contract for every method that changes something: it is idempotent (calling it again after a
 * crash, or after it half-happened, converges to the same result), it only touches objects carrying
 * Drover's labels for this cluster, and it rejects with a DriverError whose `transient` says whether
 * a retry can help.
 */
import type { BackendName } from './backends.ts';
import type { NodeCapacity, DiskSpec, HealthProbe } from '../model/desired.ts';
import type { HealthResult, ObservedContainer, ObservedVolume } from '../model/observed.ts';
import type { ColdCause, InstanceSpec } from '../model/operations.ts';

export class DriverError extends Error {
  constructor(
    message: string,
    /** A retry may succeed (node unreachable, timeout, 5xx); false for 4xx-like faults. */
    readonly transient: boolean,
    readonly node?: string,
    /** The engine's HTTP status when it answered one; classify errors by this, never by message text. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DriverError';
  }
}

/** One look at a node: everything observe/ needs from it. Rejects with DriverError when unreachable. */
export interface NodeProbe {
  readonly capacity: NodeCapacity;
  readonly containers: readonly ObservedContainer[];
  readonly volumes: readonly ObservedVolume[];
  /**
   * Whether a live migration from or to this node can keep process state, as far as the driver
   * knows from a real (cached) checkpoint probe; absent when not known yet or not applicable.
   */
  readonly canCheckpoint?: boolean;
  /**
   * The host bridges and interfaces on the node an instance's NIC can attach to (NicBinding.link), when
   * the driver can list them; absent when it cannot tell (then a missing link shows only at create).
   */
  readonly links?: readonly string[];
}

/**
 * What a live-migration attempt did. `live`: the instance runs on `to` only, its disks synced while it
 * was frozen; role markers are untouched (apply/ promotes and demotes). `cold`: nothing changed — the
 * instance is as it was on `from` (running, never paused) and nothing runs on `to`; apply/ then moves
 * it cold and the journal records `live → cold` with `why`.
 */
export type LiveMigrateResult =
  | { readonly kind: 'live'; readonly downtimeMs: number }
  | {
    readonly kind: 'cold';
    /** Typed, for decisions and tests: which of the planner's cold causes held (`node`: the one that cannot checkpoint). */
    readonly cause: Exclude<ColdCause, 'backend'>;
    readonly node?: string;
    /** For people: the driver's words. */
    readonly why: string;
  };

/** The limits a backend may change on an existing container. */
export interface Limits {
  readonly memory?: number; // bytes
  readonly vcpus?: number;
}

export type ProgressFn = (bytesDone: number, bytesTotal: number) => void;

export interface Driver {
  readonly backend: BackendName;

  probe(node: string): Promise<NodeProbe>;

  /**
   * Make the instance's volumes exist on `node` in the given role and generation. Existing volumes
   * keep their contents (this is also how a former primary becomes a replica).
   */
  createDisks(node: string, instance: string, disks: readonly DiskSpec[], role: 'primary' | 'replica', generation: number): Promise<void>;
  /** Remove all of the instance's volumes on `node`. Absent volumes are fine. */
  removeDisks(node: string, instance: string): Promise<void>;
  /** Mark the instance's volumes on `node` as its primary copy (after a migrate or failover). */
  promoteDisks(node: string, instance: string, generation: number): Promise<void>;
  /** Make `to`'s volumes equal to `from`'s, reporting byte progress. Returns the bytes copied. */
  syncDisks(from: string, to: string, instance: string, onProgress?: ProgressFn): Promise<number>;

  /** Create the container (stopped). An existing one with the same spec hash and generation is kept. */
  createInstance(node: string, spec: InstanceSpec, generation: number): Promise<void>;
  startInstance(node: string, instance: string): Promise<void>;
  stopInstance(node: string, instance: string): Promise<void>;
  /**
   * Change the limits of the instance's container as it is (running or stopped; backends with the
   * `inPlaceResize` capability, for those fields). Probes show the new limits afterwards.
   */
  updateInstance(node: string, instance: string, limits: Limits): Promise<void>;
  /**
   * Grow disk `disk` of the instance on `node` to `size` bytes, keeping its contents (primary or replica
   * alike). A disk already that large is left alone; rejects when the node has not the room.
   */
  growDisk(node: string, instance: string, disk: number, size: number): Promise<void>;
  /** Remove the container (stopping it first). Absent is fine. */
  removeInstance(node: string, instance: string): Promise<void>;

  /**
   * Give everything of instance `from` on `node` (container, volumes, role marker) the name `to`,
   * keeping contents, role, generation and running state (backends whose `rename` capability is
   * `restart` may leave it stopped: apply/ starts it again). Idempotent, and resumable at any point:
   * whatever is still under `from` moves, what is already under `to` stays; nothing under either is fine.
   * Absent on backends that cannot rename (capability `rename: no`).
   */
  renameInstance?(node: string, from: string, to: string): Promise<void>;

  /**
   * The backend's own power switch (backends with the `powerSwitch` capability): `node` runs nothing
   * until it is restored. Used only by apply/'s fencing, which is cluster policy (apply/fence.ts).
   */
  powerOff?(node: string): Promise<void>;

  /**
   * Live migration (process state kept) where both nodes support it; absent on backends that cannot.
   * See LiveMigrateResult: a failed or impossible attempt resolves `cold` with the instance as it was;
   * it rejects only when it cannot tell (and then the instance must still not be left paused).
   */
  liveMigrate?(from: string, to: string, spec: InstanceSpec, generation: number, onProgress?: ProgressFn): Promise<LiveMigrateResult>;

  /**
   * Run one health check of a running instance: an `exec` inside it, or a TCP connect to its port
   * from inside its network namespace. Resolves unhealthy when the check fails or takes longer than
   * `timeoutMs`; rejects with a DriverError only when the node cannot be asked.
   */
  checkHealth(node: string, instance: string, probe: HealthProbe, timeoutMs: number): Promise<HealthResult>;

  /**
   * Which of these images `node` holds (verify reports nodes whose images differ). Absent on
   * backends without images of their own (sim).
   */
  imagesPresent?(node: string, images: readonly string[]): Promise<readonly string[]>;

  close(): Promise<void>;
}
