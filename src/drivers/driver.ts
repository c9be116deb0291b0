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
import type { NodeCapacity, DiskSpec, HealthProbe, ReplicationMode } from '../model/desired.ts';
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
  /** The most NICs one instance may have on this node (its engine's limit); absent: the backend's (BackendCapabilities.nics). */
  readonly maxNics?: number;
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

/** How a backup's copy of the disks was made consistent, and for how long the instance was frozen for it. */
export interface DiskExport {
  readonly disks: readonly number[];
  /** `frozen`: its processes were paused during a local copy; `stopped`: it was not running. */
  readonly consistency: 'frozen' | 'stopped';
  readonly frozenMs: number;
}

/** What `drover logs` asks for: output since a time, and whether to keep following it. */
export interface LogRequest {
  /** Only what came at or after this time (ms since epoch). */
  readonly since?: number;
  /** Keep writing what comes until `signal` aborts or the instance's output ends. */
  readonly follow: boolean;
  readonly signal: AbortSignal;
}

/** Where log output goes, as it came: the instance's stdout and stderr kept apart. */
export type LogWriter = (chunk: Buffer, stream: 'stdout' | 'stderr') => void;

/**
 * The operator's end of a console session. With `tty` the session gets a terminal of that size,
 * kept in step on resize (the caller has put its own terminal in raw mode); without, plain pipes.
 */
export interface ConsoleEnds {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
  readonly tty?: {
    readonly size: () => { readonly columns: number; readonly rows: number };
    /** Calls `fn` on every resize; returns how to stop. */
    readonly onResize: (fn: () => void) => () => void;
  };
}

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
  /**
   * Make `to`'s volumes equal to `from`'s, reporting byte progress. Returns the bytes copied. A running VM's
   * disk is replicated block by block as `mode` says (absent: sync, a mirror kept in sync from then on;
   * async: one increment each call, the replica then as of the call's start).
   */
  syncDisks(from: string, to: string, instance: string, onProgress?: ProgressFn, mode?: ReplicationMode): Promise<number>;

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

  /**
   * The instance's output on `node` (backends with the `logs` capability; the kind it is, there).
   * Resolves when it was all written, or, following, once `signal` aborts or the output ends.
   */
  instanceLogs?(node: string, instance: string, request: LogRequest, write: LogWriter): Promise<void>;

  /**
   * An interactive session on the running instance on `node` (backends with the `console`
   * capability: a shell in a container, a VM's serial console). Resolves with the session's exit
   * status once it ends (input closed, the shell exited); rejects with a DriverError when it
   * cannot start (not running, node unreachable).
   */
  openConsole?(node: string, instance: string, ends: ConsoleEnds): Promise<number>;

  /**
   * A consistent copy of the instance's disks on `node` (its primary), each written to `sink(disk)`
   * in the backend's own format (docker: a tar of the volume's files), which only `seedDisk` of the
   * same backend reads. A running instance is made consistent by the backend (docker: frozen for a
   * local copy, see DiskExport). Absent on backends without backups.
   */
  exportDisks?(node: string, instance: string, sink: (disk: number) => NodeJS.WritableStream): Promise<DiskExport>;
  /** Fill disk `disk` of the instance on `node` (created, not yet used) from what exportDisks wrote. Idempotent. */
  seedDisk?(node: string, instance: string, disk: number, data: NodeJS.ReadableStream): Promise<void>;

  close(): Promise<void>;
}
