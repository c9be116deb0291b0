import { parseArgs } from 'node:util';
import { observeAndRecord } from '../../apply/converge.ts';
import { healthChecksOf } from '../../observe/index.ts';
import { formatDuration, parseDuration } from '../../model/quantity.ts';
import { plan } from '../../plan/index.ts';
import { classifyDrift } from '../../plan/drift.ts';
import { leaseStatus } from '../../store/lease.ts';
import { Store } from '../../store/store.ts';
import { LISTEN_OPTIONS, LISTEN_USAGE, MasterFeed, serveApi } from '../api.ts';
import { loadOrReport, openDriver } from '../context.ts';
import { EXIT, locationOf, STORE_OPTIONS, UsageError, type Io } from '../io.ts';

export const usage = `drover serve [PATH...] --listen ADDR [--every D]
  The API and dashboard without converging (e.g. on a standby master's host): every D (default 5s)
  it re-reads the manifests and the store and looks at the nodes, read-only. Actions are refused
  (act on the converging master, drover watch --listen), except breaking a stale lease.
${LISTEN_USAGE}`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { every: { type: 'string' }, ...STORE_OPTIONS, ...LISTEN_OPTIONS } });
  if (values.listen === undefined) throw new UsageError(usage);
  const everyMs = values.every === undefined ? 5000 : parseDuration(values.every);
  if (everyMs === undefined) throw new UsageError(`--every: "${values.every}" is not a duration (5s, 1m)`);
  const location = locationOf(values);
  let store = await Store.open(location, { readOnly: true });
  const feed = new MasterFeed(() => store);
  const served = await serveApi(values, { stateDir: location.stateDir, location, feed, performer: {} }, io); // no store to write, no runs: reads, and a stale lease's break
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => stop.abort());
  io.err(`Serving read-only; a look every ${formatDuration(everyMs)}.`);
  try {
    while (!stop.signal.aborted) {
      const loaded = await loadOrReport(positionals, io);
      if (loaded) {
        const old = store;
        store = await Store.open(location, { readOnly: true }); // what the master wrote since
        if (location.kind !== 'file') await old.close(); // etcd's connection; a read-only file store holds nothing
        const driver = await openDriver(loaded.desired, location.stateDir, { readOnly: true });
        try {
          const observed = await observeAndRecord(driver, [...loaded.desired.nodes.values()], store, undefined, { record: false, checks: healthChecksOf(loaded.desired) });
          const p = plan({ desired: loaded.desired, observed, store, now: Date.now() });
          feed.set({ desired: loaded.desired, observed, plan: p, drift: classifyDrift(p, observed, store) });
        } finally { await driver.close(); }
        const holder = await leaseStatus(location);
        feed.hub.publish('watch', { type: 'lease', holder: holder ?? null });
      }
      await new Promise((r) => { const t = setTimeout(r, everyMs); stop.signal.addEventListener('abort', () => { clearTimeout(t); r(undefined); }, { once: true }); });
    }
    return EXIT.ok;
  } finally {
    await served.close();
  }
}
