/**
 * Where the store's records live: the seam between the Store (maps in memory, the API the rest of
 * Drover uses) and durable storage. Two implementations: the file log in the state directory (the
 * default, one host) and etcd (`--store etcd://...`, so that a standby master on another host can
 * take over).
 */
import * as path from 'node:path';
import { AppendLog } from './log.ts';
import type { BalanceTarget, JobRecord, MachineRecord, NodeRecord, Placement } from './types.ts';

/** One mutation: a keyed put (v) or delete (v: null). Replaying one twice is harmless. */
export type StoreRecord =
  | { readonly k: 'placement'; readonly name: string; readonly v: Placement | null }
  | { readonly k: 'node'; readonly name: string; readonly v: NodeRecord | null }
  | { readonly k: 'machine'; readonly name: string; readonly v: MachineRecord | null }
  /** A machine's new snapshot: the operation itself was written once, with the first record. */
  | { readonly k: 'snap'; readonly name: string; readonly s: unknown }
  | { readonly k: 'job'; readonly name: string; readonly v: JobRecord }
  | { readonly k: 'target'; readonly name: string; readonly v: BalanceTarget | null };

export interface StoreSnapshot {
  readonly placements: readonly Placement[];
  readonly nodes: readonly NodeRecord[];
  readonly machines: readonly MachineRecord[];
  readonly jobs: readonly JobRecord[];
  readonly targets?: readonly BalanceTarget[];
}

/** What a backend holds: a snapshot (if any) and the records after it, in order. */
export interface LoadedState {
  readonly snapshot: StoreSnapshot | undefined;
  readonly records: readonly StoreRecord[];
}

/** The Store's current contents, for backends that write whole values per key (etcd). */
export interface StoreState {
  readonly placements: ReadonlyMap<string, Placement>;
  readonly nodes: ReadonlyMap<string, NodeRecord>;
  readonly machines: ReadonlyMap<string, MachineRecord>;
  readonly jobs: ReadonlyMap<string, JobRecord>;
  readonly targets: ReadonlyMap<string, BalanceTarget>;
}

export interface StoreBackend {
  /** Called once by the Store, after loading, with its maps (already holding every mutation). */
  attach?(state: StoreState): void;
  /** Queue one mutation (already applied in memory); resolves when durable with its batch. */
  append(r: StoreRecord): Promise<void>;
  /** Flush, compact if the backend wants to (from `snapshot`), and let go. */
  close(snapshot: () => StoreSnapshot): Promise<void>;
}

/** A backend opened, with what it held. */
export interface OpenedBackend {
  readonly backend: StoreBackend;
  readonly loaded: LoadedState;
}

/** Where the store is: the state directory's log, or a prefix in an etcd cluster. */
export type StoreLocation =
  | { readonly kind: 'file'; readonly stateDir: string }
  | { readonly kind: 'etcd'; readonly stateDir: string; readonly endpoints: readonly string[]; readonly cluster: string };

/**
 * `--store`, else `$DROVER_STORE`, else the file store in the state directory.
 * etcd: `etcd://host:port[,host:port...][/CLUSTER]` (keys under `/drover/CLUSTER/`, default `default`).
 */
export function storeLocation(stateDir: string, flag?: string): StoreLocation {
  const spec = flag || process.env.DROVER_STORE || ''; // an empty variable counts as unset
  if (spec === '' || spec === 'file') return { kind: 'file', stateDir };
  const m = /^etcd:\/\/([^/]+)(?:\/([A-Za-z0-9._-]*))?\/?$/.exec(spec);
  if (!m) throw new StoreSpecError(`--store: "${spec}" is not etcd://host:port[,host:port...][/cluster] (or "file")`);
  const endpoints = m[1]!.split(',').filter(Boolean).map((h) => `http://${h}`);
  return { kind: 'etcd', stateDir, endpoints, cluster: m[2] || 'default' };
}

/** The store cannot be used as asked (unreachable, malformed location, lease lost): one clear line. */
export class StoreError extends Error {}

/** A malformed `--store`: a usage mistake. */
export class StoreSpecError extends StoreError {}

/** For messages: where the store is. */
export function describeLocation(l: StoreLocation): string {
  return l.kind === 'file' ? path.join(l.stateDir, 'store.log') : `etcd ${l.endpoints.map((e) => e.slice('http://'.length)).join(',')} /drover/${l.cluster}/`;
}

export interface FileOptions {
  readonly fsync: boolean;
  readonly readOnly: boolean;
}

/** The default backend: the group-committed log in the state directory (see log.ts). */
export class FileBackend implements StoreBackend {
  private constructor(private readonly log: AppendLog<StoreSnapshot, StoreRecord>) {}

  /** Synchronous, so that `new Store(dir)` stays a plain constructor. */
  static open(stateDir: string, options: FileOptions): OpenedBackend {
    const { log, loaded } = AppendLog.open<StoreSnapshot, StoreRecord>(
      path.join(stateDir, 'store.log'), { fsync: options.fsync, compactAfter: 50_000 }, options.readOnly);
    return { backend: new FileBackend(log), loaded };
  }

  append(r: StoreRecord): Promise<void> {
    return this.log.append(r);
  }

  async close(snapshot: () => StoreSnapshot): Promise<void> {
    if (this.log.shouldCompact) this.log.compact(snapshot());
    this.log.close();
  }
}
