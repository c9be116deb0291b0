import { parseArgs } from 'node:util';
import { startWatch, type Loaded, type WatchEvent } from '../../apply/watch.ts';
import type { EventSink } from '../../apply/events.ts';
import { formatDiagnostic, loadManifests, DEFAULT_MANIFEST_PATH } from '../../manifest/index.ts';
import { formatDuration, parseDuration } from '../../model/quantity.ts';
import { createMetrics, metered } from '../../monitor/metrics.ts';
import type { StoreLocation } from '../../store/backend.ts';
import { acquireLease, LeaseBusyError, leaseStatus, type MasterLease } from '../../store/lease.ts';
import { Store } from '../../store/store.ts';
import { exitWhenLost, loadOrReport, openDriver } from '../context.ts';
import { gitInfo, shortGit } from '../git.ts';
import { LISTEN_OPTIONS, LISTEN_USAGE, MasterFeed, parseListen, serveApi, type Served } from '../api.ts';
import { EXIT, locationOf, STORE_OPTIONS, UsageError, type Io } from '../io.ts';
import { jsonSink, lineSink } from '../render/progress.ts';

export const usage = `drover watch [PATH...] [--json] [--interval D] [--prune] [--no-wait] [--listen ADDR [--tls-cert F --tls-key F]]
  Keep converging: a run when a manifest changes, every reconcile.interval (or --interval), when a
  node's health changes, and on SIGHUP (re-reads everything). Holds the cluster lease while it lives;
  waits for it unless --no-wait. SIGTERM/SIGINT park the operations in flight at a step boundary
  (the next master resumes them), release the lease and exit 0.
  Exit 0 after SIGTERM/SIGINT, 1 on bad manifests at start or a lease held elsewhere (--no-wait).
${LISTEN_USAGE}`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    json: { type: 'boolean' }, interval: { type: 'string' }, prune: { type: 'boolean' }, 'no-wait': { type: 'boolean' }, ...STORE_OPTIONS, ...LISTEN_OPTIONS,
  } });
  if (values.listen !== undefined) parseListen(values.listen); // a typo fails before the lease is taken
  const intervalMs = values.interval === undefined ? undefined : parseDuration(values.interval);
  if (intervalMs === undefined && values.interval !== undefined) throw new UsageError(`--interval: "${values.interval}" is not a duration (30s, 5m, 1h)`);
  const paths = positionals.length ? positionals : [DEFAULT_MANIFEST_PATH];
  const loaded = await loadOrReport(paths, io);
  if (!loaded) return EXIT.error;
  const location = locationOf(values);
  const stateDir = location.stateDir;
  const stop = new AbortController();
  const onStop = (sig: string) => () => { if (!stop.signal.aborted) { report({ type: 'stopping', reason: sig }); stop.abort(); } };
  const feed = values.listen !== undefined ? new MasterFeed(() => store) : undefined;
  const report = published(feed, 'watch', values.json ? (e: WatchEvent) => io.out(JSON.stringify({ ...e, time: new Date().toISOString() })) : textReport(io));
  process.on('SIGTERM', onStop('SIGTERM')).on('SIGINT', onStop('SIGINT'));
  const lease = await takeLease(location, argv, !!values['no-wait'], stop.signal, io);
  if (!lease) return stop.signal.aborted ? EXIT.ok : EXIT.error;
  exitWhenLost(lease, io);
  const store = await Store.open(location, { lease });
  const events: EventSink = published(feed, 'apply', values.json ? jsonSink(io) : lineSink(io));
  // The master's metrics (docs/metrics.md): fed by the loop below, served by the API at /metrics.
  const metrics = createMetrics();
  metrics.observeLease(`${lease.holder.command} (pid ${lease.holder.pid} on ${lease.holder.host})`);
  let poke: (trigger: string) => void = () => undefined;
  let served: Served | undefined;
  try {
    if (feed) served = await serveApi(values, { stateDir, location, feed, performer: { store, reconcile: (t: string) => poke(t), lease: () => lease.holder }, metrics }, io);
    const w = startWatch(metered(metrics, {
      paths, desired: loaded.desired, store, events, report, signal: stop.signal,
      load: () => reload(paths), openDriver: (d) => openDriver(d, stateDir), git: () => gitInfo(paths),
      ...(intervalMs !== undefined && { intervalMs }), ...(values.prune && { prune: true }), ...(feed && { onLook: (l) => { if (l.kind === 'round') feed.set(l); } }),
    }));
    poke = (t) => w.poke(t);
    process.on('SIGHUP', () => w.poke('sighup', true));
    await w.done;
    return EXIT.ok;
  } finally {
    await served?.close();
    await store.close();
    await lease.release();
  }
}

/** What a sink or report says also goes to the API's live stream, when there is one. */
function published<E>(feed: MasterFeed | undefined, event: string, fn: (e: E) => void): (e: E) => void {
  return feed ? (e) => { fn(e); feed.hub.publish(event, e); } : fn;
}

async function takeLease(location: StoreLocation, argv: readonly string[], noWait: boolean, signal: AbortSignal, io: Io): Promise<MasterLease | undefined> {
  try {
    // A standby watch waits for the lease as long as it takes; a signal ends the wait.
    const stopped = new Promise<undefined>((r) => signal.addEventListener('abort', () => r(undefined), { once: true }));
    const holder = noWait ? undefined : await leaseStatus(location);
    if (holder) io.err(`Waiting for the cluster lease (pid ${holder.pid} on ${holder.host}: ${holder.command}): standing by until it is free.`);
    const lease = acquireLease(location, `drover watch ${argv.join(' ')}`.trim(), noWait ? 0 : Infinity);
    const got = await Promise.race([lease, stopped]);
    if (!got) {
      // acquireLease polls until it gets the lease; nothing is open yet, so leave without it.
      void lease.then((l) => l.release(), () => undefined);
      setTimeout(() => process.exit(EXIT.ok), 100).unref();
    }
    return got;
  } catch (e) {
    if (e instanceof LeaseBusyError) { io.err(`drover: ${e.message}; not waiting (--no-wait)`); return undefined; }
    throw e;
  }
}

async function reload(paths: readonly string[]): Promise<Loaded> {
  const r = await loadManifests(paths);
  return r.ok ? { ok: true, desired: r.desired }
    : { ok: false, diagnostics: r.diagnostics.map(formatDiagnostic), errors: r.diagnostics.filter((d) => d.severity === 'error').length };
}

/** One line per run, like a puppet agent's; diagnostics of a broken edit in full. */
function textReport(io: Io): (e: WatchEvent) => void {
  return (e) => {
    switch (e.type) {
      case 'watch-started': io.out(`Watching ${e.paths.join(', ')} (reconcile every ${formatDuration(e.intervalMs)}).`); break;
      case 'reload-failed':
        for (const d of e.diagnostics) io.err(d);
        io.err(`Manifests not reloaded (${e.trigger}): ${e.errors} error(s); the last good manifests stay in force.`);
        break;
      case 'health-changed': io.out(`Node health changed:${e.down.length ? ` down ${e.down.join(', ')}` : ''}${e.up.length ? ` up ${e.up.join(', ')}` : ''}.`); break;
      case 'run': {
        for (const d of e.drift) io.out(`  drift: ${d.instance}: ${d.kind}: ${d.detail}`);
        for (const x of e.errors) io.err(`  ${x}`);
        for (const g of e.guards) io.out(`  failover stopped: ${g.reason}`);
        const corrected = e.drift.filter((d) => d.action === 'corrected').length;
        const left = e.drift.length - corrected;
        const git = e.git ? ` at ${shortGit(e.git)}` : '';
        io.out(`Run ${e.run} (${e.trigger})${git}: ${e.parked ? 'parked, ' : ''}${e.changes} change${e.changes === 1 ? '' : 's'}, ${corrected} drift corrected${left ? `, ${left} left alone` : ''}, ${e.failed} failed, ${e.pending} pending, in ${formatDuration(e.durationMs)}.`);
        break;
      }
      case 'stopping': io.out(`${e.reason}: parking operations in flight, then stopping.`); break;
      case 'stopped': io.out('Stopped.'); break;
    }
  };
}
