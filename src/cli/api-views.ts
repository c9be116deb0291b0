/**
 * The API's views thread (started by cli/api.ts): from each look the master sends, it computes
 * what the read routes serve (status, verify, the cluster score: seconds at 20,000 instances)
 * and hands it to the server thread in small parts, so that neither the master nor a request
 * ever waits for it. Only the newest look is computed. N+1, found among verify's findings, goes
 * back to the master for its metrics: computed once per look, here.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { Views } from '../api/views.ts';
import type { Look } from '../api/master.ts';
import { n1Of, type N1State } from '../monitor/snapshot.ts';
import type { JobRecord } from '../store/types.ts';
import type { LookMessage } from './api-worker.ts';

/** What the server thread gets: arrays in parts, then the rest with `done`; the journal as it grows. */
export type ViewsMessage =
  | { readonly t: 'part'; readonly seq: number; readonly key: PartKey; readonly items: readonly unknown[] }
  | { readonly t: 'done'; readonly seq: number; readonly at: number; readonly clusters: Views['clusters']; readonly plan: object }
  | { readonly t: 'jobs'; readonly items: readonly JobRecord[] };

/** What the master gets back: the N+1 of the newest look's views (its metrics read it). */
export type FromViews = { readonly t: 'n1'; readonly n1: N1State };

export type PartKey = 'instances' | 'nodes' | 'findings' | 'drift' | 'operations';

const PART = 500; // items per message: each reads in a few milliseconds on the server thread

export async function run(): Promise<void> {
  const server = (workerData as { port: MessagePort }).port;
  const post = (m: ViewsMessage) => server.postMessage(m);
  const jobs = new Map<string, JobRecord>();
  let desired: Look['desired'] | undefined;
  let latest: Look | undefined;
  let busy = false;
  let seq = 0;
  const compute = () => {
    const look = latest;
    latest = undefined;
    if (!look) { busy = false; return; }
    const v = new Views(look, look.store, Date.now());
    const n = ++seq;
    const { operations, ...plan } = look.plan as { operations?: readonly unknown[] };
    const parts: [PartKey, readonly unknown[]][] = [['instances', v.instances], ['nodes', v.nodes], ['findings', v.findings], ['drift', v.drift], ['operations', operations ?? []]];
    for (const [key, all] of parts) for (let i = 0; i < all.length || i === 0; i += PART) post({ t: 'part', seq: n, key, items: all.slice(i, i + PART) });
    post({ t: 'done', seq: n, at: v.at, clusters: v.clusters, plan });
    parentPort!.postMessage({ t: 'n1', n1: n1Of(v.findings) } satisfies FromViews);
    setImmediate(compute); // a newer look may have come meanwhile
  };
  parentPort!.on('message', (m: LookMessage) => {
    desired = m.desired ?? desired;
    for (const j of m.jobs) jobs.set(j.id, j);
    for (let i = 0; i < m.jobs.length; i += PART) post({ t: 'jobs', items: m.jobs.slice(i, i + PART) });
    if (!desired) return;
    latest = { ...m.look, desired, store: { ...m.look.store, jobs } };
    if (!busy) { busy = true; setImmediate(compute); }
  });
}
