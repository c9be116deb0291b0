/**
 * VMs under QEMU (TCG or KVM as the host allows), driven by Drover's QMP sequences (src/drivers/qemu/) on
 * QEMU processes of this host: boot to the guest's first counter line, live migration with a 1 GiB disk
 * (total and the guest's real pause), failover from a replica in sync and async modes (time from the kill
 * to the first counter line, and what was lost), and the write latency sync replication adds in the guest.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, cleanupTemps } from '../test/support/tmp.ts';
import { makeDisk, startVm, startStorageDaemon, waitCounter, counters, unavailable, type Proc } from '../test/vm-repl-host/harness.ts';
import { migrateLive } from '../src/drivers/qemu/migrate.ts';
import { startSyncMirror } from '../src/drivers/qemu/replicate.ts';
import { replicateAsync, type AsyncRecord } from '../src/drivers/qemu/increments.ts';
import { stopStorageDaemon } from '../src/drivers/qemu/failover.ts';
import type { NbdAddress } from '../src/drivers/qemu/nbd.ts';
import { writeLatency, writeOverheadLine } from '../test/support/write-latency.ts';

const HOST = '127.0.0.140';
const ms = (n: number) => `${Math.round(n)} ms`;
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const last = (dir: string) => { const c = counters(dir); return c.length ? c[c.length - 1]![0] : 0; };
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

export function vmUnavailable(): string | undefined { return unavailable(); }

export async function benchVm(): Promise<string[]> {
  const out: string[] = [];
  const procs: Proc[] = [];
  const track = (p: Proc) => { procs.push(p); return p; };
  try {
    out.push(`accelerator: ${fs.existsSync('/dev/kvm') ? 'KVM device present, QEMU run with TCG (as on machines without it)' : 'TCG (no /dev/kvm)'}`);
    out.push(await boot(track));
    out.push(...await migration(track));
    for (const mode of ['sync', 'async'] as const) out.push(await failover(track, mode));
    out.push(await writeOverhead(track));
  } finally {
    for (const p of procs) await p.kill();
    cleanupTemps();
  }
  return out;
}

async function boot(track: (p: Proc) => Proc): Promise<string> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = tempDir('bench-vm-');
    makeDisk(path.join(dir, 'a.img'));
    const t0 = Date.now();
    const vm = track(await startVm(path.join(dir, 'a'), path.join(dir, 'a.img')));
    await waitCounter(path.join(dir, 'a'), 1);
    times.push(Date.now() - t0);
    await vm.kill();
  }
  return `boot to the first counter line (128 MiB, 1 vCPU, direct kernel boot): ${times.map(ms).join(', ')} (median ${ms(median(times))})`;
}

async function migration(track: (p: Proc) => Proc): Promise<string[]> {
  const dir = tempDir('bench-vm-');
  const imgs = [path.join(dir, 'a.img'), path.join(dir, 'b.img')] as const;
  makeDisk(imgs[0], 1024, true, 300); makeDisk(imgs[1], 1024, false);
  let cur = track(await startVm(path.join(dir, 'r0'), imgs[0]));
  await waitCounter(path.join(dir, 'r0'), 2);
  const rows: string[] = [];
  for (let hop = 1; hop <= 3; hop++) {
    const dest = track(await startVm(path.join(dir, `r${hop}`), imgs[hop % 2]!, true));
    const t0 = Date.now();
    const r = await migrateLive({ source: cur.qmp, dest: dest.qmp, nbd: { type: 'inet', host: HOST, port: 10900 + hop * 2 }, stream: { type: 'inet', host: HOST, port: 10901 + hop * 2 }, disks: 1 });
    const total = Date.now() - t0;
    rows.push(r.kind === 'live' ? `${ms(total)} total, guest paused ${ms(r.downtimeMs)}` : `fell back: ${r.why}`);
    cur = dest;
    await waitCounter(path.join(dir, `r${hop}`), last(path.join(dir, `r${hop - 1}`)) + 1);
  }
  const all = Array.from({ length: 4 }, (_, i) => counters(path.join(dir, `r${i}`))).flat();
  const restarts = all.filter(([, b]) => b !== 1).length;
  return [
    `live migration with storage (1 GiB raw disk, 300 MiB of data, mirror + RAM, downtime-limit 50 ms): ${rows.join('; ')}`,
    `  the counter across the 3 hops: ${all.length} lines, ${restarts} from a restarted guest`,
  ];
}

async function failover(track: (p: Proc) => Proc, mode: 'sync' | 'async'): Promise<string> {
  const dir = tempDir('bench-vm-');
  const a = path.join(dir, 'a.img'); const b = path.join(dir, 'b.img');
  makeDisk(a); makeDisk(b, 64, false);
  const listen: NbdAddress = { type: 'inet', host: HOST, port: mode === 'sync' ? 10920 : 10921 };
  const vm = track(await startVm(path.join(dir, 'a'), a));
  const qsd = track(await startStorageDaemon(path.join(dir, 'qsd'), b, listen));
  await waitCounter(path.join(dir, 'a'), 2);
  let record: AsyncRecord | undefined;
  if (mode === 'sync') await startSyncMirror(vm.qmp, listen, 1);
  else replicateAsync({ primary: vm.qmp, secondary: qsd.qmp, address: listen, overlayPaths: [path.join(dir, 'inc.qcow2')] }, 5000, (r) => { if (r.committedAt !== undefined && r.pending === 'none') record = r; });
  await sleep(mode === 'sync' ? 3000 : 7500);
  const t0 = Date.now();
  await vm.kill();
  const printed = last(path.join(dir, 'a'));
  await stopStorageDaemon(qsd.qmp);
  await startVm(path.join(dir, 'b'), b).then(track);
  await waitCounter(path.join(dir, 'b'), 1);
  const took = Date.now() - t0;
  const resumed = counters(path.join(dir, 'b'))[0]![0];
  const lost = Math.max(0, printed + 1 - resumed);
  const rp = mode === 'sync' ? 'recovery point 0' : `recovery point ${record?.committedAt ? ms(t0 - record.committedAt) : '?'} (interval 5 s)`;
  return `failover ${mode}: kill of the primary to the first counter line on the replica ${ms(took)}; ${rp}; counter values lost: ${lost} (last printed ${printed}, resumed at ${resumed})`;
}

async function writeOverhead(track: (p: Proc) => Proc): Promise<string> {
  const figures: Record<string, number> = {};
  for (const replicated of [false, true]) {
    const dir = tempDir('bench-vm-');
    makeDisk(path.join(dir, 'a.img')); makeDisk(path.join(dir, 'b.img'), 64, false);
    const vm = track(await startVm(path.join(dir, 'a'), path.join(dir, 'a.img'), false, 'drover.bench=dd'));
    if (replicated) {
      const listen: NbdAddress = { type: 'inet', host: HOST, port: 10930 };
      track(await startStorageDaemon(path.join(dir, 'qsd'), path.join(dir, 'b.img'), listen));
      await startSyncMirror(vm.qmp, listen, 1);
    }
    const log = path.join(dir, 'a', 'console.log');
    figures[replicated ? 'sync' : 'plain'] = await writeLatency(() => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''));
    await vm.kill();
  }
  return writeOverheadLine(figures.plain!, figures.sync!);
}
