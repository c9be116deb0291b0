/**
 * The store's durability: the append log (replay, group commit, torn tails, compaction), the Store
 * on top of it, and the master lease (busy, dead holder taken over).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { syncBuiltinESMExports } from 'node:module';
import { AppendLog } from '../../src/store/log.ts';
import { Store } from '../../src/store/store.ts';
import { Lease, LeaseBusyError } from '../../src/store/lease.ts';
import type { Placement } from '../../src/store/types.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';
import { ROOT } from '../support/cli.ts';

interface Rec { readonly k: string; readonly n: number }
const opts = { fsync: false, compactAfter: 1_000_000 };

test.after(cleanupTemps);

test('log: records appended are replayed in order after reopening', async () => {
  const file = path.join(tempDir(), 'a.log');
  const { log, loaded } = AppendLog.open<unknown, Rec>(file, opts);
  assert.equal(loaded.records, []);
  assert.is(loaded.snapshot, undefined);
  for (let i = 0; i < 10; i++) await log.append({ k: 'x', n: i });
  await Promise.all([log.append({ k: 'y', n: 10 }), log.append({ k: 'y', n: 11 })]);
  log.close();
  const again = AppendLog.open<unknown, Rec>(file, opts);
  assert.equal(again.loaded.records.map((r) => r.n), [...Array(12).keys()]);
  again.log.close();
});

test('log: group commit writes many appends of one tick as one batch, and resolves them all', async () => {
  const file = path.join(tempDir(), 'g.log');
  const { log } = AppendLog.open<unknown, Rec>(file, opts);
  const real = fs.writeSync;
  const batches: string[] = [];
  const fsMutable = (await import('node:fs')).default as { writeSync: typeof fs.writeSync };
  fsMutable.writeSync = ((fd: number, data: unknown, ...rest: unknown[]) => {
    if (typeof data === 'string' && data.includes('"k":"g"')) batches.push(data);
    return (real as (...a: unknown[]) => number)(fd, data, ...rest);
  }) as typeof fs.writeSync;
  syncBuiltinESMExports();
  try {
    const all: Promise<void>[] = [];
    for (let i = 0; i < 500; i++) all.push(log.append({ k: 'g', n: i }));
    await Promise.all(all);
  } finally {
    fsMutable.writeSync = real;
    syncBuiltinESMExports();
  }
  log.close();
  assert.is(batches.length, 1, `500 appends in one tick: ${batches.length} write()s`);
  assert.is(batches[0]!.split('\n').filter(Boolean).length, 500);
  assert.is(AppendLog.open<unknown, Rec>(file, opts, true).loaded.records.length, 500);
});

test('log: a torn last line (kill -9 mid-write) is ignored, and the log stays appendable', async () => {
  const file = path.join(tempDir(), 't.log');
  const { log } = AppendLog.open<unknown, Rec>(file, opts);
  for (let i = 0; i < 3; i++) await log.append({ k: 'x', n: i });
  log.close();
  fs.appendFileSync(file, '{"k":"x","n":3'); // half a record, no newline
  const readOnly = AppendLog.open<unknown, Rec>(file, opts, true);
  assert.equal(readOnly.loaded.records.map((r) => r.n), [0, 1, 2], 'read-only load skips the torn line');
  const reopened = AppendLog.open<unknown, Rec>(file, opts);
  assert.equal(reopened.loaded.records.map((r) => r.n), [0, 1, 2]);
  await reopened.log.append({ k: 'x', n: 4 });
  reopened.log.close();
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\n'));
  assert.equal(text.trim().split('\n').map((l) => (JSON.parse(l) as Rec).n), [0, 1, 2, 4], 'no garbage left before the new record');
});

test('log: corruption before the last line is an error, not silently skipped', () => {
  const file = path.join(tempDir(), 'c.log');
  fs.writeFileSync(file, '{"k":"x","n":0}\nnot json\n{"k":"x","n":2}\n');
  assert.throws(() => AppendLog.open<unknown, Rec>(file, opts, true), /corrupt/);
});

test('log: compaction then reload gives the same contents; a crash between snapshot and truncation replays harmlessly', async () => {
  const dir = tempDir();
  const s1 = new Store(dir, { fsync: false });
  for (let i = 0; i < 40; i++) void s1.putPlacement({ instance: `i${i}`, primary: `n${i % 3}`, generation: 1 });
  for (let i = 0; i < 10; i++) void s1.deletePlacement(`i${i}`);
  void s1.putNode({ name: 'n1', nodeDownSince: 5 });
  void s1.putJob({ id: 'j1', type: 'CreateInstance', instance: 'i1', reason: 'r', start: 1, result: 'succeeded' });
  await s1.flush();
  const before = JSON.stringify([[...s1.placements], [...s1.nodes], [...s1.jobs]]);
  await s1.close();

  // compact through the log itself (the Store compacts at 50,000 records)
  const file = path.join(dir, 'store.log');
  const records = fs.readFileSync(file, 'utf8');
  const { log } = AppendLog.open<object, unknown>(file, opts);
  const reloaded = new Store(dir, { readOnly: true });
  log.compact({ placements: [...reloaded.placements.values()], nodes: [...reloaded.nodes.values()], machines: [], jobs: [...reloaded.jobs.values()] });
  log.close();
  assert.is(fs.readFileSync(file, 'utf8'), '', 'log truncated');
  assert.ok(fs.existsSync(`${file}.snapshot.json`));
  const s2 = new Store(dir, { readOnly: true });
  assert.is(JSON.stringify([[...s2.placements], [...s2.nodes], [...s2.jobs]]), before, 'same after compaction');

  // crash after the snapshot rename, before the truncation: the log still holds what the snapshot has
  fs.writeFileSync(file, records);
  const s3 = new Store(dir, { readOnly: true });
  assert.is(JSON.stringify([[...s3.placements], [...s3.nodes], [...s3.jobs]]), before, 'replay over the snapshot is harmless');
});

test('store: 50,000 records compact on close and reload equal', async () => {
  const dir = tempDir();
  const s = new Store(dir, { fsync: false });
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 50_000; i++) writes.push(s.putPlacement({ instance: `i${i % 5000}`, primary: 'n1', secondary: 'n2', generation: Math.floor(i / 5000) + 1 }));
  await Promise.all(writes);
  const before = [...s.placements.values()];
  await s.close();
  assert.ok(fs.existsSync(path.join(dir, 'store.log.snapshot.json')), 'compacted');
  assert.ok(fs.statSync(path.join(dir, 'store.log')).size === 0, 'log truncated');
  const again = new Store(dir, { readOnly: true });
  assert.equal([...again.placements.values()], before);
  assert.is(again.placements.get('i7')!.generation, 10);
});

test('store: machines keep their operation across snapshot records; deletes replay', async () => {
  const dir = tempDir();
  const s = new Store(dir, { fsync: false });
  const op = { type: 'StartInstance' as const, instance: 'a', primary: 'n1', cause: { kind: 'state-changed' as const, want: 'running' as const } };
  await s.putMachine({ id: 'm1', op, snapshot: { value: 'start' }, startedAt: 7 });
  await s.putMachine({ id: 'm1', op, snapshot: { value: 'verify' }, startedAt: 7 });
  await s.putMachine({ id: 'm2', op, snapshot: { value: 'start' }, startedAt: 8 });
  await s.deleteMachine('m2');
  await s.close();
  const lines = fs.readFileSync(path.join(dir, 'store.log'), 'utf8').trim().split('\n');
  assert.is(lines.filter((l) => l.includes('"StartInstance"')).length, 2, 'the operation is written once per machine');
  const again = new Store(dir, { readOnly: true });
  assert.equal([...again.machines.keys()], ['m1']);
  assert.equal(again.machines.get('m1'), { id: 'm1', op, snapshot: { value: 'verify' }, startedAt: 7 });
});

test('store: a read-only store never writes, and refuses appends', () => {
  const dir = tempDir();
  const s = new Store(dir, { readOnly: true });
  assert.throws(() => s.putPlacement({ instance: 'a', primary: 'n', generation: 1 } as Placement), /read-only/);
  assert.equal(fs.readdirSync(dir), []);
});

/** A child process that runs a TypeScript snippet (with tsx) and reports on stdout. */
function child(code: string, env: NodeJS.ProcessEnv = {}) {
  const dir = tempDir('drover-child-');
  const file = path.join(dir, 'child.mts');
  fs.writeFileSync(file, code.replaceAll('@src/', `${ROOT}/src/`));
  const p = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  p.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => p.on('close', (c, s) => r({ code: c, signal: s })));
  const line = (text: string) => new Promise<void>((resolve, reject) => {
    const t = setInterval(() => { if (out.includes(text)) { clearInterval(t); resolve(); } }, 20);
    void exited.then(() => { if (!out.includes(text)) { clearInterval(t); reject(new Error(`child exited without "${text}": ${out}\n${err}`)); } });
  });
  return { p, exited, line, output: () => out, errors: () => err };
}

test('store: a group-committed batch is whole after kill -9 (failpoint at the next batch)', async () => {
  const dir = tempDir();
  const c = child(`
    import { Store } from '@src/store/store.ts';
    const s = new Store(${JSON.stringify(dir)}, { fsync: false });
    for (let i = 0; i < 300; i++) void s.putPlacement({ instance: 'i' + i, primary: 'n1', generation: 1 });
    await s.flush();
    await s.putNode({ name: 'n1' }); // the second batch: killed here, half written
    console.log('not reached');
  `, { DROVER_FAILPOINT_KILL_AT: '2', DROVER_FAILPOINT_TORN: '1' });
  const r = await c.exited;
  assert.is(r.signal, 'SIGKILL', c.errors());
  assert.not.ok(c.output().includes('not reached'));
  const s = new Store(dir, { fsync: false });
  assert.is(s.placements.size, 300, 'the first batch (300 records, one write) is all there');
  assert.is(s.nodes.size, 0, 'the torn second batch is dropped');
  await s.putNode({ name: 'n2' });
  await s.close();
  assert.equal([...new Store(dir, { readOnly: true }).nodes.keys()], ['n2'], 'appendable after the torn tail');
});

test('lease: a second acquire with waitMs 0 fails naming the holder; release frees it', async () => {
  const dir = tempDir();
  const first = await Lease.acquire(dir, 'drover apply (test one)', 0);
  try {
    await Lease.acquire(dir, 'drover apply (test two)', 0);
    assert.unreachable('the second acquire should fail');
  } catch (e) {
    assert.instance(e, LeaseBusyError);
    const err = e as LeaseBusyError;
    assert.is(err.holder.pid, process.pid);
    assert.match(err.message, `pid ${process.pid}`);
    assert.match(err.message, 'drover apply (test one)');
  }
  assert.is(Lease.status(dir)?.command, 'drover apply (test one)');
  first.release();
  assert.is(Lease.status(dir), undefined);
  const second = await Lease.acquire(dir, 'drover apply (test two)', 0);
  assert.is(Lease.status(dir)?.command, 'drover apply (test two)');
  second.release();
});

test('lease: a holder whose file is removed (lock break) or taken over is told once, with the reason', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'lease.json');
  const lost = async (lease: Lease): Promise<Error> => {
    const seen: Error[] = [];
    lease.onLost((e) => seen.push(e));
    for (let k = 0; k < 50 && !seen.length; k++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1200)); // another tick: still told once
    assert.is(seen.length, 1);
    return seen[0]!;
  };
  const broken = await Lease.acquire(dir, 'broken holder', 0);
  Lease.breakLease(dir);
  assert.match((await lost(broken)).message, 'is gone');
  broken.release();
  const stalled = await Lease.acquire(dir, 'stalled holder', 0);
  const other = { host: 'elsewhere', pid: 4242, command: 'drover watch (new)', acquiredAt: Date.now(), expiresAt: Date.now() + 15_000 };
  fs.writeFileSync(`${file}.new`, JSON.stringify(other)); // atomically, as a taker writes it
  fs.renameSync(`${file}.new`, file);
  assert.match((await lost(stalled)).message, 'taken over by pid 4242 on elsewhere');
  stalled.release();
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')), other, 'the lost holder leaves the new one alone');
  // a handler added after the loss still hears of it
  const late: Error[] = [];
  stalled.onLost((e) => late.push(e));
  await new Promise((r) => setTimeout(r, 10));
  assert.is(late.length, 1);
});

test('lease: a holder killed with -9 is taken over at once (its pid is dead)', async () => {
  const dir = tempDir();
  const c = child(`
    import { Lease } from '@src/store/lease.ts';
    await Lease.acquire(${JSON.stringify(dir)}, 'child master', 0);
    console.log('held');
    setInterval(() => {}, 1000);
  `);
  await c.line('held');
  const pid = c.p.pid!;
  try {
    assert.is(Lease.status(dir)?.pid, pid, 'the child holds it');
    await Lease.acquire(dir, 'parent', 0).then((l) => { l.release(); assert.unreachable('taken while the child lives'); }, (e) => assert.instance(e, LeaseBusyError));
  } finally {
    c.p.kill('SIGKILL');
  }
  await c.exited;
  const lease = await Lease.acquire(dir, 'parent', 0);
  const h = Lease.status(dir)!;
  assert.is(h.pid, process.pid);
  assert.is(h.command, 'parent');
  lease.release();
});

test.run();
