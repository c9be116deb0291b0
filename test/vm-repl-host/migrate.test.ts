/** Live migration with storage between two QEMU processes on this host, its failures, and a master's restart mid-way. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { tempDir, cleanupTemps } from '../support/tmp.ts';
import { unavailable, makeDisk, startVm, waitCounter, counters, fsck, reconnect, type Proc } from './harness.ts';
import { migrateLive, reconcile, DEFAULT_LIMITS, type MigrationEnds } from '../../src/drivers/qemu/migrate.ts';
import { migrationDecision } from '../../src/drivers/qemu/resume.ts';

const why = unavailable();
if (why) console.log(`SKIPPED vm-repl-host migrate: ${why}`);
const live: Proc[] = [];
test.after(async () => { for (const p of live) await p.kill(); cleanupTemps(); });
const track = (p: Proc) => { live.push(p); return p; };
const HOST = '127.0.0.140';
let port = 10850;
const endsOf = (source: Proc, dest: Proc): MigrationEnds => ({
  source: source.qmp, dest: dest.qmp, nbd: { type: 'inet', host: HOST, port: port++ }, stream: { type: 'inet', host: HOST, port: port++ }, disks: 1,
});
const status = async (p: { qmp: Proc['qmp'] }) => (await p.qmp.execute<{ status: string }>('query-status')).status;
const exited = (p: Proc) => new Promise((res) => (p.child.exitCode === null && p.child.signalCode === null ? p.child.once('exit', res) : res(undefined)));
const last = (dir: string) => { const c = counters(dir); return c.length ? c[c.length - 1]![0] : 0; };

/** Every counter line printed by the runs in `dirs`, in order: contiguous and from one boot. */
function assertContinuous(dirs: readonly string[]): void {
  const all = dirs.flatMap((d) => counters(d));
  all.forEach(([n, boot], i) => { assert.equal(boot, 1, `no restart (line ${i})`); if (i) assert.ok(n === all[i - 1]![0] + 1 || n === all[i - 1]![0], `contiguous at ${n}`); });
}

test('decision: the destination is resumed only when the migration completed, the source otherwise', () => {
  const end = (status: string, migration?: string) => ({ status, ...(migration && { migration }), jobs: [] });
  assert.equal(migrationDecision({ source: end('paused', 'pre-switchover'), dest: end('inmigrate', 'active') }).kind, 'cancel');
  assert.equal(migrationDecision({ source: end('postmigrate', 'completed'), dest: end('paused', 'completed') }).kind, 'finish');
  assert.equal(migrationDecision({ dest: end('paused', 'completed') }).kind, 'finish');
  assert.equal(migrationDecision({ source: end('postmigrate', 'completed') }).kind, 'cancel');
  assert.equal(migrationDecision({ dest: end('inmigrate', 'active') }).kind, 'lost');
  assert.equal(migrationDecision({ source: end('running', 'active'), dest: end('running') }).kind, 'finish');
  // a source that came in by migration reports that one as completed: not a finished outgoing migration
  assert.equal(migrationDecision({ source: end('running', 'completed'), dest: end('inmigrate', 'active') }).kind, 'cancel');
  assert.equal(migrationDecision({ source: end('paused', 'completed'), dest: end('inmigrate') }).kind, 'cancel');
});

(why ? test.skip : test)('live migration there and back: the counter continues with no restart, the disks check clean', async () => {
  const dir = tempDir('vmmig-');
  const imgs = [path.join(dir, 'a.img'), path.join(dir, 'b.img')] as const;
  makeDisk(imgs[0]); makeDisk(imgs[1], 64, false);
  const runs: string[] = [path.join(dir, 'r0')];
  let cur = track(await startVm(runs[0]!, imgs[0]));
  await waitCounter(runs[0]!, 3);
  for (let hop = 1; hop <= 2; hop++) {
    runs.push(path.join(dir, `r${hop}`));
    const dest = track(await startVm(runs[hop]!, imgs[hop % 2]!, true));
    const r = await migrateLive(endsOf(cur, dest));
    assert.equal(r.kind, 'live', JSON.stringify(r));
    if (r.kind === 'live') assert.ok(r.downtimeMs >= 0, `downtime ${r.downtimeMs}`);
    assert.equal(await status(dest), 'running');
    await exited(cur);
    assert.ok(fsck(imgs[(hop + 1) % 2]!), 'the source disk checks clean');
    cur = dest;
    await waitCounter(runs[hop]!, last(runs[hop - 1]!) + 2);
  }
  assertContinuous(runs);
  await cur.kill();
});

(why ? test.skip : test)('the destination dies mid-migration: the source keeps running', async () => {
  const dir = tempDir('vmmig-');
  makeDisk(path.join(dir, 'a.img'), 256); makeDisk(path.join(dir, 'b.img'), 256, false);
  const src = track(await startVm(path.join(dir, 'a'), path.join(dir, 'a.img')));
  await waitCounter(path.join(dir, 'a'), 2);
  const dest = track(await startVm(path.join(dir, 'b'), path.join(dir, 'b.img'), true));
  let killed = false;
  const r = await migrateLive(endsOf(src, dest), { ...DEFAULT_LIMITS, maxBandwidth: 8 * 1024 * 1024 }, () => { if (!killed) { killed = true; void dest.kill(); } });
  assert.equal(r.kind, 'cold', JSON.stringify(r));
  assert.equal(await status(src), 'running');
  await waitCounter(path.join(dir, 'a'), last(path.join(dir, 'a')) + 2);
  assert.equal((await src.qmp.execute<unknown[]>('query-jobs')).length, 0, 'no job left on the source');
  await src.kill();
});

(why ? test.skip : test)('a guest that does not converge within the bound is left running where it was', async () => {
  const dir = tempDir('vmmig-');
  makeDisk(path.join(dir, 'a.img')); makeDisk(path.join(dir, 'b.img'), 64, false);
  const src = track(await startVm(path.join(dir, 'a'), path.join(dir, 'a.img')));
  await waitCounter(path.join(dir, 'a'), 2);
  const dest = track(await startVm(path.join(dir, 'b'), path.join(dir, 'b.img'), true));
  const r = await migrateLive(endsOf(src, dest), { ...DEFAULT_LIMITS, maxBandwidth: 1024 * 1024, convergeTimeoutMs: 1500 });
  assert.equal(r.kind, 'cold');
  assert.match(r.kind === 'cold' ? r.why : '', /converge/);
  assert.equal(await status(src), 'running');
  await exited(dest);
  await waitCounter(path.join(dir, 'a'), last(path.join(dir, 'a')) + 2);
  await src.kill();
});

for (const at of ['pre-switchover', 'completed'] as const) {
  (why ? test.skip : test)(`the master dies at ${at}: a new one reconciles to one running guest (the source came in by migration)`, async () => {
    const dir = tempDir('vmmig-');
    makeDisk(path.join(dir, 'c.img')); makeDisk(path.join(dir, 'a.img'), 64, false); makeDisk(path.join(dir, 'b.img'), 64, false);
    // the source itself came in by migration: its query-migrate reports that one, `completed`
    const first = track(await startVm(path.join(dir, 'c'), path.join(dir, 'c.img')));
    await waitCounter(path.join(dir, 'c'), 2);
    const src = track(await startVm(path.join(dir, 'a'), path.join(dir, 'a.img'), true));
    assert.equal((await migrateLive(endsOf(first, src))).kind, 'live');
    await waitCounter(path.join(dir, 'a'), last(path.join(dir, 'c')) + 1);
    const dest = track(await startVm(path.join(dir, 'b'), path.join(dir, 'b.img'), true));
    // The "master" drops its connections when the source reaches `at`; QEMU goes on alone.
    src.qmp.onEvent((e) => { if (e.event === 'MIGRATION' && e.data.status === at) { src.qmp.close(); dest.qmp.close(); } });
    await migrateLive(endsOf(src, dest)).catch(() => undefined);
    const [s, d] = [await reconnect(src), await reconnect(dest)];
    const decision = await reconcile({ source: s, dest: d });
    assert.equal(decision.kind, at === 'completed' ? 'finish' : 'cancel');
    const runner = at === 'completed' ? { qmp: d, dir: path.join(dir, 'b'), other: src } : { qmp: s, dir: path.join(dir, 'a'), other: dest };
    assert.equal(await status(runner), 'running');
    await exited(runner.other);
    const before = Math.max(last(path.join(dir, 'a')), last(path.join(dir, 'b')));
    await waitCounter(runner.dir, before + 2);
    assertContinuous(at === 'completed' ? [path.join(dir, 'c'), path.join(dir, 'a'), path.join(dir, 'b')] : [path.join(dir, 'c'), path.join(dir, 'a')]);
  });
}

test.run();
