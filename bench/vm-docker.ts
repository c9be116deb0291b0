/**
 * VMs through `drover apply` on a 3-node Docker test bed (base 140): the write latency sync replication adds
 * in the guest (the same loop as bench/vm.ts, on an unreplicated VM, then on a sync-replicated one); then a
 * replicated VM: apply to the first counter line, live migration with a 1 GiB disk holding 300 MiB of data (the operation's time and the guest's
 * pause from the journal), and failover from a node kill to the first counter line on the secondary with
 * what was lost (sync replication). The CRIU container path is measured by the Docker section of the same run.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, nodeIndex, sleep, tempDir, upBed, type ApplyEvent, type Bed, type InstanceDoc } from '../test/e2e-docker/helpers.ts';
import { consoleOf, vmClusterManifests, vmSpec } from '../test/support/vm-bed.ts';
import { counters, testGuest, type TestGuest } from '../test/support/guest.ts';
import { DD_LOOP, writeLatency, writeOverheadLine } from '../test/support/write-latency.ts';

const CLUSTER = 'vmbench';

export async function benchVmDocker(): Promise<string[]> {
  const g = await testGuest();
  if ('skip' in g) return [`skipped: ${g.skip}`];
  const dir = tempDir('drover-vmbench-');
  const image = bigRoot(g, dir);
  const bed = await upBed(3, 140, 'drover-vm-bench');
  const out: string[] = [];
  try {
    const drover = cli(bed, path.join(dir, 'state'));
    const applyAll = async (instances: readonly InstanceDoc[]): Promise<ApplyEvent[]> => {
      const r = await drover(['apply', manifests(bed, dir, instances), '--yes', '--json'], { timeoutMs: 600_000 });
      if (r.code !== 0) throw new Error(`apply failed: ${r.stdout.slice(-1500)}${r.stderr.slice(-1500)}`);
      return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ApplyEvent);
    };
    out.push(await writeOverhead(g, dir, bed, applyAll));
    const apply = (primary: string | undefined, secondary: string | undefined): Promise<ApplyEvent[]> =>
      applyAll([{ name: 'vm1', ...vmSpec(g, image, '1G'), ...(primary && { primary }), ...(secondary && { secondary }) }]);
    let t0 = Date.now();
    await apply('node1', 'node2');
    await firstLine(bed, 'node1', 1);
    out.push(`replicated VM (1 GiB disk, 300 MiB data): apply to the first counter line ${Date.now() - t0} ms (QEMU image load, disk upload, boot, full sync copy)`);
    const rows: string[] = [];
    for (const [to, from] of [['node2', 'node1'], ['node1', 'node2'], ['node2', 'node1']] as const) {
      const ev = await apply(to, from);
      const done = ev.find((e) => e.type === 'operation-finished' && e.op?.type === 'MigrateInstance');
      rows.push(`${done?.durationMs ?? '?'} ms (${String(done?.note ?? done?.error ?? '?')})`);
    }
    out.push(`live migration through drover apply (mirror 1 GiB + RAM, then the new replica's full copy): ${rows.join('; ')}`);
    await sleep(3000);
    const f = await failover(bed, 'node2', 'node1', 1, () => vm1Manifests(bed, g, image, dir), drover);
    out.push(`failover (sync): node kill to the first counter line on the secondary ${f.firstLineMs} ms (nodeDownAfter 3 s, fence, start from the replica); recovery point: ${f.lost} counter values lost (printed ${f.printed}, resumed at ${f.resumed})`);
    out.push(`  ${breakdown(f)}`);
  } finally {
    await bed.down();
  }
  return out;
}

/**
 * Failover only, repeated on one test bed (base 200), by each kind of master: `drover apply` started after
 * the kill (as above), then a `drover watch` running all along. Each run: the VM's primary killed, failed
 * over (and given a new secondary's full copy), the killed node restored and cleaned; then the new primary
 * is killed, and so on. Each run's line is the time from the kill to the guest's first counter line on the
 * secondary, with where it went (the master's events, as they arrived). Runs: DROVER_BENCH_FAILOVER_RUNS (3).
 */
export async function benchVmFailover(): Promise<string[]> {
  const g = await testGuest();
  if ('skip' in g) return [`skipped: ${g.skip}`];
  const runs = Number(process.env.DROVER_BENCH_FAILOVER_RUNS ?? 3);
  const dir = tempDir('drover-vmfailover-');
  const image = bigRoot(g, dir);
  const bed = await upBed(3, 200, 'drover-vm-failover');
  const out: string[] = [];
  try {
    const drover = cli(bed, path.join(dir, 'state'));
    const apply = async (m: string): Promise<void> => {
      const r = await drover(['apply', m, '--yes', '--json'], { timeoutMs: 600_000 });
      if (r.code !== 0) throw new Error(`apply failed: ${r.stdout.slice(-1500)}${r.stderr.slice(-1500)}`);
    };
    const nodes = ['node1', 'node2', 'node3'];
    await apply(vm1Manifests(bed, g, image, dir, nodes[0], nodes[1]));
    let boot = (await firstLine(bed, nodes[0]!, 1)).boot;
    for (const master of ['apply', 'watch'] as const) {
      const watch = master === 'watch' ? watcher(drover, vm1Manifests(bed, g, image, dir)) : undefined;
      const all: Failover[] = [];
      try {
        for (let i = 0; i < runs; i++) {
          const [primary, secondary] = [nodes[0]!, nodes[1]!];
          await sleep(3000);
          const f = watch
            ? await failoverWatched(bed, primary, secondary, boot, watch)
            : await failover(bed, primary, secondary, boot, () => vm1Manifests(bed, g, image, dir), drover);
          all.push(f);
          out.push(`${master} run ${i + 1}: failover (sync): node kill to the first counter line on the secondary ${f.firstLineMs} ms; ${f.lost} counter values lost`);
          out.push(`  ${breakdown(f)}`);
          await bed.run('restore', String(nodeIndex(primary)));
          if (watch) await cleaned(watch, primary);
          else await apply(vm1Manifests(bed, g, image, dir)); // the fenced node's stale copies removed
          nodes.push(nodes.shift()!);
          boot = f.resumedBoot;
        }
      } finally {
        await watch?.stop();
      }
      const ms = all.map((f) => f.firstLineMs).sort((a, b) => a - b);
      out.push(`failover (sync, drover ${master}): node kill to the first counter line on the secondary, ${runs} runs: min ${ms[0]} ms, median ${ms[Math.floor(ms.length / 2)]} ms, max ${ms.at(-1)} ms (nodeDownAfter 3 s)`);
    }
  } finally {
    await bed.down();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

interface Failover {
  readonly firstLineMs: number;
  readonly printed: number;
  readonly resumed: number;
  readonly resumedBoot: number;
  readonly lost: number;
  /** What the master reported, with when it arrived (ms after the kill began). */
  readonly marks: readonly (readonly [what: string, ms: number])[];
}

/** A master's NDJSON events, each with the time it arrived. */
interface Events {
  readonly seen: { readonly e: ApplyEvent; readonly at: number }[];
}

function listen(child: ReturnType<ReturnType<typeof cli>['spawn']>['child']): Events {
  const ev: Events = { seen: [] };
  let rest = '';
  child.stdout!.on('data', (b: Buffer) => {
    const lines = (rest + b.toString()).split('\n');
    rest = lines.pop()!;
    for (const l of lines) if (l.startsWith('{')) ev.seen.push({ e: JSON.parse(l) as ApplyEvent, at: Date.now() });
  });
  return ev;
}

/** The events from index `from` on, as marks of a failover that began at t0. */
function marksOf(ev: Events, from: number, t0: number): [string, number][] {
  const marks: [string, number][] = [];
  for (const { e, at } of ev.seen.slice(from)) {
    const what = e.type === 'step' ? String(e.step)
      : e.type === 'round' || e.type === 'health-changed' ? e.type
      : e.type === 'waiting' ? (marks.some(([w]) => w === 'waiting') ? undefined : 'waiting')
      : e.type === 'run' ? `run (${String(e.trigger)}) ended`
      : e.type === 'operation-started' || e.type === 'operation-finished' ? `${e.type} ${e.op?.type}` : undefined;
    if (what) marks.push([what, at - t0]);
  }
  return marks;
}

async function killed(bed: Bed, victim: string, survivor: string, boot: number) {
  const t0 = Date.now();
  await bed.run('kill', String(nodeIndex(victim)));
  const marks: [string, number][] = [['killed', Date.now() - t0]];
  const printed = counters(consoleOf(bed, victim)).at(-1)!;
  const seen = firstLine(bed, survivor, boot + 1).then((c) => ({ c, at: Date.now() }));
  seen.catch(() => {});
  return { t0, marks, printed, seen };
}

const result = (t0: number, marks: [string, number][], printed: { n: number }, first: { n: number; boot: number }, at: number): Failover => {
  marks.push(['first counter line', at - t0]);
  return { firstLineMs: at - t0, printed: printed.n, resumed: first.n, resumedBoot: first.boot, lost: Math.max(0, printed.n + 1 - first.n), marks };
};

/** Kill `victim` (its guest at boot `boot`), run `drover apply` and wait for the guest's next boot's first counter line on `survivor`. */
async function failover(bed: Bed, victim: string, survivor: string, boot: number, manifestsNow: () => string, drover: ReturnType<typeof cli>): Promise<Failover> {
  const k = await killed(bed, victim, survivor, boot);
  const child = drover.spawn(['apply', manifestsNow(), '--yes', '--json']);
  const ev = listen(child.child);
  const r = await child.done;
  if (r.code !== 0) throw new Error(`apply failed: ${r.stdout.slice(-1500)}${r.stderr.slice(-1500)}`);
  const { c: first, at } = await k.seen;
  return result(k.t0, [...k.marks, ...marksOf(ev, 0, k.t0)], k.printed, first, at);
}

interface Watcher { readonly ev: Events; stop(): Promise<void> }

/** `drover watch` on the manifests, its events kept; started once its first run has ended. */
function watcher(drover: ReturnType<typeof cli>, m: string): Watcher & { ready: Promise<void> } {
  const child = drover.spawn(['watch', m, '--json']);
  const ev = listen(child.child);
  return { ev, ready: until(ev, 0, (e) => e.type === 'run').then(() => {}), async stop() { child.child.kill('SIGTERM'); await child.done; } };
}

async function until(ev: Events, from: number, p: (e: ApplyEvent) => boolean, timeoutMs = 600_000): Promise<number> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(100)) {
    const i = ev.seen.findIndex((x, j) => j >= from && p(x.e));
    if (i >= 0) return i;
  }
  throw new Error('the watch never reported what the bench waited for');
}

/** Kill `victim` under a running watch; back when the VM's first counter line is printed and the new secondary is in sync. */
async function failoverWatched(bed: Bed, victim: string, survivor: string, boot: number, w: Watcher & { ready?: Promise<void> }): Promise<Failover> {
  await w.ready;
  const from = w.ev.seen.length;
  const k = await killed(bed, victim, survivor, boot);
  const { c: first, at } = await k.seen;
  await until(w.ev, from, (e) => e.type === 'operation-finished' && e.op?.type === 'ReplaceSecondary');
  return result(k.t0, [...k.marks, ...marksOf(w.ev, from, k.t0)], k.printed, first, at);
}

/** The restored node is seen again and a run has removed its stale copies. */
async function cleaned(w: Watcher, node: string): Promise<void> {
  const from = w.ev.seen.length;
  const back = await until(w.ev, from, (e) => e.type === 'health-changed' && (e.up as string[]).includes(node));
  await until(w.ev, back, (e) => e.type === 'run');
}

/** Each phase up to the first counter line: the master's events in order, each with the time since the one before. */
function breakdown(f: Failover): string {
  const upTo = f.marks.filter(([, ms]) => ms <= f.firstLineMs).sort((a, b) => a[1] - b[1]);
  const failoverOnly = upTo.filter(([w], i) => i === 0 || !upTo.slice(0, i).some(([x]) => x === 'operation-finished FailoverInstance') || w === 'first counter line');
  return failoverOnly.map(([w, ms], i) => `${w} +${ms - (i ? failoverOnly[i - 1]![1] : 0)}`).join(' · ');
}

/** The test guest's root file system grown to 1 GiB, with 300 MiB of random data in /blob. */
function bigRoot(g: TestGuest, dir: string): string {
  const img = path.join(dir, 'root-1g.img');
  execFileSync('sh', ['-c', `cp ${g.rootfs} ${img} && truncate -s 1G ${img} && e2fsck -fy ${img} >/dev/null 2>&1; resize2fs -f ${img} >/dev/null 2>&1 && head -c 300M /dev/urandom > ${dir}/blob && debugfs -w -R "write ${dir}/blob blob" ${img} >/dev/null 2>&1 && rm ${dir}/blob`]);
  return img;
}

/**
 * The guest's write latency on an unreplicated VM (`plain` on node1), then on a sync-replicated one (node1,
 * its replica on node2, in sync once the apply is done), one at a time; both removed after.
 */
async function writeOverhead(g: TestGuest, dir: string, bed: Bed, applyAll: (i: readonly InstanceDoc[]) => Promise<unknown>): Promise<string> {
  const image = ddRoot(g, dir);
  const plain = { name: 'wplain', ...vmSpec(g, image, '64M'), diskTemplate: 'plain', primary: 'node1' };
  const sync = { name: 'wsync', ...vmSpec(g, image, '64M'), diskTemplate: 'replicated', primary: 'node1', secondary: 'node2' };
  const latency = async (instance: string): Promise<number> => writeLatency(() => consoleOf(bed, 'node1', instance));
  await applyAll([plain]);
  const unreplicated = await latency('wplain');
  await applyAll([{ ...plain, state: 'absent' }, sync]);
  const replicated = await latency('wsync');
  await applyAll([{ ...sync, state: 'absent' }]);
  return writeOverheadLine(unreplicated, replicated);
}

/** The test guest's root disk with its counter replaced by the write loop (DD_LOOP), printing on the console. */
function ddRoot(g: TestGuest, dir: string): string {
  const img = path.join(dir, 'root-dd.img');
  fs.copyFileSync(g.rootfs, img);
  fs.writeFileSync(path.join(dir, 'dd.sh'), `#!/bin/sh\nexec > /dev/ttyS0\n${DD_LOOP}\n`);
  fs.writeFileSync(path.join(dir, 'dd.debugfs'), `rm /bin/counter.sh\ncd /bin\nwrite ${dir}/dd.sh counter.sh\nsif /bin/counter.sh mode 0100755\n`);
  execFileSync('debugfs', ['-w', '-f', path.join(dir, 'dd.debugfs'), img], { stdio: 'ignore' });
  return img;
}

const manifests = (bed: Bed, dir: string, instances: readonly InstanceDoc[]): string =>
  vmClusterManifests(path.join(dir, 'm'), bed, CLUSTER, { interval: '24h' }, instances);

/** vm1 alone, its 1 GiB disk booting `image`, pinned where given. */
const vm1Manifests = (bed: Bed, g: TestGuest, image: string, dir: string, primary?: string, secondary?: string): string =>
  manifests(bed, dir, [{ name: 'vm1', ...vmSpec(g, image, '1G'), ...(primary && { primary }), ...(secondary && { secondary }) }]);

async function firstLine(bed: Bed, node: string, boot: number): Promise<{ n: number; boot: number }> {
  for (let i = 0; i < 1200; i++) {
    const c = counters(consoleOf(bed, node)).find((x) => x.boot === boot);
    if (c) return c;
    await sleep(100);
  }
  throw new Error(`no counter line of boot ${boot} on ${node}`);
}
