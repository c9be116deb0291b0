/**
 * The etcd store and lease, for a standby master on another host. Spoken through etcd's JSON
 * gRPC gateway (`/v3/kv/range`, `/v3/kv/txn`, `/v3/lease/*`) with Node's fetch: six unary calls,
 * no dependency, each with its own timeout, so a dead etcd is an error we see, not a stream that
 * hangs (see CHANGELOG for why not the etcd3 package).
 *
 * Layout: `/drover/CLUSTER/{placement,node,machine,job,target}/NAME` hold whole JSON values;
 * `/drover/CLUSTER/lease` names the master. The lease key is created only if absent, attached to an
 * etcd lease (TTL 15 s, kept alive every 5 s), so a holder that dies loses it when etcd expires it.
 * Every write is a txn guarded on the lease key's create revision still being the holder's: a
 * master that lost its lease cannot write, even if it has not noticed yet.
 */
import * as os from 'node:os';
import { StoreError, type LoadedState, type OpenedBackend, type StoreBackend, type StoreLocation, type StoreRecord, type StoreSnapshot, type StoreState } from './backend.ts';
import { LeaseBusyError, LeaseLostError, TTL_MS, type LeaseHolder, type MasterLease } from './lease.ts';
import type { StoreOptions } from './store.ts';

/** etcd caps a txn at 128 operations and a request at 1.5 MiB by default: stay under both. */
const MAX_TXN_OPS = 128;
const MAX_TXN_BYTES = 1 << 20;
const REQUEST_TIMEOUT_MS = 5_000;
/** Stop acting this long after the last keep-alive etcd answered: before etcd can expire the lease. */
const GIVE_UP_MS = (TTL_MS * 2) / 3;
const POLL_MS = 250;

interface KeyValue {
  readonly key: string;
  readonly value?: string;
  readonly create_revision?: string;
  readonly lease?: string;
}
interface Header { readonly revision?: string }
interface RangeResponse { readonly header?: Header; readonly kvs?: readonly KeyValue[] }
interface TxnResponse { readonly header?: Header; readonly succeeded?: boolean }
interface LeaseResponse { readonly ID?: string; readonly TTL?: string }

type Compare = { readonly key: string; readonly target: 'CREATE'; readonly create_revision: string; readonly result: 'EQUAL' };
type RequestOp =
  | { readonly request_put: { readonly key: string; readonly value: string; readonly lease?: string } }
  | { readonly request_delete_range: { readonly key: string } };

export class EtcdError extends StoreError {}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The gateway over one or more endpoints: a network failure moves on to the next endpoint. */
export class EtcdClient {
  private current = 0;
  constructor(private readonly endpoints: readonly string[]) {}

  async call<T>(path: string, body: object): Promise<T> {
    let lastError: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const endpoint = this.endpoints[(this.current + i) % this.endpoints.length]!;
      let res: Response;
      try {
        res = await fetch(`${endpoint}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      } catch (e) {
        lastError = e;
        continue; // unreachable or too slow: try the next member
      }
      this.current = (this.current + i) % this.endpoints.length;
      const json = (await res.json()) as T & { readonly error?: string; readonly message?: string };
      if (!res.ok) throw new EtcdError(`etcd ${endpoint}${path}: ${json.message ?? json.error ?? res.status}`);
      return json;
    }
    const cause = (lastError as { cause?: { code?: string } }).cause?.code ?? (lastError as Error).message;
    throw new EtcdError(`cannot reach etcd at ${this.endpoints.map((e) => e.slice('http://'.length)).join(',')} (${cause})`);
  }

  range(key: string, prefix = false): Promise<RangeResponse> {
    return this.call<RangeResponse>('/v3/kv/range', { key: b64(key), ...(prefix && { range_end: b64(prefixEnd(key)) }) });
  }

  txn(compare: readonly Compare[], success: readonly RequestOp[]): Promise<TxnResponse> {
    return this.call<TxnResponse>('/v3/kv/txn', { compare, success });
  }
}

/** The first key after every key that starts with `prefix` (etcd's range_end for a prefix). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

const clusterPrefix = (l: Extract<StoreLocation, { kind: 'etcd' }>): string => `/drover/${l.cluster}/`;
const leaseKeyOf = (l: Extract<StoreLocation, { kind: 'etcd' }>): string => `${clusterPrefix(l)}lease`;

// ── the lease ───────────────────────────────────────────────────────────────────────────────

export class EtcdLease implements MasterLease {
  private readonly lostHandlers: ((e: Error) => void)[] = [];
  private lostError: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastOk = Date.now();

  private constructor(
    readonly client: EtcdClient,
    readonly key: string,
    /** The lease key's create revision: the fencing token every store write is guarded on. */
    readonly revision: string,
    private readonly id: string,
    readonly holder: LeaseHolder,
  ) {}

  /** Take the lease, waiting up to `waitMs` for a holder to let go (or for etcd to expire it). */
  static async acquire(location: Extract<StoreLocation, { kind: 'etcd' }>, command: string, waitMs: number): Promise<EtcdLease> {
    const client = new EtcdClient(location.endpoints);
    const key = leaseKeyOf(location);
    const deadline = Date.now() + waitMs;
    let first = true;
    for (;;) {
      try {
        const got = await EtcdLease.tryTake(client, key, command);
        if (got) return got;
        const holder = Date.now() >= deadline ? await holderOf(client, key) : undefined;
        if (holder) throw new LeaseBusyError(holder);
      } catch (e) {
        // A wrong address fails at once; an etcd blip while a standby waits is waited out.
        if (first || !(e instanceof EtcdError) || Date.now() >= deadline) throw e;
      }
      first = false;
      await sleep(POLL_MS);
    }
  }

  /** One attempt: the lease if the key was free (a standby polls this: one range get while held). */
  private static async tryTake(client: EtcdClient, key: string, command: string): Promise<EtcdLease | undefined> {
    if ((await client.range(key)).kvs?.length) return undefined;
    const granted = await client.call<LeaseResponse>('/v3/lease/grant', { TTL: TTL_MS / 1000 });
    const now = Date.now();
    const holder: LeaseHolder = { host: os.hostname(), pid: process.pid, command, acquiredAt: now, expiresAt: now + TTL_MS };
    const r = await client.txn(
      [{ key: b64(key), target: 'CREATE', create_revision: '0', result: 'EQUAL' }],
      [{ request_put: { key: b64(key), value: b64(JSON.stringify(holder)), lease: granted.ID! } }],
    );
    if (!r.succeeded) { // another master was quicker
      await client.call('/v3/lease/revoke', { ID: granted.ID }).catch(() => undefined);
      return undefined;
    }
    const lease = new EtcdLease(client, key, r.header!.revision!, granted.ID!, holder);
    lease.schedule(TTL_MS / 3);
    return lease;
  }

  static async status(location: Extract<StoreLocation, { kind: 'etcd' }>): Promise<LeaseHolder | undefined> {
    return holderOf(new EtcdClient(location.endpoints), leaseKeyOf(location));
  }

  /** Revoke the holder's etcd lease (its key goes with it): its next keep-alive or write fails. */
  static async breakLease(location: Extract<StoreLocation, { kind: 'etcd' }>): Promise<void> {
    const client = new EtcdClient(location.endpoints);
    const key = leaseKeyOf(location);
    const kv = (await client.range(key)).kvs?.[0];
    if (kv?.lease) await client.call('/v3/lease/revoke', { ID: kv.lease });
    await client.call('/v3/kv/deleterange', { key: b64(key) });
  }

  onLost(fn: (e: Error) => void): void {
    if (this.lostError) { const e = this.lostError; queueMicrotask(() => fn(e)); } else this.lostHandlers.push(fn);
  }

  get lost(): Error | undefined { return this.lostError; }

  async release(): Promise<void> {
    clearTimeout(this.timer);
    if (this.lostError) return;
    this.lostError = new LeaseLostError('the cluster lease was released');
    // Revoking deletes the lease key too: a standby takes over at once, not after the TTL.
    await this.client.call('/v3/lease/revoke', { ID: this.id }).catch(() => undefined);
  }

  /** Declare the lease lost (once): every handler runs, the store refuses further writes. */
  lose(e: Error): void {
    if (this.lostError) return;
    clearTimeout(this.timer);
    this.lostError = e;
    for (const fn of this.lostHandlers.splice(0)) fn(e);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => void this.keepAlive(), ms);
    this.timer.unref(); // the lease never keeps a finished command alive
  }

  /** Renew, and check the key is still ours (a `lock break` deletes it without revoking). */
  private async keepAlive(): Promise<void> {
    const sent = Date.now();
    try {
      const r = await this.client.call<{ result?: LeaseResponse }>('/v3/lease/keepalive', { ID: this.id });
      if (Number(r.result?.TTL ?? 0) <= 0) return this.lose(new LeaseLostError('the cluster lease expired in etcd'));
      const kv = (await this.client.range(this.key)).kvs?.[0];
      if (kv?.create_revision !== this.revision) return this.lose(new LeaseLostError('the cluster lease was broken or taken over'));
      this.lastOk = sent;
      this.schedule(TTL_MS / 3);
    } catch (e) {
      if (this.lostError) return;
      if (Date.now() - this.lastOk >= GIVE_UP_MS) return this.lose(new LeaseLostError(`no keep-alive for ${GIVE_UP_MS / 1000} s: ${(e as Error).message}`));
      this.schedule(1000);
    }
  }
}

/** Who holds the lease key, with its expiry from etcd's own lease clock; undefined when free. */
async function holderOf(client: EtcdClient, key: string): Promise<LeaseHolder | undefined> {
  const kv = (await client.range(key)).kvs?.[0];
  if (!kv) return undefined;
  const holder = JSON.parse(unb64(kv.value)) as LeaseHolder;
  const ttl = kv.lease ? await client.call<LeaseResponse>('/v3/lease/timetolive', { ID: kv.lease }) : undefined;
  return { ...holder, expiresAt: Date.now() + Number(ttl?.TTL ?? 0) * 1000 };
}

// ── the store backend ───────────────────────────────────────────────────────────────────────

type Kind = 'placement' | 'node' | 'machine' | 'job' | 'target';
const KINDS: readonly Kind[] = ['placement', 'node', 'machine', 'job', 'target'];

/** Open the store at `location`: one range get of the prefix. Writes need the etcd lease. */
export async function openEtcdBackend(location: Extract<StoreLocation, { kind: 'etcd' }>, options: StoreOptions): Promise<OpenedBackend> {
  const lease = options.lease;
  if (!options.readOnly && !(lease instanceof EtcdLease)) throw new StoreError('writing to the etcd store needs its cluster lease (taken in etcd)');
  const client = lease instanceof EtcdLease ? lease.client : new EtcdClient(location.endpoints);
  const prefix = clusterPrefix(location);
  const r = await client.range(prefix, true);
  const backend = new EtcdBackend(client, prefix, options.readOnly ? undefined : (lease as EtcdLease));
  return { backend, loaded: recordsOf(prefix, r.kvs ?? []) };
}

function recordsOf(prefix: string, kvs: readonly KeyValue[]): LoadedState {
  const records: StoreRecord[] = [];
  for (const kv of kvs) {
    const [kind, ...rest] = unb64(kv.key).slice(prefix.length).split('/');
    if (!KINDS.includes(kind as Kind) || !rest.length) continue; // the lease key, or not ours
    // Whole values per key: a put record of each, with the same shape the file log replays.
    records.push({ k: kind as Kind, name: rest.join('/'), v: JSON.parse(unb64(kv.value)) } as StoreRecord);
  }
  return { snapshot: undefined, records };
}

interface Waiter { readonly resolve: () => void; readonly reject: (e: Error) => void }

/**
 * Mutations of one tick go out as one guarded txn (more if past etcd's limits), one batch at a
 * time so they land in order. Keys are coalesced: a batch writes each key's value as it is in the
 * Store when the batch is sent, which is what etcd's one-put-per-key-per-txn rule needs anyway.
 */
class EtcdBackend implements StoreBackend {
  private state: StoreState | undefined;
  private dirty = new Map<string, { readonly kind: Kind; readonly name: string }>();
  private waiters: Waiter[] = [];
  private sending: Promise<void> | undefined;
  private failed: Error | undefined;

  constructor(private readonly client: EtcdClient, private readonly prefix: string, private readonly lease: EtcdLease | undefined) {
    lease?.onLost((e) => this.fail(e));
  }

  attach(state: StoreState): void { this.state = state; }

  append(r: StoreRecord): Promise<void> {
    if (!this.lease) return Promise.reject(new StoreError('the etcd store was opened read-only'));
    if (this.failed) return Promise.reject(this.failed);
    const kind: Kind = r.k === 'snap' ? 'machine' : r.k;
    this.dirty.set(`${this.prefix}${kind}/${r.name}`, { kind, name: r.name });
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.sending) this.sending = new Promise<void>((r) => setImmediate(r)).then(() => this.drain());
    return done;
  }

  async close(_snapshot: () => StoreSnapshot): Promise<void> {
    // etcd keeps one value per key (its own history is compacted by etcd): nothing to compact here.
    await this.sending;
  }

  /** Send batches until nothing is dirty. */
  private async drain(): Promise<void> {
    while (this.dirty.size && !this.failed) {
      const batch = this.dirty;
      const waiters = this.waiters;
      this.dirty = new Map();
      this.waiters = [];
      try {
        for (const ops of chunks(this.opsOf(batch))) await this.send(ops);
        for (const w of waiters) w.resolve();
      } catch (e) {
        for (const w of waiters) w.reject(e as Error);
      }
    }
    this.sending = undefined;
  }

  private opsOf(batch: ReadonlyMap<string, { readonly kind: Kind; readonly name: string }>): RequestOp[] {
    return [...batch].map(([key, { kind, name }]) => {
      const v = this.valueOf(kind, name);
      return v === undefined ? { request_delete_range: { key: b64(key) } } : { request_put: { key: b64(key), value: b64(JSON.stringify(v)) } };
    });
  }

  private valueOf(kind: Kind, name: string): unknown {
    const s = this.state!;
    const maps = { placement: s.placements, node: s.nodes, machine: s.machines, job: s.jobs, target: s.targets } as const;
    return maps[kind].get(name);
  }

  /** One guarded txn; a network failure is retried (puts of whole values are idempotent) until the lease is lost. */
  private async send(ops: readonly RequestOp[]): Promise<void> {
    const lease = this.lease!;
    const guard: Compare = { key: b64(lease.key), target: 'CREATE', create_revision: lease.revision, result: 'EQUAL' };
    for (;;) {
      if (this.failed) throw this.failed;
      try {
        const r = await this.client.txn([guard], ops);
        if (r.succeeded) return;
        lease.lose(new LeaseLostError('the cluster lease is no longer ours: another master holds it, or it was broken'));
        throw this.failed ?? new LeaseLostError('lease lost');
      } catch (e) {
        if (!(e instanceof EtcdError) || e instanceof LeaseLostError) throw e;
        await sleep(500);
      }
    }
  }

  private fail(e: Error): void {
    this.failed = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
    this.dirty.clear();
  }
}

/** Split ops into txns within etcd's default limits. */
function chunks(ops: readonly RequestOp[]): RequestOp[][] {
  const out: RequestOp[][] = [];
  let cur: RequestOp[] = [];
  let bytes = 0;
  for (const op of ops) {
    const size = JSON.stringify(op).length;
    if (cur.length && (cur.length >= MAX_TXN_OPS || bytes + size > MAX_TXN_BYTES)) { out.push(cur); cur = []; bytes = 0; }
    cur.push(op);
    bytes += size;
  }
  if (cur.length) out.push(cur);
  return out;
}
