/**
 * A VM instance (`hypervisor: kvm`) through `drover apply` on a 2-node Docker test bed (base 130), with real
 * QEMU: the test guest (test/support/guest.ts) boots from its kernel and root disk image; its counter shows
 * on the console log kept on the node; a graceful stop (ACPI powerdown) leaves a clean file system; a start
 * goes on counting (boot 2); a cold move to the other node goes on counting there (boot 3); removal leaves
 * nothing. The QEMU image is absent from both engines at the start: Drover loads it. node2 is behind mutual
 * TLS, so QMP (exec + socat through the engine API) and the image load run over TLS there. One VM at a time.
 * Skips loudly when QEMU or the guest cannot be had on this machine.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { drover } from '../support/cli.ts';
import { counters, fsck, testGuest, type TestGuest } from '../support/guest.ts';
import { startTestbed, type Testbed } from '../support/testbed.ts';
import { PassThrough } from 'node:stream';
import { firstTarFile, vmConsole, vmLogs } from '../../src/drivers/docker/vm/console.ts';
import { closeAll, openQmp } from '../../src/drivers/docker/vm/monitor.ts';
import { Engine } from '../../src/drivers/docker/engine.ts';
import { createDockerDriver } from '../../src/drivers/docker/index.ts';
import { qemuBuild } from '../../src/drivers/docker/vm/qemu-image.ts';

const BASE = 130;
const CLUSTER = 'vmlife';

interface Ctx {
  bed?: Testbed; guest?: TestGuest; dir?: string; state?: string; skip?: string; lastN?: number;
  /** node2 behind mutual TLS (a test bed of our own): QMP and the console then go through TLS too */
  tls?: { endpoint: string; files: { ca: string; cert: string; key: string } };
}
const test = suite<Ctx>('VM lifecycle through drover apply', {});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const index = (node: string): number => Number(node.replace('node', ''));

function writeManifests(ctx: Ctx, over: Record<string, unknown>): string {
  const g = ctx.guest!;
  const doc = (kind: string, name: string, spec: object): string => JSON.stringify({ apiVersion: 'drover/v1', kind, metadata: { name }, spec });
  const docs = [
    doc('Cluster', CLUSTER, { backend: 'docker', defaults: { diskTemplate: 'plain', memory: '128M', vcpus: 1 }, replication: { interval: '24h' } }),
    ...[...ctx.bed!.endpoints].map(([name, endpoint]) => doc('Node', name, name === 'node2' && ctx.tls
      ? { cluster: CLUSTER, endpoint: ctx.tls.endpoint, tls: ctx.tls.files } : { cluster: CLUSTER, endpoint })),
    doc('Instance', 'vm1', {
      cluster: CLUSTER, hypervisor: 'kvm', image: g.rootfs, boot: { kernel: g.kernel, initrd: g.initrd, cmdline: g.cmdline },
      disks: [{ size: '64M' }], primary: 'node1', ...over,
    }),
  ];
  fs.writeFileSync(path.join(ctx.dir!, 'all.yaml'), docs.join('\n---\n') + '\n');
  return ctx.dir!;
}

async function apply(ctx: Ctx, over: Record<string, unknown> = {}): Promise<string> {
  const r = await drover(['apply', writeManifests(ctx, over), '--yes', '--state-dir', ctx.state!]);
  assert.is(r.code, 0, `apply failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** One file out of a container (running or not) through the archive API. */
async function fileOf(engine: Docker, container: string, file: string): Promise<Buffer | undefined> {
  try {
    const stream = await engine.getContainer(container).getArchive({ path: file });
    const chunks: Buffer[] = [];
    for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
    return firstTarFile(Buffer.concat(chunks));
  } catch { return undefined; }
}

const consoleOf = async (engine: Docker): Promise<string> => (await fileOf(engine, 'drover-vm1', '/run/vm/console.log'))?.toString() ?? '';

/** Wait until the console log shows a counter line of `boot` (generous: 2 cores shared by many). */
async function waitCounter(engine: Docker, boot: number, timeoutMs = 120_000): Promise<{ n: number; boot: number }[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const seen = counters(await consoleOf(engine));
    if (seen.some((c) => c.boot === boot)) return seen;
    if (Date.now() > until) throw new Error(`no COUNTER line of boot ${boot} within ${timeoutMs} ms; console:\n${(await consoleOf(engine)).slice(-600)}`);
    await sleep(250);
  }
}

async function fsckDisk(engine: Docker): Promise<{ clean: boolean; output: string }> {
  const disk = await fileOf(engine, 'drover-vm1', '/vm/d0/disk.img');
  assert.ok(disk && disk.length > 0, 'the disk file can be read');
  const file = path.join(os.tmpdir(), `drover-vm-fsck-${process.pid}.img`);
  fs.writeFileSync(file, disk!);
  try { return await fsck(file); } finally { fs.rmSync(file, { force: true }); }
}

test.before(async (ctx) => {
  const g = await testGuest();
  if ('skip' in g) { ctx.skip = g.skip; console.log(`\n  SKIPPED (VM lifecycle): ${g.skip}\n`); return; }
  try { qemuBuild(); } catch (e) { ctx.skip = (e as Error).message; console.log(`\n  SKIPPED (VM lifecycle): ${ctx.skip}\n`); return; }
  ctx.guest = g;
  ctx.bed = await startTestbed(2, BASE);
  ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drover-vm-manifests-'));
  ctx.state = fs.mkdtempSync(path.join(os.tmpdir(), 'drover-vm-state-'));
  if (ctx.bed.owned) {
    await ctx.bed.run('tls', '2');
    const pki = `${ctx.bed.dir}/pki`;
    ctx.tls = { endpoint: `tcp://127.0.0.${ctx.bed.base + 2}:2376`, files: { ca: `${pki}/ca.pem`, cert: `${pki}/client-cert.pem`, key: `${pki}/client-key.pem` } };
  } else console.log('    (shared test bed: node2 stays without TLS)');
  // the QEMU image must come from Drover: none on the engines to begin with
  for (const i of [1, 2]) await ctx.bed.engine(i).getImage(qemuBuild().image).remove().catch(() => {});
});

test.after(async (ctx) => {
  if (ctx.bed && ctx.state) await drover(['apply', writeManifests(ctx, { state: 'absent' }), '--yes', '--state-dir', ctx.state]).catch(() => {});
  await ctx.bed?.down();
  for (const d of [ctx.dir, ctx.state]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

test('apply boots the VM: the QEMU image is loaded into the engine that lacked it, the counter shows on the console log', async (ctx) => {
  if (ctx.skip) return;
  const engine = ctx.bed!.engine(1);
  assert.is(await engine.getImage(qemuBuild().image).inspect().then(() => true, () => false), false, 'no QEMU image before');
  const t0 = Date.now();
  const out = await apply(ctx);
  assert.match(out, /CreateInstance/);
  const seen = await waitCounter(engine, 1);
  console.log(`    drover apply to the first COUNTER line: ${Date.now() - t0} ms (QEMU image loaded, files copied, guest booted)`);
  assert.ok(seen[0]!.n >= 1);
  assert.ok(await engine.getImage(qemuBuild().image).inspect().then(() => true, () => false), 'QEMU image loaded');
  const info = await engine.getContainer('drover-vm1').inspect();
  assert.is(info.State.Running, true);
  assert.is(info.HostConfig.Privileged, false, 'not privileged');
  assert.equal(info.HostConfig.CapDrop, ['ALL'], 'every capability dropped');
  assert.is(info.HostConfig.ReadonlyRootfs, true);
  const st = await drover(['status', ctx.dir!, '--json', '--state-dir', ctx.state!]);
  const vm = (JSON.parse(st.stdout) as { instances: { name: string; state: string; hypervisor?: string; accel?: string }[] }).instances.find((i) => i.name === 'vm1')!;
  assert.is(vm.state, 'running');
  assert.is(vm.hypervisor, 'kvm');
  assert.ok(vm.accel === 'kvm' || vm.accel === 'tcg', `accel shown: ${vm.accel}`);
  console.log(`    accelerator on node1: ${vm.accel}`);
  const text = await drover(['status', ctx.dir!, '--state-dir', ctx.state!]);
  assert.match(text.stdout, /vm1: virtual machine, (accelerated \(kvm\)|emulated \(tcg)/);
});

test('logs and console of a running VM: the console log followed, the serial console streamed (driver functions)', async (ctx) => {
  if (ctx.skip) return;
  const e = new Engine({ cluster: CLUSTER, nodes: ctx.bed!.nodes(CLUSTER) });
  const c = e.conn('node1');
  const info = (await e.ownContainer(c, 'drover-vm1'))!;
  const ac = new AbortController();
  let followed = '';
  const following = vmLogs(e, c, info, { follow: true, signal: ac.signal }, (b) => { followed += b.toString(); });
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (b: Buffer) => { shown += b.toString(); });
  const session = vmConsole(e, c, info, { input, output });
  await sleep(3500);
  ac.abort();
  input.end();
  await following;
  assert.is(await session, 0, 'the session ends when its input does');
  assert.ok(counters(followed).length >= 2, `followed log: ${followed.slice(-200)}`);
  assert.ok(counters(shown).length >= 1, `console: ${shown.slice(-200)}`);
  let all = '';
  await vmLogs(e, c, info, { follow: false, signal: new AbortController().signal }, (b) => { all += b.toString(); });
  assert.ok(counters(all).length >= counters(followed).length);
  await closeAll(e);
});

test('state: stopped powers the guest off cleanly (ACPI): the container exits, e2fsck -fn finds the disk clean', async (ctx) => {
  if (ctx.skip) return;
  const engine = ctx.bed!.engine(1);
  await sleep(1500); // a few counter writes
  await apply(ctx, { state: 'stopped' });
  const info = await engine.getContainer('drover-vm1').inspect();
  assert.is(info.State.Running, false, 'QEMU exited');
  const log = await consoleOf(engine);
  ctx.lastN = Math.max(...counters(log).map((c) => c.n));
  const r = await fsckDisk(engine);
  assert.ok(r.clean, `e2fsck -fn: ${r.output}`);
});

test('state: running again: the counter goes on from the disk (boot 2)', async (ctx) => {
  if (ctx.skip) return;
  const engine = ctx.bed!.engine(1);
  const t0 = Date.now();
  await apply(ctx, { state: 'running' });
  const seen = await waitCounter(engine, 2);
  console.log(`    drover apply (state: running) to the first COUNTER line of boot 2: ${Date.now() - t0} ms`);
  const first = seen.find((c) => c.boot === 2)!;
  assert.is(first.n, ctx.lastN! + 1, `boot 2 starts at n=${ctx.lastN! + 1}: nothing lost, nothing repeated`);
});

test('a bigger disk: the running guest\'s block device grows live (QMP block_resize), the file with it', async (ctx) => {
  if (ctx.skip) return;
  const out = await apply(ctx, { disks: [{ size: '96M' }] });
  assert.match(out, /GrowDisk/);
  const e = new Engine({ cluster: CLUSTER, nodes: ctx.bed!.nodes(CLUSTER) });
  const c = e.conn('node1');
  const info = (await e.ownContainer(c, 'drover-vm1'))!;
  assert.is(info.State.Running, true, 'still running: grown in place');
  const qmp = await openQmp(e, c, info.Id);
  const blocks = await qmp.execute<{ inserted?: { 'node-name'?: string; image?: { 'virtual-size'?: number } } }[]>('query-block');
  assert.is(blocks.find((b) => b.inserted?.['node-name'] === 'disk0')?.inserted?.image?.['virtual-size'], 96 * 2 ** 20);
  await closeAll(e);
});

test('a cold move to the other node (behind mutual TLS): the disk goes along, the counter goes on there (boot 3), nothing left on node1', async (ctx) => {
  if (ctx.skip) return;
  await sleep(1500);
  const out = await apply(ctx, { primary: 'node2', disks: [{ size: '96M' }] });
  assert.match(out, /(Move|Migrate)Instance/);
  const engine2 = ctx.bed!.engine(index('node2'));
  const seen = await waitCounter(engine2, 3);
  const before = counters(await consoleOf(engine2)).filter((c) => c.boot === 3)[0]!;
  assert.ok(before.n > ctx.lastN! + 1, `boot 3 continues the count (n=${before.n})`);
  const left = await ctx.bed!.engine(1).listContainers({ all: true, filters: { label: [`drover.cluster=${CLUSTER}`] } });
  assert.equal(left.map((c) => c.Names[0]), [], 'no container left on node1');
  assert.ok(seen.length > 0);
});

test('a QEMU that cannot start (a machine type it lacks) is an error that says what QEMU said', async (ctx) => {
  if (ctx.skip) return;
  const g = ctx.guest!;
  const driver = createDockerDriver({ cluster: CLUSTER, nodes: ctx.bed!.nodes(CLUSTER) });
  const spec = {
    name: 'bad1', image: '', hypervisor: 'kvm' as const, boot: { kernel: g.kernel, initrd: g.initrd, cmdline: g.cmdline }, machine: 'pc-i440fx-99.9',
    memory: 64 * 2 ** 20, vcpus: 1, diskTemplate: 'plain' as const, disks: [{ size: 16 * 2 ** 20, mount: '/data' }], env: {}, ports: [],
  };
  try {
    await driver.createInstance('node1', spec, 1);
    const err = await driver.startInstance('node1', 'bad1').then(() => undefined, (x: Error) => x);
    assert.ok(err, 'the start fails');
    assert.match(err!.message, /QEMU exited at start: .*unsupported machine type/, err!.message);
  } finally {
    await driver.removeInstance('node1', 'bad1');
    await driver.removeDisks('node1', 'bad1');
    await driver.close();
  }
});

test('state: absent removes the VM, its disks and its run volume', async (ctx) => {
  if (ctx.skip) return;
  await apply(ctx, { primary: 'node2', disks: [{ size: '96M' }], state: 'absent' });
  for (const i of [1, 2]) {
    const e = ctx.bed!.engine(i);
    const cs = await e.listContainers({ all: true, filters: { label: [`drover.cluster=${CLUSTER}`] } });
    const vs = ((await e.listVolumes({ filters: { label: [`drover.cluster=${CLUSTER}`] } })).Volumes ?? []).filter((v) => !v.Labels['drover.facts']); // the node's facts are not the VM's
    assert.equal(cs.map((c) => c.Names[0]), [], `no containers on node${i}`);
    assert.equal(vs.map((v) => v.Name), [], `no volumes on node${i}`);
  }
});

test.run();
