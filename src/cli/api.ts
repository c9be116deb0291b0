/**
 * Starting the master's API from a command (watch --listen, serve): the listen address, the
 * operator's TLS certificate, and the ApiMaster the server reads.
 */
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { buildServer, type MetricsSource } from '../api/server.ts';
import { EventHub, type ApiMaster, type Look } from '../api/master.ts';
import { TokenFile } from '../api/tokens.ts';
import type { StoreLocation } from '../store/backend.ts';
import type { LeaseHolder } from '../store/lease.ts';
import type { Store } from '../store/store.ts';
import { UsageError, type Io } from './io.ts';
import { planJson } from './render/plan.ts';

/** The options of every command that serves the API (spread into parseArgs). */
export const LISTEN_OPTIONS = {
  listen: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'allow-http': { type: 'boolean' }, 'metrics-auth': { type: 'boolean' },
} as const;

export const LISTEN_USAGE = `  --listen ADDR        serve the API, the dashboard and /metrics on HOST:PORT (:PORT is 127.0.0.1:PORT;
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

/** The master's side of the API: its latest look, set by each round, and the stream of its events. */
export class MasterFeed {
  readonly hub = new EventHub();
  private current: Look | undefined;

  look(): Look | undefined { return this.current; }

  /** A new round's look: the dashboard re-reads what it shows. */
  set(look: Look): void {
    this.current = look;
    this.hub.publish('look', { at: look.observed.at, operations: look.plan.operations.length, pending: look.plan.pending.length });
  }
}

export interface Served {
  readonly url: string;
  close(): Promise<void>;
}

export async function serveApi(flags: ListenFlags, o: {
  readonly stateDir: string; readonly location: StoreLocation; readonly store: () => Store; readonly feed: MasterFeed;
  readonly reconcile?: (trigger: string) => void; readonly lease?: () => LeaseHolder | undefined; readonly metrics?: MetricsSource;
}, io: Io): Promise<Served> {
  const { host, port } = parseListen(flags.listen!);
  const secure = tlsFiles(flags);
  if (!secure && !isLoopback(host) && !flags['allow-http']) {
    throw new UsageError(`--listen ${flags.listen}: plain HTTP beyond loopback would send tokens in clear: give --tls-cert and --tls-key (or --allow-http)`);
  }
  const master: ApiMaster = {
    store: o.store, look: () => o.feed.look(), hub: o.feed.hub, location: o.location, renderPlan: planJson,
    ...(o.reconcile && { reconcile: o.reconcile }), ...(o.lease && { lease: o.lease }),
  };
  const app = await buildServer({
    master, tokens: new TokenFile(o.stateDir), ...(secure && { tls: secure }), ...(o.metrics && { metrics: o.metrics }), ...(flags['metrics-auth'] && { metricsAuth: true }),
    onError: (e) => io.err(`drover api: unexpected error: ${e.stack ?? e.message}`),
  });
  await app.listen({ host, port });
  const addr = app.server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const url = `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  io.err(`API and dashboard on ${url}/ (OpenAPI: ${url}/api/openapi.json)`);
  return { url, close: () => app.close() };
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
    try { return fs.readFileSync(f); } catch (e) { throw new UsageError(`${what} ${f}: ${(e as Error).message}`); }
  };
  const files = { cert: read(certFile, '--tls-cert'), key: read(keyFile, '--tls-key') };
  try { tls.createSecureContext(files); } catch (e) { throw new UsageError(`--tls-cert ${certFile} / --tls-key ${keyFile}: ${(e as Error).message}`); }
  return files;
}
