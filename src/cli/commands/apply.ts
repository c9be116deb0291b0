import { parseArgs } from 'node:util';
import * as fs from 'node:fs';
import { converge, observeAndRecord } from '../../apply/converge.ts';
import type { EventSink } from '../../apply/events.ts';
import { formatError } from '../../manifest/index.ts';
import { plan } from '../../plan/index.ts';
import { healthChecksOf } from '../../observe/index.ts';
import { planBasis } from '../../plan/basis.ts';
import { acquireLease, LeaseBusyError, type MasterLease } from '../../store/lease.ts';
import { Store } from '../../store/store.ts';
import { exitWhenLost, loadOrReport, openDriver } from '../context.ts';
import { EXIT, locationOf, STORE_OPTIONS, UsageError, type Io } from '../io.ts';
import { formatDuration } from '../../model/quantity.ts';
import { withCause } from '../../model/operations.ts';
import { gitInfo } from '../git.ts';
import { jsonSink, lineSink, ttySink } from '../render/progress.ts';
import { pendingLine, renderPlanText } from '../render/plan.ts';
import type { SavedPlan } from './plan.ts';

export const usage = `drover apply [PATH...] [--yes] [--json] [--prune] [--plan FILE] [--no-wait] [--detailed-exitcode]
  Converge the nodes to the manifests. Asks first on a terminal unless --yes.
  Exit 0 converged, 1 failed or bad input, 3 work still pending (blocked or waiting);
  with --detailed-exitcode 0 means nothing had to change and 2 means changes were applied.`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    json: { type: 'boolean' }, yes: { type: 'boolean', short: 'y' }, prune: { type: 'boolean' }, plan: { type: 'string' },
    'no-wait': { type: 'boolean' }, 'detailed-exitcode': { type: 'boolean' }, ...STORE_OPTIONS,
  } });
  const saved = values.plan ? readSavedPlan(values.plan) : undefined;
  const loaded = await loadOrReport(saved ? saved.paths : positionals, io);
  if (!loaded) return EXIT.error;
  const location = locationOf(values);
  const stateDir = location.stateDir;
  let lease: MasterLease;
  try {
    lease = await acquireLease(location, `drover apply ${argv.join(' ')}`.trim(), values['no-wait'] ? 0 : 10 * 60_000);
  } catch (e) {
    if (e instanceof LeaseBusyError) { io.err(`drover: ${e.message}; ${values['no-wait'] ? 'not waiting (--no-wait)' : 'gave up waiting'}`); return EXIT.error; }
    throw e;
  }
  const git = await gitInfo(saved ? saved.paths : positionals.length ? positionals : ['manifests']);
  if (saved?.git && git && saved.git.commit !== git.commit) {
    await lease.release();
    io.err(`drover: the saved plan ${values.plan} was made at commit ${saved.git.commit.slice(0, 12)}, but the manifests are at ${git.commit.slice(0, 12)} now. Run drover plan again.`);
    return EXIT.error;
  }
  exitWhenLost(lease, io);
  const store = await Store.open(location, { lease });
  const driver = await openDriver(loaded.desired, stateDir);
  let started = Date.now();
  const tty = !values.json && io.isTty ? ttySink((s) => process.stdout.write(s)) : undefined;
  const events: EventSink = values.json ? jsonSink(io) : tty ?? lineSink(io);
  try {
    const nodes = [...loaded.desired.nodes.values()];
    if (saved) {
      const observed = await observeAndRecord(driver, nodes, store, undefined, { record: false }); // a refused plan changes nothing
      if (store.machines.size === 0 && planBasis(loaded.desired, observed, store) !== saved.basis) {
        io.err(`drover: the saved plan ${values.plan} is stale: the manifests, the nodes or Drover's placements changed since it was made. Run drover plan again.`);
        return EXIT.error;
      }
    } else if (!values.yes && io.stdinIsTty && !values.json) {
      const observed = await observeAndRecord(driver, nodes, store, undefined, { record: true, checks: healthChecksOf(loaded.desired) });
      const now = Date.now();
      const p = plan({ desired: loaded.desired, observed, store, now, prune: !!values.prune });
      io.out(renderPlanText(p, now));
      if (p.errors.length) return EXIT.error;
      if (p.operations.length === 0 && p.deferred.length === 0 && p.pending.length === 0 && store.machines.size === 0) return EXIT.ok;
      const answer = await io.ask('\nApply these operations? Only "yes" is accepted: ');
      if (answer.trim() !== 'yes') { io.out('Apply cancelled; nothing was changed.'); return EXIT.ok; }
    }
    started = Date.now(); // not counting the time the question waited for an answer
    const r = await converge({ desired: loaded.desired, driver, store, events, trigger: 'apply', ...(git && { git }), ...(values.prune && { prune: true }), ...(saved && { operations: saved.operations }) });
    tty?.stop();
    for (const d of r.drift) {
      if (values.json) io.out(JSON.stringify({ type: 'drift', instance: d.instance, node: d.node, kind: d.kind, action: d.action, detail: d.detail, time: new Date().toISOString() }));
      else io.out(`Drift: ${d.instance}: ${d.kind}: ${d.detail}`);
    }
    const durationMs = Date.now() - started;
    const failed = r.failed.length;
    events({ type: 'summary', succeeded: r.succeeded, failed, pending: r.pending.length, durationMs });
    if (!values.json) {
      for (const e of r.errors) io.err(formatError(e));
      for (const w of r.warnings) io.err(`Warning: ${w}`);
      for (const p of r.pending) io.err(pendingLine(p));
      io.out(`Apply ${failed || r.errors.length ? 'finished with failures' : r.pending.length ? 'stopped with work pending' : 'complete'}: ${r.succeeded} succeeded, ${failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}, ${r.pending.length} pending, in ${formatDuration(durationMs)}.`);
    }
    if (failed || r.errors.length) return EXIT.error;
    if (r.pending.length) return EXIT.pending;
    return values['detailed-exitcode'] && r.succeeded > 0 ? EXIT.changes : EXIT.ok;
  } finally {
    tty?.stop();
    await driver.close();
    await store.close();
    await lease.release();
  }
}

function readSavedPlan(file: string): SavedPlan {
  let saved: SavedPlan;
  try {
    saved = JSON.parse(fs.readFileSync(file, 'utf8')) as SavedPlan;
  } catch (e) {
    throw new UsageError(`cannot read the saved plan ${file}: ${(e as Error).message}`);
  }
  if (saved.version !== 1 || !Array.isArray(saved.operations)) throw new UsageError(`${file} is not a plan saved by drover plan --out`);
  return { ...saved, operations: saved.operations.map(withCause) }; // a plan saved before causes carries sentences
}
