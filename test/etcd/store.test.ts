/** The etcd store and lease against a real etcd: round trip, batching, the lease, fencing, the CLI. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { storeLocation, type StoreLocation } from '../../src/store/backend.ts';
import { acquireLease, breakLease, leaseStatus, LeaseBusyError, LeaseLostError, type MasterLease } from '../../src/store/lease.ts';
import { Store } from '../../src/store/store.ts';
import type { JobRecord, Placement } from '../../src/store/types.ts';
import { drover } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';
import { startEtcd, type Etcd } from './helpers.ts';

let etcd: Etcd;
let n = 0;
/** Each test its own cluster prefix in the one etcd. */
const where = (): StoreLocation => storeLocation(tempDir(), `${etcd.url}/t${++n}`);

test.before(async () => { etcd = await startEtcd(); });
test.after(async () => { await etcd?.stop(); cleanupTemps(); });

const placement = (instance: string, primary = 'n1'): Placement => ({ instance, primary, secondary: 'n2', generation: 1 });
const job = (id: string): JobRecord => ({ id, type: 'CreateInstance', instance: 'web1', reason: 'test', start: 1, result: 'running' });

async function withLease<T>(loc: StoreLocation, fn: (lease: MasterLease) => Promise<T>): Promise<T> {
  const lease = await acquireLease(loc, 'test', 0);
  try { return await fn(lease); } finally { await lease.release(); }
}

test('round trip: every kind of record, deletes, machine snapshots; read back by a new Store', async () => {
  const loc = where();
  await withLease(loc, async (lease) => {
    const s = await Store.open(loc, { lease });
    await s.putPlacement(placement('web1'));
    await s.putPlacement(placement('gone'));
    await s.deletePlacement('gone');
    await s.putNode({ name: 'n1', nodeDownSince: 5 });
    await s.putMachine({ id: 'm1', op: { type: 'StartInstance', instance: 'web1', reason: 'r' } as never, snapshot: { value: 'a' }, startedAt: 1 });
    await s.putMachine({ id: 'm1', op: { type: 'StartInstance', instance: 'web1', reason: 'r' } as never, snapshot: { value: 'b' }, startedAt: 1 });
    await s.putJob(job('j1'));
    await s.putTarget({ instance: 'web1', primary: 'n2', reason: 'rebalance' });
    await s.close();
  });
  const back = await Store.open(loc, { readOnly: true });
  assert.equal([...back.placements.keys()], ['web1']);
  assert.equal(back.nodes.get('n1'), { name: 'n1', nodeDownSince: 5 });
  assert.equal(back.machines.get('m1')?.snapshot, { value: 'b' }, 'the latest snapshot, with its operation');
  assert.is(back.machines.get('m1')?.op.type, 'StartInstance');
  assert.equal(back.jobs.get('j1'), job('j1'));
  assert.is(back.targets.get('web1')?.primary, 'n2');
});

test('one tick of many mutations (same keys again, past 128 ops) lands whole', async () => {
  const loc = where();
  await withLease(loc, async (lease) => {
    const s = await Store.open(loc, { lease });
    const all: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) all.push(s.putPlacement(placement(`i${i % 200}`, `n${i}`)));
    all.push(s.deletePlacement('i0'));
    await Promise.all(all);
    await s.close();
  });
  const back = await Store.open(loc, { readOnly: true });
  assert.is(back.placements.size, 199);
  assert.is(back.placements.get('i1')?.primary, 'n201', 'the last write of a key wins');
  assert.is(back.placements.get('i199')?.primary, 'n199');
});

test('lease: a second holder is refused with the holder named; release frees it at once', async () => {
  const loc = where();
  const first = await acquireLease(loc, 'drover apply (one)', 0);
  try {
    const err = await acquireLease(loc, 'drover apply (two)', 0).then(() => undefined, (e: unknown) => e);
    assert.instance(err, LeaseBusyError);
    assert.match((err as Error).message, /pid \d+ .*drover apply \(one\)/);
    const h = await leaseStatus(loc);
    assert.is(h?.command, 'drover apply (one)');
    assert.ok(h!.expiresAt > Date.now() + 10_000, 'expiry from etcd\'s lease clock (TTL 15 s)');
  } finally { await first.release(); }
  assert.is(await leaseStatus(loc), undefined);
  await (await acquireLease(loc, 'drover apply (two)', 0)).release();
});

test('writes without the lease are refused; a store is read-only unless opened with it', async () => {
  const loc = where();
  const err = await Store.open(loc).then(() => undefined, (e: unknown) => e);
  assert.match(String(err), /needs its cluster lease/);
  const ro = await Store.open(loc, { readOnly: true });
  await ro.putPlacement(placement('x')).then(() => assert.unreachable('written read-only'), (e: Error) => assert.match(e.message, /read-only/));
});

test('fencing: after a break and a new holder, the old holder\'s writes fail and it is told at once', async () => {
  const loc = where();
  const old = await acquireLease(loc, 'old master', 0);
  const s = await Store.open(loc, { lease: old });
  await s.putPlacement(placement('web1', 'n1'));
  let lost: Error | undefined;
  old.onLost((e) => { lost = e; });
  await breakLease(loc);
  const next = await acquireLease(loc, 'new master', 0);
  try {
    const err = await s.putPlacement(placement('web1', 'n3')).then(() => undefined, (e: unknown) => e);
    assert.instance(err, LeaseLostError, 'the txn guard refused the write');
    assert.instance(lost, LeaseLostError, 'onLost ran');
    await s.putNode({ name: 'n9' }).then(() => assert.unreachable('a later write went through'), () => undefined);
    const back = await Store.open(loc, { readOnly: true });
    assert.is(back.placements.get('web1')?.primary, 'n1', 'the old holder\'s write never landed');
    assert.is(back.nodes.size, 0);
  } finally { await next.release(); await old.release(); }
});

test('a holder whose lease is broken notices within a keep-alive period', async () => {
  const loc = where();
  const lease = await acquireLease(loc, 'holder', 0);
  const t0 = Date.now();
  const lost = new Promise<number>((r) => lease.onLost(() => r(Date.now() - t0)));
  await breakLease(loc);
  const ms = await Promise.race([lost, new Promise<number>((r) => setTimeout(() => r(-1), 8000))]);
  assert.ok(ms >= 0 && ms < 7000, `noticed after ${ms} ms`);
  await lease.release();
});

test('an unreachable etcd is one clear line, not a hang', async () => {
  const loc = storeLocation(tempDir(), 'etcd://127.0.0.1:1');
  const t0 = Date.now();
  const err = await acquireLease(loc, 'x', 60_000).then(() => undefined, (e: unknown) => e);
  assert.match(String(err), /cannot reach etcd at 127\.0\.0\.1:1/);
  assert.ok(Date.now() - t0 < 6000);
  const r = await drover(['lock', 'status', '--store', 'etcd://127.0.0.1:1']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /^drover lock: cannot reach etcd at 127\.0\.0\.1:1/);
  assert.match((await drover(['lock', '--store', 'etcd:/nope'])).stderr, /--store: "etcd:\/nope" is not etcd:\/\//);
});

test('CLI: lock status and break against etcd; jobs reads the journal from etcd', async () => {
  const url = `${etcd.url}/cli`;
  const loc = storeLocation(tempDir(), url);
  const held = await acquireLease(loc, 'drover watch (test)', 0);
  const s = await Store.open(loc, { lease: held });
  await s.putJob(job('j1'));
  const status = await drover(['lock', 'status', '--store', url]);
  assert.match(status.stdout, /Held by pid \d+ on .* \(drover watch \(test\)\)/);
  const jobs = JSON.parse((await drover(['jobs', '--json', '--store', url])).stdout) as { jobs: JobRecord[] };
  assert.equal(jobs.jobs.map((j) => j.id), ['j1']);
  assert.is((await drover(['lock', 'break', '--store', url])).code, 0);
  assert.match((await drover(['lock', 'status', '--store', url])).stdout, /Free/);
  process.env.DROVER_STORE = url; // the variable works as the flag does
  try { assert.match((await drover(['lock', 'status'])).stdout, /Free/); } finally { delete process.env.DROVER_STORE; }
  await held.release();
});

test.run();
