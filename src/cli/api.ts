/**
 * Serving the master's API from a command (watch --listen, serve). The server runs in a worker
 * thread: a plan of 20,000 instances holds the master's thread for seconds, and a request must not
 * wait for it. The master sends the worker each round's look and its events; the worker sends
 * back the operators' requests, which the master carries out on its own store, and the views
 * thread sends back the N+1 it found (the master's metrics read it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { perform, type Performer } from '../api/actions.ts';
import { EventHub, type Look } from '../api/master.ts';
import type { Store } from '../store/store.ts';
import type { StoreLocation } from '../store/backend.ts';
import type { JobRecord } from '../store/types.ts';
import { UsageError, type Io } from './io.ts';
import { planJson } from './render/plan.ts';
import type { DriftItem } from '../plan/drift.ts';
import type { Plan } from '../plan/types.ts';
import type { FromWorker, LookMessage, ToWorker, WorkerInit } from './api-worker.ts';
import type { FromViews } from './api-views.ts';
import type { MasterMetrics } from '../monitor/metrics.ts';

/** The options of every command that serves the API (spread into parseArgs). */
export const LISTEN_OPTIONS = {
  listen: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'allow-http': { type: 'boolean' }, 'metrics-auth': { type: 'boolean' },
} as const;

export const LISTEN_USAGE = `  --listen ADDR        serve the API and the dashboard (and, from watch, /metrics) on HOST:PORT (:PORT is 127.0.0.1:PORT;
                       port 0 picks a free one); tokens: drover token create NAME --role viewer|operator
  --tls-cert F --tls-key F  HTTPS with the operator's certificate and key (PEM)
  --allow-http         serve plain HTTP on an address other than loopback (tokens would cross the network in clear)
  --metrics-auth       /metrics wants a viewer token too (default: open, as Prometheus scrapes usually are)`;

export interface ListenFlags {
  readonly listen?: string | undefined;
  readonly 'tls-cert'?: string | undefined;
  readonly 'tls-key'?: string | undefined;
  readonly 'allow-http'?: boolean | undefined;
  readonly 'metrics-auth'?: boolean | undefined;
}

/** What a round of the master gives: its manifests, what it observed, its plan and the drift in it. */
export interface Round {
  readonly desired: Look['desired'];
  readonly observed: Look['observed'];
  readonly plan: Plan;
  readonly drift: readonly DriftItem[];
}

/** The master's side: its latest round with the store as it is now, and the stream of its events. */
export class MasterFeed {
  readonly hub = new EventHub();
  private round: Omit<Look, 'store'> | undefined;
  private current: Look | undefined;

  constructor(private readonly store: () => Store) {}

  look(): Look | undefined { return this.current; }

  /** A new round's look: the dashboard re-reads what it shows. */
  set(r: Round): void {
    this.round = { desired: r.desired, observed: r.observed, plan: planJson(r.plan), drift: r.drift.map(({ op: _, ...d }) => d) };
    this.touch();
  }

  /** The store changed (an operator's request): the same round, the store as it is now. */
  touch(): void {
    if (!this.round) return;
    const s = this.store();
    // Machines without their xstate snapshots: readers only ask which instances are in flight.
    const machines = new Map([...s.machines].map(([id, m]) => [id, { ...m, snapshot: null }]));
    this.current = { ...this.round, store: { placements: s.placements, nodes: s.nodes, targets: s.targets, jobs: s.jobs, machines } };
    this.hub.publish('look', { at: this.round.observed.at });
  }
}

export interface Served {
  readonly url: string;
  close(): Promise<void>;
}

export async function serveApi(flags: ListenFlags, o: {
  readonly stateDir: string; readonly location: StoreLocation; readonly feed: MasterFeed; readonly performer: Omit<Performer, 'look' | 'location'>; readonly metrics?: MasterMetrics;
}, io: Io): Promise<Served> {
  const { host, port } = parseListen(flags.listen!);
  const secure = tlsFiles(flags);
  if (!secure && !isLoopback(host) && !flags['allow-http']) {
    throw new UsageError(`--listen ${flags.listen}: plain HTTP beyond loopback would send tokens in clear: give --tls-cert and --tls-key (or --allow-http)`);
  }
  const init: Omit<WorkerInit, 'views'> = {
    fromSource: import.meta.url.endsWith('.ts'), host, port, stateDir: o.stateDir, location: o.location, ...(secure && { tls: secure }),
    ...(o.metrics && { metricsContentType: o.metrics.contentType }), metricsAuth: !!flags['metrics-auth'],
  };
  // Two threads: one computes the views from each look, one serves them; their own channel between them.
  const channel = new MessageChannel();
  const launcher = fileURLToPath(new URL('../../bin/api-worker.js', import.meta.url));
  const fromSource = import.meta.url.endsWith('.ts');
  const viewsThread = new Worker(launcher, { workerData: { role: 'views', fromSource, port: channel.port1 }, transferList: [channel.port1] });
  const worker = new Worker(launcher, { workerData: { ...init, role: 'worker', views: channel.port2 }, transferList: [channel.port2] });
  viewsThread.on('message', (m: FromViews) => o.metrics?.observeN1(m.n1));
  const performer: Performer = { ...o.performer, look: () => o.feed.look(), location: o.location };
  const post = (m: ToWorker) => worker.postMessage(m);
  const looks = new LookSender(o.feed, (m) => viewsThread.postMessage(m));
  const off = o.feed.hub.subscribe((e) => { if (e.event === 'look') looks.soon(); else post({ t: 'event', event: e.event, data: e.data }); });
  worker.on('message', (m: FromWorker) => {
    if (m.t === 'act') void perform(performer, m.request).then((value) => { if (value.ok) o.feed.touch(); post({ t: 'reply', id: m.id, value }); }, (e: Error) => post({ t: 'reply', id: m.id, error: e.message }));
    else if (m.t === 'metrics') void (o.metrics?.render() ?? Promise.resolve('')).then((value) => post({ t: 'reply', id: m.id, value }), (e: Error) => post({ t: 'reply', id: m.id, error: e.message }));
    else if (m.t === 'log') io.err(`drover api: ${m.message}`);
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    worker.on('message', (m: FromWorker) => { if (m.t === 'ready') resolve(m.url); else if (m.t === 'failed') reject(new UsageError(`--listen ${flags.listen}: ${m.message}`)); });
    worker.once('error', (e) => reject(e));
    void exited.then(() => reject(new Error('the API worker stopped before it listened')));
  }).catch(async (e: Error) => { off(); await Promise.all([worker.terminate(), viewsThread.terminate()]); throw e; });
  viewsThread.on('error', (e) => io.err(`drover api: the views thread stopped: ${e.stack ?? e.message}; the API serves its last views`));
  worker.on('error', (e) => io.err(`drover api: the API stopped: ${e.stack ?? e.message}; the master goes on converging`));
  looks.soon();
  io.err(`API and dashboard on ${url}/ (OpenAPI: ${url}/api/openapi.json)`);
  return {
    url,
    close: async () => {
      off();
      looks.stop();
      post({ t: 'close' });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      await Promise.all([worker.terminate(), viewsThread.terminate()]);
    },
  };
}

/**
 * Looks to the worker, at most one a second (a look of 20,000 instances takes the worker a moment
 * to read): the newest wins; the manifests only when they changed, and only the journal entries
 * that are new or changed since the last.
 */
class LookSender {
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private desired: Look['desired'] | undefined;
  private readonly jobs = new Map<string, JobRecord>();

  constructor(private readonly feed: MasterFeed, private readonly post: (m: LookMessage) => void) {}

  soon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => { this.timer = undefined; this.send(); }, Math.max(0, this.last + 1000 - Date.now()));
  }

  stop(): void { clearTimeout(this.timer); }

  private send(): void {
    const look = this.feed.look();
    if (!look) return;
    const { desired, store: { jobs, ...store }, ...rest } = look;
    const changed = [...jobs.values()].filter((j) => this.jobs.get(j.id) !== j); // records are replaced, never edited
    for (const j of changed) this.jobs.set(j.id, j);
    this.post({ look: { ...rest, store }, jobs: changed, ...(desired !== this.desired && { desired }) });
    this.desired = desired;
    this.last = Date.now();
  }
}

export function parseListen(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new UsageError(`--listen: "${addr}" is not HOST:PORT (e.g. 127.0.0.1:8440, :8440, [::1]:8440)`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host);

/** The certificate and key, checked to load and match before anything listens. */
function tlsFiles(flags: ListenFlags): { cert: Buffer; key: Buffer } | undefined {
  const certFile = flags['tls-cert'];
  const keyFile = flags['tls-key'];
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new UsageError('--tls-cert and --tls-key go together');
  const read = (f: string, what: string) => {
    try { return fs.readFileSync(path.resolve(f)); } catch (e) { throw new UsageError(`${what} ${f}: ${(e as Error).message}`); }
  };
  const files = { cert: read(certFile, '--tls-cert'), key: read(keyFile, '--tls-key') };
  try { tls.createSecureContext(files); } catch (e) { throw new UsageError(`--tls-cert ${certFile} / --tls-key ${keyFile}: ${(e as Error).message}`); }
  return files;
}
