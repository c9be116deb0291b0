/**
 * An asynchronously replicated VM (`Cluster.spec.replication.mode: async`, interval 5s) through `drover apply`
 * on a 3-node Docker test bed (base 180), with real QEMU: a full backup into the replica server on its
 * secondary, then one incremental backup per sync (written aside into an overlay, committed when whole);
 * status shows its recovery point, not a degraded mirror; its primary node killed → it runs on the secondary,
 * its counter resuming at most the recovery point behind, an increment whose commit was cut short (planted)
 * finished first; the disk checks clean; switched to sync, it mirrors in sync. One VM.
 * Skips loudly when QEMU or the guest cannot be had on this machine.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sleep, type ApplyEvent, type Bed, type Cli } from '../e2e-docker/helpers.ts';
import { counters, fsck, type TestGuest } from '../support/guest.ts';
import { consoleOf, downVmBed, lastOn, upVmBed, vmManifests, volumeFile } from '../support/vm-bed.ts';
import { running as runningOn, waitFor } from '../support/vm-bed.ts';

const BASE = 180;
const CLUSTER = 'vmasync';

interface Ctx { bed?: Bed; guest?: TestGuest; drover?: Cli; dir?: string; skip?: string }
const test = suite<Ctx>('async-replicated VM: increments, failover to the last whole one', {});

function manifests(ctx: Ctx, over: Record<string, unknown> = {}, mode = 'async'): string {
  return vmManifests(ctx.dir!, ctx.bed!, ctx.guest!, { cluster: CLUSTER, replication: { interval: '5s', mode },
    instance: { disks: [{ size: '64M' }], primary: 'node1', secondary: 'node2', ...over } });
}

async function apply(ctx: Ctx, over: Record<string, unknown> = {}, mode = 'async'): Promise<ApplyEvent[]> {
  const r = await ctx.drover!(['apply', manifests(ctx, over, mode), '--yes', '--json'], { timeoutMs: 400_000 });
  assert.is(r.code, 0, `apply failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ApplyEvent);
}


const running = (bed: Bed, i: number) => runningOn(bed, i, CLUSTER);

/**
 * On node2, beside the replica: an increment recorded whole whose commit into the replica never ran (as if
 * the master died mid-commit): an overlay naming the replica as its backing file (as the storage daemon
 * writes it), 0xab in the disk's last 64 KiB (free space of the guest's small ext4), and the `whole` marker.
 * The takeover must commit it before the VM starts. Returns the offset written.
 */
const TAIL = 65536;
function plantCutShortCommit(bed: Bed): number {
  const at = fs.statSync(volumeFile(bed, 2, 'drover-vm1-d0', 'disk.img')).size - TAIL;
  const overlay = volumeFile(bed, 2, 'drover-vm1-d0', 'increment.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', '/vm/d0/disk.img', '-F', 'raw', overlay, String(at + TAIL)]);
  execFileSync('qemu-io', ['-c', `write -P 0xab ${at} ${TAIL}`, `json:${JSON.stringify({ driver: 'qcow2', file: { driver: 'file', filename: overlay }, backing: null })}`]);
  fs.writeFileSync(volumeFile(bed, 2, 'drover-vm1-d0', 'increment.whole'), '');
  return at;
}

type Status = { instances: { name: string; degraded: boolean; recoveryPoint?: number; mirror?: string }[] };
const statusOf = async (ctx: Ctx) => (await ctx.drover!.json<Status>(['status', ctx.dir!])).instances.find((i) => i.name === 'vm1')!;

test.before(async (ctx) => {
  Object.assign(ctx, await upVmBed(BASE, 'async', 'async VM'));
});

test.after((ctx) => downVmBed(ctx));

test('async: a full copy, then an increment per sync; status shows a recovery point, not a degraded mirror', async (ctx) => {
  if (ctx.skip) return;
  const bed = ctx.bed!;
  const ev = await apply(ctx);
  assert.ok(ev.some((e) => e.op?.type === 'CreateInstance' && e.result === 'succeeded'), 'CreateInstance succeeded');
  assert.ok((await running(bed, 2)).includes('drover-vm1-replica'), 'the replica server runs on the secondary');
  assert.ok(fs.existsSync(volumeFile(bed, 2, 'drover-vm1-d0', 'replica.base')), 'the full copy finished into the replica');
  for (let k = 1; k <= 2; k++) {
    await sleep(5500); // the replica is older than the interval: the next apply ships an increment
    const before = Date.now();
    const inc = await apply(ctx);
    assert.ok(inc.some((e) => e.op?.type === 'SyncDisks' && e.result === 'succeeded'), `increment ${k}: SyncDisks succeeded`);
    const vm = await statusOf(ctx);
    console.log(`    increment ${k}: recovery point ${vm.recoveryPoint === undefined ? '-' : new Date(vm.recoveryPoint).toISOString()}, degraded ${vm.degraded}`);
    assert.is(vm.mirror, undefined, 'no sync mirror reported');
    assert.is(vm.degraded, false, 'not degraded');
    assert.ok(vm.recoveryPoint !== undefined && vm.recoveryPoint >= before - 1000, 'the recovery point is this increment\'s start');
  }
  assert.ok(!fs.existsSync(volumeFile(bed, 2, 'drover-vm1-d0', 'increment.whole')), 'no increment left half-committed');
});

test('the primary node dies: the VM runs on its secondary, its counter at most the recovery point behind; the disk checks clean', async (ctx) => {
  if (ctx.skip) return;
  const bed = ctx.bed!;
  const boot = lastOn(bed, 'node1')!.boot;
  const rp = (await statusOf(ctx)).recoveryPoint!;
  const tail = plantCutShortCommit(bed);
  await bed.run('kill', '1');
  const killedAt = Date.now();
  const printed = lastOn(bed, 'node1')!;
  const ev = await apply(ctx, { primary: undefined, secondary: undefined });
  assert.ok(ev.some((e) => e.op?.type === 'FailoverInstance' && e.result === 'succeeded'), 'FailoverInstance succeeded');
  const jobs = await ctx.drover!.json<{ jobs: { type: string; recovery?: { kind: string; at?: number } }[] }>(['jobs']);
  const recovery = jobs.jobs.filter((j) => j.type === 'FailoverInstance').pop()?.recovery;
  assert.is(recovery?.kind, 'last-sync', `the journal: the last increment (${JSON.stringify(recovery)})`);
  const first = await waitFor(`boot ${boot + 1} on node2`, () => counters(consoleOf(bed, 'node2')).find((c) => c.boot === boot + 1));
  const behindS = (killedAt - recovery!.at!) / 1000;
  console.log(`    node1 killed at counter ${printed.n}; node2 resumed at ${first.n}; recovery point ${new Date(recovery!.at!).toISOString()} (${behindS.toFixed(1)} s before the kill; status said ${new Date(rp).toISOString()})`);
  assert.ok(first.n <= printed.n + 2, `nothing from after the kill (printed ${printed.n}, resumed ${first.n})`);
  // one counter line a second: what was lost is at most the seconds since the recovery point (+2: a tick and its write)
  assert.ok(printed.n + 1 - first.n <= Math.ceil(behindS) + 2, `lost at most the recovery point: printed ${printed.n}, resumed ${first.n}, ${behindS.toFixed(1)} s`);
  assert.ok(!fs.existsSync(volumeFile(bed, 2, 'drover-vm1-d0', 'increment.qcow2')), 'the increment overlay was dropped or committed before the start');
  await apply(ctx, { primary: undefined, secondary: undefined, state: 'stopped' });
  const copy = path.join(os.tmpdir(), `drover-vmasync-fsck-${process.pid}.img`);
  execFileSync('cp', ['--sparse=always', volumeFile(bed, 2, 'drover-vm1-d0', 'disk.img'), copy]);
  try { const r = await fsck(copy); assert.ok(r.clean, `e2fsck -fn of the disk: ${r.output}`); } finally { fs.rmSync(copy, { force: true }); }
  const disk = fs.openSync(volumeFile(bed, 2, 'drover-vm1-d0', 'disk.img'), 'r');
  const got = Buffer.alloc(TAIL);
  try { fs.readSync(disk, got, 0, TAIL, tail); } finally { fs.closeSync(disk); }
  assert.ok(got.every((b) => b === 0xab), 'the whole increment whose commit was cut short was finished before the VM started');
});

test('started again, then switched to sync: the next sync ends the increments and mirrors in sync', async (ctx) => {
  if (ctx.skip) return;
  const free = { primary: undefined, secondary: undefined };
  await apply(ctx, free);
  await sleep(5500);
  await apply(ctx, free); // an increment (the first: a full copy of the new QEMU)
  assert.is((await statusOf(ctx)).mirror, undefined, 'async: no mirror');
  await sleep(5500);
  const ev = await apply(ctx, free, 'sync');
  assert.ok(ev.some((e) => e.op?.type === 'SyncDisks' && e.result === 'succeeded'), 'SyncDisks succeeded');
  const vm = await statusOf(ctx);
  console.log(`    switched to sync: mirror ${vm.mirror}, degraded ${vm.degraded}`);
  assert.equal([vm.mirror, vm.degraded], ['in-sync', false], 'the write-blocking mirror is in sync');
});

test.run();
