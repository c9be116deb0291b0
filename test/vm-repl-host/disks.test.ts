/**
 * Replication of a VM with two disks into one storage daemon (exports replica0, replica1): real QEMU on this
 * host. Disk 0 is the guest's root (its counter); disk 1 is raw, holding a random pattern before the VM
 * starts (the full copy must carry it) and written while replicated through the guest's own device
 * (HMP qemu-io on vblk1, so the write goes through the mirror like a guest write). At a quiesced point
 * (guest paused, or QEMU gone) each replica must equal its primary disk byte for byte.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, cleanupTemps } from '../support/tmp.ts';
import { unavailable, makeDisk, startVm, startStorageDaemon, waitCounter, counters, type Proc } from './harness.ts';
import { startSyncMirror, watchSyncMirror, syncStateOf, syncJobs } from '../../src/drivers/qemu/replicate.ts';
import { asyncFullCopy, shipIncrement, unexportReplica, replicateAsync, hasReplicationBitmap, type AsyncRecord } from '../../src/drivers/qemu/increments.ts';
import { listJobs } from '../../src/drivers/qemu/jobs.ts';
import { stopStorageDaemon, finishCommitArgv } from '../../src/drivers/qemu/failover.ts';
import type { Qmp } from '../../src/drivers/qemu/qmp.ts';
import type { NbdAddress } from '../../src/drivers/qemu/nbd.ts';

const why = unavailable();
if (why) console.log(`SKIPPED vm-repl-host (disks): ${why}`);
const live: Proc[] = [];
test.after(async () => { for (const p of live) await p.kill(); cleanupTemps(); });
const track = (p: Proc) => { live.push(p); return p; };

const MiB = 2 ** 20;
const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const lastPrinted = (dir: string) => { const c = counters(dir); return c[c.length - 1]![0]; };

/** Two disks on each side: a0 the guest's ext4 root, a1 16 MiB of random bytes; b0, b1 blank replicas. */
function disks(dir: string): { a: [string, string]; b: [string, string] } {
  const a: [string, string] = [path.join(dir, 'a0.img'), path.join(dir, 'a1.img')];
  const b: [string, string] = [path.join(dir, 'b0.img'), path.join(dir, 'b1.img')];
  makeDisk(a[0]); execFileSync('sh', ['-c', `head -c ${16 * MiB} /dev/urandom > ${a[1]}`]);
  makeDisk(b[0], 64, false); makeDisk(b[1], 16, false);
  return { a, b };
}

/** A write into disk 1 through the guest's device (as the guest would: the mirror's write path), seen in its file `image`. */
async function writeDisk1(vm: Qmp, image: string, pattern: number, offset: number, length: number): Promise<void> {
  // qemu-io prints on the monitor's socket, beside QMP's replies: its outcome is read from the file
  await vm.execute('human-monitor-command', { 'command-line': `qemu-io -d vblk1/virtio-backend "write -P ${pattern} ${offset} ${length}"` });
  const got = Buffer.alloc(length);
  const fd = fs.openSync(image, 'r');
  try { fs.readSync(fd, got, 0, length, offset); } finally { fs.closeSync(fd); }
  assert.ok(got.every((x) => x === pattern), `disk 1 holds 0x${pattern.toString(16)} at ${offset}`);
}

async function pause(vm: Qmp): Promise<void> {
  await vm.execute('stop');
}

(why ? test.skip : test)('sync, two disks: both mirrors READY, a live write of disk 1 mirrored; paused, each replica equals its disk; failover boots from both', async () => {
  const dir = tempDir('vmrepl-disks-');
  const { a, b } = disks(dir);
  const listen: NbdAddress = { type: 'inet', host: '127.0.0.140', port: 10850 };
  const vm = track(await startVm(path.join(dir, 'a'), a));
  const qsd = track(await startStorageDaemon(path.join(dir, 'qsd'), b, listen));
  await waitCounter(path.join(dir, 'a'), 2);
  let total = 0;
  await startSyncMirror(vm.qmp, listen, 2, (_, t) => { total = Math.max(total, t); });
  assert.ok(total >= 80 * MiB, `progress summed over both disks: ${total} bytes`);
  const jobs = await listJobs(vm.qmp);
  assert.equal(['repl-sync0', 'repl-sync1'].map((id) => jobs.find((j) => j.id === id)?.status), ['ready', 'ready']);
  assert.equal(syncStateOf(await syncJobs(vm.qmp, 2)).kind, 'in-sync');
  let degraded: string | undefined;
  watchSyncMirror(vm.qmp, (d) => { degraded = d; });
  await writeDisk1(vm.qmp, a[1], 0x5a, 3 * MiB, 2 * MiB);
  await waitCounter(path.join(dir, 'a'), lastPrinted(path.join(dir, 'a')) + 2);
  await pause(vm.qmp);
  assert.equal(sha(b[0]), sha(a[0]), 'disk 0: the replica equals the primary at the paused guest');
  assert.equal(sha(b[1]), sha(a[1]), 'disk 1: the replica equals the primary (the pattern from before, the live write)');
  await vm.qmp.execute('cont');
  await waitCounter(path.join(dir, 'a'), lastPrinted(path.join(dir, 'a')) + 2);
  await vm.kill(); // the primary node dies
  const printed = lastPrinted(path.join(dir, 'a'));
  assert.equal(degraded, undefined);
  await stopStorageDaemon(qsd.qmp);
  assert.equal(sha(b[1]), sha(a[1]), 'disk 1 after the kill');
  const vm2 = track(await startVm(path.join(dir, 'b'), b));
  await waitCounter(path.join(dir, 'b'), 1);
  const first = counters(path.join(dir, 'b'))[0]!;
  assert.ok(first[0] >= printed + 1 && first[0] <= printed + 2 && first[1] === 2, `the replica resumed at ${first[0]} (boot ${first[1]}), the primary printed ${printed}`);
  await vm2.kill();
});

(why ? test.skip : test)('sync, two disks: disk 1\'s replica lost, the guest runs on and the replication is degraded, naming disk 1', async () => {
  const dir = tempDir('vmrepl-disks-');
  const { a, b } = disks(dir);
  const listen: NbdAddress = { type: 'inet', host: '127.0.0.140', port: 10851 };
  const vm = track(await startVm(path.join(dir, 'a'), a));
  const qsd = track(await startStorageDaemon(path.join(dir, 'qsd'), b, listen));
  await waitCounter(path.join(dir, 'a'), 1);
  await startSyncMirror(vm.qmp, listen, 2);
  const degraded = new Promise<string>((r) => watchSyncMirror(vm.qmp, r));
  await qsd.qmp.execute('block-export-del', { id: 'replica1', mode: 'hard' });
  await vm.qmp.execute('human-monitor-command', { 'command-line': 'qemu-io -d vblk1/virtio-backend "write -P 0x11 0 64k"' }); // may fail: the write reaches both or neither
  const detail = await degraded;
  assert.match(detail, /^disk 1: /);
  await waitCounter(path.join(dir, 'a'), lastPrinted(path.join(dir, 'a')) + 2);
  const state = syncStateOf(await syncJobs(vm.qmp, 2));
  assert.ok(state.kind === 'degraded' && state.detail.startsWith('disk 1: '), JSON.stringify(state));
  assert.equal((await vm.qmp.execute<{ status: string }>('query-status')).status, 'running');
  await vm.kill();
});

(why ? test.skip : test)('async, two disks: a full copy and increments of both; paused, the next increment leaves each replica equal to its disk; failover boots from both', async () => {
  const dir = tempDir('vmrepl-disks-');
  const { a, b } = disks(dir);
  const listen: NbdAddress = { type: 'inet', host: '127.0.0.140', port: 10852 };
  const vm = track(await startVm(path.join(dir, 'a'), a));
  const qsd = track(await startStorageDaemon(path.join(dir, 'qsd'), b, listen));
  await waitCounter(path.join(dir, 'a'), 2);
  const records: AsyncRecord[] = [];
  const overlays = [path.join(dir, 'inc0.qcow2'), path.join(dir, 'inc1.qcow2')];
  const repl = replicateAsync({ primary: vm.qmp, secondary: qsd.qmp, address: listen, overlayPaths: overlays }, 1000, (r) => records.push(r));
  const committed = (after = 0) => records.filter((r) => r.pending === 'none' && r.committedAt !== undefined && r.committedAt > after).length;
  await waitFor(() => committed() >= 2);
  assert.ok(await hasReplicationBitmap(vm.qmp), 'a bitmap on each disk');
  await writeDisk1(vm.qmp, a[1], 0x5a, 5 * MiB, 3 * MiB);
  await pause(vm.qmp);
  const pausedAt = Date.now();
  await waitFor(() => committed(pausedAt) >= 1);
  await repl.stop();
  assert.is(records.at(-1)!.error, undefined, records.at(-1)!.error);
  assert.ok(records.some((r) => r.pending === 'committing'), 'each increment was whole on both disks before its commit');
  assert.equal(sha(b[0]), sha(a[0]), 'disk 0: the replica equals the paused primary');
  assert.equal(sha(b[1]), sha(a[1]), 'disk 1: the replica equals the paused primary');
  await vm.kill();
  await stopStorageDaemon(qsd.qmp);
  const vm2 = track(await startVm(path.join(dir, 'b'), b));
  await waitCounter(path.join(dir, 'b'), 1);
  assert.equal(counters(path.join(dir, 'b'))[0]![1], 2, 'booted a second time, from the replicas');
  await vm2.kill();
});

(why ? test.skip : test)('async, two disks: the daemon stops mid-commit with disk 0 committed and disk 1 not; finishing every overlay brings both to the same increment', async () => {
  const dir = tempDir('vmrepl-disks-');
  const { a, b } = disks(dir);
  const overlays = [path.join(dir, 'inc0.qcow2'), path.join(dir, 'inc1.qcow2')];
  const listen: NbdAddress = { type: 'inet', host: '127.0.0.140', port: 10853 };
  const vm = track(await startVm(path.join(dir, 'a'), a));
  const qsd = track(await startStorageDaemon(path.join(dir, 'qsd'), b, listen));
  await waitCounter(path.join(dir, 'a'), 2);
  await asyncFullCopy(vm.qmp, listen, 2);
  await unexportReplica(qsd.qmp);
  await waitCounter(path.join(dir, 'a'), lastPrinted(path.join(dir, 'a')) + 2);
  await writeDisk1(vm.qmp, a[1], 0xc3, 0, 4 * MiB);
  await pause(vm.qmp); // the increment is this moment of both disks
  const shipped = await shipIncrement(vm.qmp, qsd.qmp, listen, overlays, async () => { await qsd.kill(); }).then(() => 'committed', () => 'cut short');
  assert.equal(shipped, 'cut short');
  assert.not.equal(sha(b[1]), sha(a[1]), 'disk 1\'s replica is still the full copy');
  const commit = (i: number) => execFileSync(finishCommitArgv(overlays[i]!)[0]!, finishCommitArgv(overlays[i]!).slice(1));
  commit(0); // as if the daemon's commit of disk 0 had finished before it stopped
  assert.equal(sha(b[0]), sha(a[0]), 'disk 0 at the increment');
  assert.not.equal(sha(b[1]), sha(a[1]), 'disk 1 not: a torn set, which a takeover must never boot');
  for (const i of [0, 1]) commit(i); // the takeover: every whole overlay, disk 0's a second time
  assert.equal(sha(b[0]), sha(a[0]), 'disk 0 still at the increment (its overlay committed twice)');
  assert.equal(sha(b[1]), sha(a[1]), 'disk 1 at the same increment');
  await vm.kill();
});

async function waitFor(ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) { if (Date.now() > deadline) throw new Error('timed out'); await new Promise((r) => setTimeout(r, 100)); }
}

test.run();
