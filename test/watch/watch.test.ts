/** drover watch as a service: reacts to edits, survives broken ones, stops cleanly, holds the lease. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Store } from '../../src/store/store.ts';
import { drover, sandbox, WatchProcess } from '../support/watch.ts';

const RUN = /Run (\d+) \((\S+)\)[^:]*: (.*)\n/;

test('an edited manifest is converged by the next run', async () => {
  const sb = sandbox();
  const w = new WatchProcess(sb, []);
  try {
    await w.waitFor(/Run 1 \(start\).*5 changes/);
    const mark = w.length;
    const web = path.join(sb.manifests, 'instances/web.yaml');
    fs.writeFileSync(web, fs.readFileSync(web, 'utf8').replace('memory: 1G', 'memory: 768M'));
    const m = await w.waitFor(/Run 2 \(manifest\)[^\n]*\n/, 10_000, mark);
    assert.match(m[0], /1 change,/);
    assert.match(w.out.slice(mark), /RestartInstance web1/);
    assert.is(await w.stop(), 0);
  } finally { w.child.kill('SIGKILL'); }
});

test('a broken edit is reported with its location; the last good manifests stay in force', async () => {
  const sb = sandbox();
  const w = new WatchProcess(sb, []);
  try {
    await w.waitFor(/Run 1 \(start\)/);
    const web = path.join(sb.manifests, 'instances/web.yaml');
    const good = fs.readFileSync(web, 'utf8');
    fs.writeFileSync(web, good.replace('memory: 1G', 'memory: lots'));
    const m = await w.waitFor(/(\S+web\.yaml):(\d+):(\d+): error: ([^\n]*)\n/);
    assert.ok(m[4]!.includes('memory'), m[4]);
    await w.waitFor(/last good manifests stay in force/);
    assert.not.match(w.out, /Run 2/);
    // Nothing was changed: the journal holds only the first run's five creates.
    assert.is((JSON.parse(drover(sb, ['jobs', '--json']).out) as { jobs: unknown[] }).jobs.length, 5);
    const mark = w.length;
    fs.writeFileSync(web, good.replace('memory: 1G', 'memory: 768M'));
    const run = await w.waitFor(/Run 2 \(manifest\)[^\n]*\n/, 10_000, mark);
    assert.match(run[0], /1 change,/);
    assert.is(await w.stop(), 0);
  } finally { w.child.kill('SIGKILL'); }
});

test('SIGTERM mid-run: exit 0, lease released, parked machines resumed by the next apply', async () => {
  const sb = sandbox();
  const cluster = path.join(sb.manifests, 'cluster.yaml');
  fs.writeFileSync(cluster, fs.readFileSync(cluster, 'utf8').replace('latency: 0s', 'latency: 400ms'));
  const w = new WatchProcess(sb, []);
  try {
    await w.waitFor(/Round 1: 5 operations/);
    await new Promise((r) => setTimeout(r, 300)); // operations in flight, none finished
    const t0 = Date.now();
    assert.is(await w.stop('SIGTERM'), 0);
    assert.ok(Date.now() - t0 < 5000, 'parks at the next step boundary, not at the end of the run');
    assert.match(w.out, /SIGTERM: parking/);
    assert.match(drover(sb, ['lock', 'status']).out, /free/i);
    const store = new Store(sb.state, { readOnly: true });
    assert.ok(store.machines.size > 0, 'machines left in the store');
    const apply = drover(sb, ['apply', sb.manifests, '--yes']);
    assert.is(apply.code, 0, apply.err);
    assert.match(apply.out, /resuming CreateInstance/);
    const status = JSON.parse(drover(sb, ['status', sb.manifests, '--json']).out) as { instances: { name: string; state: string; degraded: boolean }[] };
    for (const i of status.instances) assert.ok(i.state === (i.name === 'batch' ? 'stopped' : 'running') && !i.degraded, JSON.stringify(i));
  } finally { w.child.kill('SIGKILL'); }
});

test('apply --no-wait while watch holds the lease: exit 1 naming the holder', async () => {
  const sb = sandbox();
  const w = new WatchProcess(sb, []);
  try {
    await w.waitFor(/Run 1 \(start\)/);
    const r = drover(sb, ['apply', sb.manifests, '--yes', '--no-wait']);
    assert.is(r.code, 1);
    assert.match(r.err, /held by pid \d+ .*\(drover watch/);
    assert.is(await w.stop('SIGINT'), 0);
    assert.is(drover(sb, ['apply', sb.manifests, '--yes', '--no-wait']).code, 0);
  } finally { w.child.kill('SIGKILL'); }
});

test('a second watch with --no-wait exits 1; one without waits and takes over when the first stops', async () => {
  const sb = sandbox();
  const a = new WatchProcess(sb, []);
  let b: WatchProcess | undefined;
  try {
    await a.waitFor(/Run 1 \(start\)/);
    const c = new WatchProcess(sb, ['--no-wait']);
    assert.is(await c.exited, 1);
    assert.match(c.err, /held by pid/);
    b = new WatchProcess(sb, []);
    await new Promise((r) => setTimeout(r, 700));
    assert.not.match(b.out, /Watching/);
    assert.is(await a.stop(), 0);
    await b.waitFor(/Run 1 \(start\)[^\n]*0 changes/);
    assert.is(await b.stop(), 0);
  } finally { a.child.kill('SIGKILL'); b?.child.kill('SIGKILL'); }
});

test('--json: one structured event per run', async () => {
  const sb = sandbox();
  const w = new WatchProcess(sb, ['--json']);
  try {
    const line = await w.waitFor(/\{"type":"run"[^\n]*\n/);
    const e = JSON.parse(line[0]) as { run: number; trigger: string; changes: number; failed: number; drift: unknown[]; durationMs: number };
    assert.equal([e.run, e.trigger, e.changes, e.failed, e.drift.length], [1, 'start', 5, 0, 0]);
    assert.type(e.durationMs, 'number');
    assert.is(await w.stop(), 0);
  } finally { w.child.kill('SIGKILL'); }
});

test('the reconcile interval triggers runs', async () => {
  const sb = sandbox();
  const w = new WatchProcess(sb, ['--interval', '500ms']);
  try {
    await w.waitFor(/Run 3 \(interval\)[^\n]*0 changes/, 8000);
    assert.is(await w.stop(), 0);
  } finally { w.child.kill('SIGKILL'); }
});

test('SIGHUP re-reads the manifests', async () => {
  const sb = sandbox();
  const w = new WatchProcess(sb, []);
  try {
    await w.waitFor(/Run 1 \(start\)/);
    const mark = w.length;
    w.child.kill('SIGHUP');
    const m = await w.waitFor(RUN, 5000, mark);
    assert.is(m[2], 'sighup');
    assert.is(await w.stop(), 0);
  } finally { w.child.kill('SIGKILL'); }
});

test.run();
