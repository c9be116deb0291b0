/**
 * A replicated VM (`hypervisor: kvm`, diskTemplate replicated) through `drover apply` on a 3-node Docker test
 * bed (base 140), with real QEMU: created with its disk mirrored synchronously into a replica server on its
 * secondary; live-migrated there and back (the counter goes on with no restart, the old disk checks clean);
 * its primary node killed → it runs on the secondary with no counter value lost, and a new secondary gets a
 * full copy; the destination node killed mid-migration → the guest keeps running where it was; the master
 * killed -9 mid-migration → the next apply finishes or cancels it, one guest running. One VM at a time.
 * Skips loudly when QEMU or the guest cannot be had on this machine.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nodeIndex, sleep, type ApplyEvent, type Bed, type Cli } from '../e2e-docker/helpers.ts';
import { counters, fsck, type TestGuest } from '../support/guest.ts';
import { consoleOf, downVmBed, lastOn, upVmBed, vmManifests, volumeFile } from '../support/vm-bed.ts';

const BASE = 140;
const CLUSTER = 'vmrepl';

interface Ctx { bed?: Bed; guest?: TestGuest; drover?: Cli; dir?: string; skip?: string; primary: string; secondary: string }
const test = suite<Ctx>('replicated VM: sync replication, live migration, failover', { primary: 'node1', secondary: 'node2' });

function manifests(ctx: Ctx, over: Record<string, unknown> = {}): string {
  return vmManifests(ctx.dir!, ctx.bed!, ctx.guest!, { cluster: CLUSTER, replication: { interval: '24h' },
    instance: { disks: [{ size: '64M' }], primary: ctx.primary, secondary: ctx.secondary, ...over } });
}

async function apply(ctx: Ctx, over: Record<string, unknown> = {}): Promise<ApplyEvent[]> {
  const r = await ctx.drover!(['apply', manifests(ctx, over), '--yes', '--json'], { timeoutMs: 400_000 });
  if (process.env.DROVER_VMREPL_LOG) fs.appendFileSync(process.env.DROVER_VMREPL_LOG, `${new Date().toISOString()} apply ${JSON.stringify(over)}\n${r.stdout}\n${r.stderr}\n`);
  assert.is(r.code, 0, `apply failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  return events(r.stdout);
}
const events = (stdout: string): ApplyEvent[] => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ApplyEvent);

async function waitFor<T>(what: string, get: () => T | undefined | Promise<T | undefined>, timeoutMs = 120_000, everyMs = 250): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The counter has gone on by `more` lines on `node`, all of boot `boot`. */
const counting = (ctx: Ctx, node: string, boot: number, more = 2) => {
  const from = lastOn(ctx.bed!, node)?.n ?? 0;
  return waitFor(`counter on ${node}`, () => { const l = lastOn(ctx.bed!, node); return l && l.boot === boot && l.n >= from + more ? l : undefined; });
};

/** The containers of this cluster running on node I (the VM and helpers). */
async function running(bed: Bed, i: number): Promise<string[]> {
  const cs = await bed.engine(i).listContainers({ filters: { label: [`drover.cluster=${CLUSTER}`] } });
  return cs.map((c) => c.Names[0]!.slice(1)).sort();
}

/** QMP on the VM's monitor from inside its container (Drover's CLI has exited: the socket is free). */
async function qmp(bed: Bed, i: number, command: string): Promise<unknown> {
  const exec = await bed.engine(i).getContainer('drover-vm1').exec({
    Cmd: ['sh', '-c', `printf '%s\\n' '{"execute":"qmp_capabilities"}' '{"execute":"${command}"}' | socat -t 2 - UNIX-CONNECT:/run/vm/qmp.sock`],
    AttachStdout: true, AttachStderr: true,
  });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  const text = Buffer.concat(chunks).toString().replace(/[\x00-\x08]/g, '');
  const lines = text.split('\n').filter((l) => l.includes('"return"'));
  return (JSON.parse(lines.at(-1)!.slice(lines.at(-1)!.indexOf('{'))) as { return: unknown }).return;
}

const inSync = async (bed: Bed, i: number) => ((await qmp(bed, i, 'query-jobs')) as { id: string; status: string }[]).some((j) => j.id === 'repl-sync0' && j.status === 'ready');

test.before(async (ctx) => {
  Object.assign(ctx, await upVmBed(BASE, 'repl', 'replicated VM'));
});

test.after((ctx) => downVmBed(ctx));

test('create: the VM runs on node1, its disk mirrored synchronously into the replica server on node2', async (ctx) => {
  if (ctx.skip) return;
  const bed = ctx.bed!;
  const ev = await apply(ctx);
  assert.ok(ev.some((e) => e.op?.type === 'CreateInstance' && e.result === 'succeeded'), 'CreateInstance succeeded');
  await counting(ctx, 'node1', 1);
  assert.ok((await running(bed, 2)).includes('drover-vm1-replica'), 'the replica server runs on the secondary');
  assert.ok(await inSync(bed, 1), 'the write-blocking mirror is READY (in sync)');
  const st = await ctx.drover!.json<{ instances: { name: string; primary?: string; secondary?: string; degraded: boolean; recoveryPoint?: number; mirror?: string }[] }>(['status', ctx.dir!]);
  const vm = st.instances.find((i) => i.name === 'vm1')!;
  assert.equal([vm.primary, vm.secondary, vm.degraded], ['node1', 'node2', false]);
  assert.equal([vm.mirror, vm.recoveryPoint], ['in-sync', undefined], 'status: in sync, nothing would be lost (no recovery point age)');
});

for (const [to, from] of [['node2', 'node1'], ['node1', 'node2']] as const) {
  test(`live migration to ${to}: the counter goes on with no restart, the old disk checks clean, replication turns around`, async (ctx) => {
    if (ctx.skip) return;
    const bed = ctx.bed!;
    const before = lastOn(bed, from)!;
    ctx.primary = to; ctx.secondary = from;
    const ev = await apply(ctx);
    const note = ev.map((e) => String(e.note ?? '')).find((n) => /live, downtime/.test(n));
    assert.ok(note, `the journal says the migration was live: ${JSON.stringify(ev.filter((e) => e.note))}`);
    console.log(`    ${from} → ${to}: ${note}`);
    const after = await counting(ctx, to, 1);
    const here = counters(consoleOf(bed, to)).filter((c) => c.n > before.n);
    assert.ok(here.every((c) => c.boot === 1), 'no restart of the guest');
    const seen = [...counters(consoleOf(bed, from)), ...counters(consoleOf(bed, to))].map((c) => c.n);
    for (let n = 1; n <= after.n; n++) assert.ok(seen.includes(n), `counter value ${n} printed on one node or the other`);
    const left = await running(bed, nodeIndex(from));
    assert.ok(left.includes('drover-vm1-replica') && !left.includes('drover-vm1'), `on ${from}: the replica server, no VM (${left.join(', ')})`);
    assert.ok(await inSync(bed, nodeIndex(to)), `${to} mirrors into ${from}`);
    const copy = path.join(os.tmpdir(), `drover-vmrepl-fsck-${process.pid}.img`);
    execFileSync('cp', ['--sparse=always', volumeFile(bed, nodeIndex(from), 'drover-vm1-d0', 'disk.img'), copy]);
    try { const r = await fsck(copy); assert.ok(r.clean, `e2fsck -fn of the replica: ${r.output}`); } finally { fs.rmSync(copy, { force: true }); }
  });
}

/** Until a migration's destination (the incoming-labelled VM container) exists (`all`) or runs on node I. */
const destinationUp = (bed: Bed, i: number, all = false) => waitFor(`a migration's destination on node${i}`, async () => {
  const cs = await bed.engine(i).listContainers({ all, filters: { label: [`drover.cluster=${CLUSTER}`, 'drover.vm.incoming=1'] } }).catch(() => []);
  return cs.length ? true : undefined;
}, 120_000, 40);

/** Every running copy of the VM, as `node:boot-of-its-last-line`. */
async function copies(bed: Bed, nodes: readonly number[]): Promise<string[]> {
  const out: string[] = [];
  for (const i of nodes) if ((await running(bed, i)).includes('drover-vm1')) out.push(`node${i}`);
  return out;
}

test('the master is killed -9 mid-migration: the next apply finishes or cancels it, one guest runs, nothing restarted', async (ctx) => {
  if (ctx.skip) return;
  const bed = ctx.bed!;
  const [from, to] = [ctx.primary, ctx.secondary];
  ctx.primary = to; ctx.secondary = from;
  const child = ctx.drover!.spawn(['apply', manifests(ctx), '--yes', '--json']);
  await destinationUp(bed, nodeIndex(to));
  await sleep(150); // somewhere in the mirror or the RAM phase
  child.child.kill('SIGKILL');
  await child.done;
  const ev = await apply(ctx);
  const resumed = ev.find((e) => e.type === 'operation-started' && e.op?.type === 'MigrateInstance');
  console.log(`    master killed mid-migration ${from} → ${to}; next apply: ${ev.filter((e) => e.type === 'operation-finished').map((e) => `${e.op?.type} ${e.result} ${e.note ?? ''}`).join('; ')}`);
  assert.ok(resumed, 'the next apply resumed (or re-ran) the migration');
  assert.equal(await copies(bed, [1, 2, 3]), [to], 'one guest, on the pinned primary');
  const last = await counting(ctx, to, 1);
  const all = [...counters(consoleOf(bed, from)), ...counters(consoleOf(bed, to))];
  assert.ok(all.every((c) => c.boot === 1), 'the guest never restarted');
  for (let n = 1; n <= last.n; n++) assert.ok(all.some((c) => c.n === n), `counter value ${n} printed`);
});

test('stopped and started again after a live migration: the guest boots from its disk (the container no longer waits for a migration)', async (ctx) => {
  if (ctx.skip) return;
  const bed = ctx.bed!;
  const at = lastOn(bed, ctx.primary)!;
  await apply(ctx, { state: 'stopped' });
  assert.equal(await copies(bed, [1, 2, 3]), [], 'powered off');
  await apply(ctx, { state: 'running' });
  const first = await waitFor(`boot ${at.boot + 1}`, () => counters(consoleOf(bed, ctx.primary)).find((c) => c.boot === at.boot + 1));
  assert.ok(first.n > at.n, `the counter goes on from the disk (${at.n} → ${first.n})`);
  await counting(ctx, ctx.primary, at.boot + 1);
});

test('the primary node dies: the VM runs on its secondary with no counter value lost; a new secondary gets a full copy', async (ctx) => {
  if (ctx.skip) return;
  const bed = ctx.bed!;
  const [victim, survivor] = [ctx.primary, ctx.secondary];
  const spare = ['node1', 'node2', 'node3'].find((n) => n !== victim && n !== survivor)!;
  const boot = lastOn(bed, victim)!.boot;
  await counting(ctx, victim, boot, 1);
  const t0 = Date.now();
  await bed.run('kill', String(nodeIndex(victim)));
  const printed = lastOn(bed, victim)!;
  const ev = await apply(ctx, { primary: undefined, secondary: undefined });
  assert.ok(ev.some((e) => e.op?.type === 'FailoverInstance' && e.result === 'succeeded'), 'FailoverInstance succeeded');
  const jobs = await ctx.drover!.json<{ jobs: { type: string; recovery?: { kind: string } }[] }>(['jobs']);
  const failover = jobs.jobs.filter((j) => j.type === 'FailoverInstance').pop();
  console.log(`    failover journalled with recovery point ${JSON.stringify(failover?.recovery)}`);
  assert.is(failover?.recovery?.kind, 'in-sync', 'the journal: none lost (the mirror was in sync)');
  const first = await waitFor(`boot ${boot + 1} on ${survivor}`, () => counters(consoleOf(bed, survivor)).find((c) => c.boot === boot + 1));
  console.log(`    ${victim} killed at counter ${printed.n}: ${survivor} resumed at ${first.n} (${Date.now() - t0} ms from the kill to now)`);
  assert.ok(first.n === printed.n + 1 || first.n === printed.n + 2, `sync replication: nothing lost (printed ${printed.n}, resumed ${first.n})`);
  assert.ok((await running(bed, nodeIndex(spare))).includes('drover-vm1-replica'), `the new secondary ${spare} runs the replica server`);
  assert.ok(await inSync(bed, nodeIndex(survivor)), `${survivor} mirrors into ${spare}`);
  assert.ok(ev.some((e) => e.type === 'progress'), 'the new secondary\'s full copy reported progress');
  ctx.primary = survivor; ctx.secondary = spare;
});

test('the destination node dies mid-migration: the guest keeps running where it was', async (ctx) => {
  if (ctx.skip) return;
  const bed = ctx.bed!;
  const [from, to] = [ctx.primary, ctx.secondary];
  const child = ctx.drover!.spawn(['apply', manifests(ctx, { primary: to, secondary: from }), '--yes', '--json']);
  await destinationUp(bed, nodeIndex(to), true); // made: the node dies before the migration can complete
  await bed.run('kill', String(nodeIndex(to)));
  const r = await child.done;
  const ev = events(r.stdout);
  console.log(`    ${to} killed mid-migration: ${ev.filter((e) => e.type === 'operation-finished').map((e) => `${e.op?.type} ${e.result} ${e.error ?? e.note ?? ''}`).join('; ').slice(0, 300)}`);
  assert.ok(!ev.some((e) => e.op?.type === 'MigrateInstance' && e.result === 'succeeded'), 'the migration did not succeed');
  assert.ok((await running(bed, nodeIndex(from))).includes('drover-vm1'), `the VM still runs on ${from}`);
  const boot = lastOn(bed, from)!.boot;
  await counting(ctx, from, boot, 3);
});

test.run();
