/**
 * A replicated VM with two disks through `drover apply` on a 3-node Docker test bed (base 190), with real
 * QEMU: disk 0 the test guest's root (its counter), disk 1 a raw 16 MiB disk written through the guest's
 * device (HMP qemu-io on vblk1, so the write takes the guest's path). Async: a full copy then an increment of
 * both disks into one replica server, committed as a set; with the guest paused, the increment leaves each
 * replica equal to its disk byte for byte. Switched to sync: both disks' write-blocking mirrors READY, a
 * write of disk 1 on the secondary when it completes. The primary node killed (its guest paused): the VM
 * fails over to the secondary with nothing lost, disk 1 as on the primary, and mirrors both into node3.
 * Skips loudly when QEMU or the guest cannot be had on this machine.
 */
import { suite } from 'uvu';
import { running as runningOn, waitFor } from '../support/vm-bed.ts';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FENCE, cli, nodeIndex, sleep, upBed, writeManifests, type ApplyEvent, type Bed, type Cli } from '../e2e-docker/helpers.ts';
import { counters, testGuest, type TestGuest } from '../support/guest.ts';
import { qemuBuild } from '../../src/drivers/docker/vm/qemu-image.ts';

const BASE = 190;
const CLUSTER = 'vmdisks';
const MiB = 2 ** 20;

interface Ctx { bed?: Bed; guest?: TestGuest; drover?: Cli; dir?: string; skip?: string }
const test = suite<Ctx>('replicated VM with two disks: both mirrored, both in each increment, both failed over', {});

/** A file of the instance's volume on node I, read on the host (the engine may be dead). */
const volumeFile = (bed: Bed, i: number, volume: string, file: string): string => path.join(bed.dir, `n${i}`, 'data', 'volumes', volume, '_data', file);
const diskFile = (bed: Bed, node: number, disk: number) => volumeFile(bed, node, `drover-vm1-d${disk}`, 'disk.img');
const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const consoleOf = (bed: Bed, node: string): string => {
  const f = volumeFile(bed, nodeIndex(node), 'drover-vm1-run', 'console.log');
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
};
const lastOn = (bed: Bed, node: string) => counters(consoleOf(bed, node)).at(-1);

function manifests(ctx: Ctx, mode: 'sync' | 'async', over: Record<string, unknown> = {}): string {
  const g = ctx.guest!;
  return writeManifests(ctx.dir!, {
    cluster: CLUSTER,
    spec: {
      defaults: { memory: '128M', vcpus: 1, diskTemplate: 'replicated' },
      policy: { vcpuRatio: 8, memoryOvercommit: 1.0, redundancy: 'n+1' },
      failover: { automatic: true, nodeDownAfter: '3s', fenceCommand: [FENCE] },
      replication: { interval: '5s', mode },
    },
    nodes: [1, 2, 3].map((i) => ({ name: `node${i}`, endpoint: ctx.bed!.endpoint(i) })),
    instances: [{
      name: 'vm1', hypervisor: 'kvm', image: g.rootfs, boot: { kernel: g.kernel, initrd: g.initrd, cmdline: g.cmdline },
      disks: [{ size: '64M' }, { size: '16M' }], primary: 'node1', secondary: 'node2', ...over,
    }],
  });
}

async function apply(ctx: Ctx, mode: 'sync' | 'async', over: Record<string, unknown> = {}): Promise<ApplyEvent[]> {
  const r = await ctx.drover!(['apply', manifests(ctx, mode, over), '--yes', '--json'], { timeoutMs: 400_000 });
  assert.is(r.code, 0, `apply failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ApplyEvent);
}


const running = (bed: Bed, i: number) => runningOn(bed, i, CLUSTER);

/** One QMP command on the VM's monitor from inside its container on node I (Drover's CLI has exited: the socket is free). */
async function qmp(bed: Bed, i: number, execute: string, args?: Record<string, unknown>): Promise<unknown> {
  const exec = await bed.engine(i).getContainer('drover-vm1').exec({
    Cmd: ['sh', '-c', `printf '%s\\n' '{"execute":"qmp_capabilities"}' "$Q" | socat -t 2 - UNIX-CONNECT:/run/vm/qmp.sock`],
    Env: [`Q=${JSON.stringify({ execute, ...(args && { arguments: args }) })}`],
    AttachStdout: true, AttachStderr: true,
  });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  const lines = Buffer.concat(chunks).toString().replace(/[\x00-\x08]/g, '').split('\n').filter((l) => l.includes('"return"'));
  return (JSON.parse(lines.at(-1)!.slice(lines.at(-1)!.indexOf('{'))) as { return: unknown }).return;
}

/** Writes `pattern` into disk 1 through the guest's device on node I; checked in the primary's file. */
async function writeDisk1(bed: Bed, i: number, pattern: number, offset: number, length: number): Promise<void> {
  await qmp(bed, i, 'human-monitor-command', { 'command-line': `qemu-io -d vblk1/virtio-backend "write -P ${pattern} ${offset} ${length}"` });
  assert.ok(holds(diskFile(bed, i, 1), pattern, offset, length), `disk 1 on node${i} holds 0x${pattern.toString(16)} at ${offset}`);
}

function holds(file: string, pattern: number, offset: number, length: number): boolean {
  const got = Buffer.alloc(length);
  const fd = fs.openSync(file, 'r');
  try { fs.readSync(fd, got, 0, length, offset); } finally { fs.closeSync(fd); }
  return got.every((b) => b === pattern);
}

type Status = { instances: { name: string; degraded: boolean; recoveryPoint?: number; mirror?: string }[] };
const statusOf = async (ctx: Ctx) => (await ctx.drover!.json<Status>(['status', ctx.dir!])).instances.find((i) => i.name === 'vm1')!;

test.before(async (ctx) => {
  const g = await testGuest();
  if ('skip' in g) { ctx.skip = g.skip; console.log(`\n  SKIPPED (two-disk VM): ${g.skip}\n`); return; }
  try { qemuBuild(); } catch (e) { ctx.skip = (e as Error).message; console.log(`\n  SKIPPED (two-disk VM): ${ctx.skip}\n`); return; }
  ctx.guest = g;
  ctx.bed = await upBed(3, BASE, 'drover-vm-disks');
  ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drover-vmdisks-manifests-'));
  ctx.drover = cli(ctx.bed, fs.mkdtempSync(path.join(os.tmpdir(), 'drover-vmdisks-state-')));
});

test.after(async (ctx) => {
  await ctx.bed?.down();
  for (const d of [ctx.dir, ctx.drover?.stateDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

test('async: a full copy, then an increment of both disks committed as a set; the guest paused, each replica equals its disk', async (ctx) => {
  if (ctx.skip) return;
  const bed = ctx.bed!;
  const ev = await apply(ctx, 'async');
  assert.ok(ev.some((e) => e.op?.type === 'CreateInstance' && e.result === 'succeeded'), 'CreateInstance succeeded');
  await waitFor('the counter on node1', () => lastOn(bed, 'node1'));
  assert.ok((await running(bed, 2)).includes('drover-vm1-replica'), 'the replica server runs on the secondary');
  assert.ok(fs.existsSync(volumeFile(bed, 2, 'drover-vm1-d0', 'replica.base')), 'a full copy of both disks finished');
  await writeDisk1(bed, 1, 0xc3, 8 * MiB, 4 * MiB);
  await qmp(bed, 1, 'stop'); // the guest paused: the next increment is its last state
  await sleep(5500);
  const inc = await apply(ctx, 'async');
  assert.ok(inc.some((e) => e.op?.type === 'SyncDisks' && e.result === 'succeeded'), 'the increment: SyncDisks succeeded');
  for (const d of [0, 1]) assert.ok(fs.existsSync(volumeFile(bed, 2, `drover-vm1-d${d}`, 'increment.qcow2')), `disk ${d}'s increment was written aside`);
  assert.ok(!fs.existsSync(volumeFile(bed, 2, 'drover-vm1-d0', 'increment.whole')), 'and committed: no increment left half-committed');
  assert.equal(sha(diskFile(bed, 2, 0)), sha(diskFile(bed, 1, 0)), 'disk 0\'s replica equals the paused disk');
  assert.equal(sha(diskFile(bed, 2, 1)), sha(diskFile(bed, 1, 1)), 'disk 1\'s replica equals the paused disk');
  const vm = await statusOf(ctx);
  assert.equal([vm.mirror, vm.degraded], [undefined, false], 'async: a recovery point, no mirror');
  await qmp(bed, 1, 'cont');
});

test('switched to sync: both disks mirrored into the replica server, both mirrors READY; a write of disk 1 is on the secondary when it completes', async (ctx) => {
  if (ctx.skip) return;
  const bed = ctx.bed!;
  await sleep(5500);
  const ev = await apply(ctx, 'sync');
  assert.ok(ev.some((e) => e.op?.type === 'SyncDisks' && e.result === 'succeeded'), 'SyncDisks succeeded');
  const jobs = (await qmp(bed, 1, 'query-jobs')) as { id: string; status: string }[];
  assert.equal(['repl-sync0', 'repl-sync1'].map((id) => jobs.find((j) => j.id === id)?.status), ['ready', 'ready'], JSON.stringify(jobs));
  const vm = await statusOf(ctx);
  assert.equal([vm.mirror, vm.degraded], ['in-sync', false]);
  await writeDisk1(bed, 1, 0x5a, 2 * MiB, 2 * MiB);
  assert.ok(holds(diskFile(bed, 2, 1), 0x5a, 2 * MiB, 2 * MiB), 'the write is in the replica of disk 1');
  await qmp(bed, 1, 'stop');
  assert.equal(sha(diskFile(bed, 2, 0)), sha(diskFile(bed, 1, 0)), 'disk 0\'s replica equals the paused disk');
  assert.equal(sha(diskFile(bed, 2, 1)), sha(diskFile(bed, 1, 1)), 'disk 1\'s replica equals the paused disk');
});

test('the primary node dies: the VM runs on its secondary from both replicas, nothing lost, disk 1 as it was on the primary', async (ctx) => {
  if (ctx.skip) return;
  const bed = ctx.bed!;
  const printed = lastOn(bed, 'node1')!;
  const disk1 = sha(diskFile(bed, 1, 1));
  await bed.run('kill', '1');
  const ev = await apply(ctx, 'sync', { primary: undefined, secondary: undefined });
  assert.ok(ev.some((e) => e.op?.type === 'FailoverInstance' && e.result === 'succeeded'), 'FailoverInstance succeeded');
  const first = await waitFor(`boot ${printed.boot + 1} on node2`, () => counters(consoleOf(bed, 'node2')).find((c) => c.boot === printed.boot + 1));
  console.log(`    node1 killed, its guest paused at counter ${printed.n}; node2 resumed at ${first.n}`);
  // the guest may have been paused between writing n+1 and printing it
  assert.ok(first.n === printed.n + 1 || first.n === printed.n + 2, `nothing lost (paused at ${printed.n}, resumed at ${first.n})`);
  assert.is(sha(diskFile(bed, 2, 1)), disk1, 'disk 1 on the new primary equals the old primary\'s');
  const jobs = (await qmp(bed, 2, 'query-jobs')) as { id: string; status: string }[];
  assert.equal(['repl-sync0', 'repl-sync1'].map((id) => jobs.find((j) => j.id === id)?.status), ['ready', 'ready'], `node2 mirrors both disks into node3: ${JSON.stringify(jobs)}`);
});

test.run();
