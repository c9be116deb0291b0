/**
 * The API's thread (started by cli/api.ts through bin/api-worker.js): the fastify server, over
 * the looks the master sends; operators' requests and /metrics go back to the master.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Outcome } from '../api/actions.ts';
import { EventHub, type ActionRequest, type ApiMaster, type Look } from '../api/master.ts';
import { buildServer } from '../api/server.ts';
import type { ReadViews } from '../api/views.ts';
import type { PartKey, ViewsMessage } from './api-views.ts';
import { TokenFile } from '../api/tokens.ts';
import type { StoreLocation } from '../store/backend.ts';
import type { JobRecord } from '../store/types.ts';

export interface WorkerInit {
  readonly fromSource: boolean;
  readonly host: string;
  readonly port: number;
  readonly stateDir: string;
  readonly location: StoreLocation;
  readonly tls?: { readonly cert: Uint8Array; readonly key: Uint8Array };
  readonly metricsContentType?: string;
  readonly metricsAuth: boolean;
  /** Where the views thread sends what the read routes serve. */
  readonly views: MessagePort;
}

/** A look, from the master to the views thread: the manifests only when they changed, only new journal entries. */
export interface LookMessage {
  readonly look: Omit<Look, 'desired' | 'store'> & { readonly store: Omit<Look['store'], 'jobs'> };
  readonly jobs: readonly JobRecord[];
  readonly desired?: Look['desired'];
}

export type ToWorker =
  | { readonly t: 'event'; readonly event: string; readonly data: unknown }
  | { readonly t: 'reply'; readonly id: number; readonly value?: unknown; readonly error?: string }
  | { readonly t: 'close' };

export type FromWorker =
  | { readonly t: 'ready'; readonly url: string }
  | { readonly t: 'failed'; readonly message: string }
  | { readonly t: 'act'; readonly id: number; readonly request: ActionRequest }
  | { readonly t: 'metrics'; readonly id: number }
  | { readonly t: 'log'; readonly message: string };

export async function run(): Promise<void> {
  const port = parentPort!;
  const init = workerData as WorkerInit;
  const post = (m: FromWorker) => port.postMessage(m);
  const hub = new EventHub();
  const views = new Assembly(() => hub.publish('look', { at: views.current?.at }));
  init.views.on('message', (m: ViewsMessage) => views.take(m));
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let seq = 0;
  const ask = <T>(m: { t: 'act'; request: ActionRequest } | { t: 'metrics' }): Promise<T> => new Promise<T>((resolve, reject) => {
    const id = ++seq;
    waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
    post({ ...m, id });
  });
  const master: ApiMaster = { views: () => views.current, jobs: () => views.jobs.values(), hub, act: (request) => ask<Outcome>({ t: 'act', request }), location: init.location };
  const tls = init.tls && { cert: Buffer.from(init.tls.cert), key: Buffer.from(init.tls.key) };
  const app = await buildServer({
    master, tokens: new TokenFile(init.stateDir), ...(tls && { tls }), metricsAuth: init.metricsAuth,
    ...(init.metricsContentType !== undefined && { metrics: { contentType: init.metricsContentType, render: () => ask<string>({ t: 'metrics' }) } }),
    onError: (e) => post({ t: 'log', message: `unexpected error: ${e.stack ?? e.message}` }),
  });
  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'event': hub.publish(m.event, m.data); break;
      case 'reply': {
        const w = waiting.get(m.id);
        waiting.delete(m.id);
        if (m.error !== undefined) w?.reject(new Error(m.error)); else w?.resolve(m.value);
        break;
      }
      case 'close': void app.close().finally(() => port.close()); break;
    }
  });
  try {
    await app.listen({ host: init.host, port: init.port });
  } catch (e) {
    post({ t: 'failed', message: (e as Error).message });
    port.close();
    return;
  }
  const addr = app.server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : init.port;
  post({ t: 'ready', url: `${tls ? 'https' : 'http'}://${init.host.includes(':') ? `[${init.host}]` : init.host}:${bound}` });
}

/** The views as the views thread sends them: parts gathered, swapped in whole once done. */
class Assembly {
  current: ReadViews | undefined;
  readonly jobs = new Map<string, JobRecord>();
  private seq = 0;
  private parts = new Map<PartKey, unknown[]>();

  constructor(private readonly swapped: () => void) {}

  take(m: ViewsMessage): void {
    if (m.t === 'jobs') { for (const j of m.items) this.jobs.set(j.id, j); return; }
    if (m.seq !== this.seq) { this.seq = m.seq; this.parts = new Map(); }
    if (m.t === 'part') { const got = this.parts.get(m.key) ?? []; got.push(...m.items); this.parts.set(m.key, got); return; }
    const part = <T>(key: PartKey) => (this.parts.get(key) ?? []) as T[];
    this.current = {
      at: m.at, clusters: m.clusters, instances: part('instances'), nodes: part('nodes'), findings: part('findings'), drift: part('drift'),
      plan: { ...m.plan, operations: part('operations') },
    };
    this.swapped();
  }
}
