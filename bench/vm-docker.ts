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
import { cli, sleep, tempDir, upBed, type ApplyEvent, type Bed, type InstanceDoc } from '../test/e2e-docker/helpers.ts';
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
    t0 = Date.now();
    await bed.run('kill', '2');
    const printed = counters(consoleOf(bed, 'node2')).at(-1)!;
    const seen = firstLine(bed, 'node1', 2).then((c) => ({ c, at: Date.now() }));
    await apply(undefined, undefined);
    const applied = Date.now() - t0;
    const { c: first, at } = await seen;
    out.push(`failover (sync): node kill to the first counter line on the secondary ${at - t0} ms (nodeDownAfter 3 s, fence, start from the replica; the apply, with a new secondary's full copy, took ${applied} ms); recovery point: ${Math.max(0, printed.n + 1 - first.n)} counter values lost (printed ${printed.n}, resumed at ${first.n})`);
  } finally {
    await bed.down();
  }
  return out;
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

async function firstLine(bed: Bed, node: string, boot: number): Promise<{ n: number; boot: number }> {
  for (let i = 0; i < 1200; i++) {
    const c = counters(consoleOf(bed, node)).find((x) => x.boot === boot);
    if (c) return c;
    await sleep(100);
  }
  throw new Error(`no counter line of boot ${boot} on ${node}`);
}
