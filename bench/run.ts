/**
 * `npm run bench`: every benchmark, figures and ratios, one report.
 * `npm run bench -- NAME` runs the sections whose title contains NAME. Sections that need a real
 * system (Docker engines as root, etcd, Ganeti's htools) say so and are skipped when it is absent.
 */
import { execFileSync } from 'node:child_process';
import { benchApply, benchLoad, benchPlan } from './core.ts';

type Section = readonly [title: string, run: () => Promise<string[]>, needs?: () => string | undefined];

const has = (cmd: string) => { try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; } };
const needsDocker = () => (process.getuid?.() !== 0 ? 'needs root' : has('dockerd') ? undefined : 'needs dockerd: run scripts/ci-setup-docker');
const needsEtcd = () => (has('etcd') ? undefined : 'needs etcd: run scripts/ci-setup-etcd');
const needsQemu = () => (has('qemu-system-x86_64') && has('qemu-storage-daemon') ? undefined : 'needs QEMU: run scripts/ci-setup-qemu');
const needsHtools = () => (has('/usr/lib/ganeti/3.0/usr/bin/hbal') ? undefined : 'needs Ganeti htools: run scripts/install-htools');

const sections: readonly Section[] = [
  ['Manifests', benchLoad],
  ['Plan (pure, no I/O)', benchPlan],
  ['Apply on the sim backend', () => benchApply()],
  ['Watch: manifest save to first operation', async () => (await import('./watch.ts')).benchWatch()],
  ['API: GET /instances while watch converges (1,000 nodes / 20,000 instances)', async () => (await import('./api.ts')).benchApi()],
  ['API: the work of one look of the master (1,000 nodes / 20,000 instances)', async () => (await import('./api.ts')).benchLookWork()],
  ['Allocator against Ganeti htools (hbal, hspace)', async () => (await import('./alloc.ts')).benchAlloc(), needsHtools],
  ['Docker backend (real engines)', async () => (await import('./docker.ts')).benchDocker(), needsDocker],
  ['VMs: QEMU sequences on host processes (boot, live migration with storage, failover, sync write cost)', async () => (await import('./vm.ts')).benchVm(), () => needsQemu()],
  ['VMs on Docker engines: sync write cost in the guest, a replicated VM through drover apply (1 GiB disk)', async () => (await import('./vm-docker.ts')).benchVmDocker(), () => needsDocker() ?? needsQemu()],
  ['VM failover on Docker engines, repeated (node kill to the first counter line)', async () => (await import('./vm-docker.ts')).benchVmFailover(), () => needsDocker() ?? needsQemu()],
  ['Crash soak (master kill -9, node kills, manifest edits)', async () => (await import('./soak.ts')).benchSoak()],
  ['Standby master takeover (etcd)', async () => (await import('./etcd.ts')).benchEtcd(), needsEtcd],
];

const only = process.argv[2]?.toLowerCase();
for (const [title, run, needs] of sections) {
  if (only && !title.toLowerCase().includes(only)) continue;
  console.log(`\n## ${title}`);
  const missing = needs?.();
  if (missing) { console.log(`skipped: ${missing}`); continue; }
  for (const line of await run()) console.log(line);
}
