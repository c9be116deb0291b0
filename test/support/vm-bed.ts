/**
 * The VM suites' and bench's test bed: three Docker nodes, the test guest, QEMU's image, and one
 * replicated `hypervisor: kvm` instance `vm1` in manifests that say only what differs between them
 * (test/vm-repl, test/vm-repl-async, bench/vm-docker.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FENCE, cli, nodeIndex, tempDir, upBed, writeManifests, type Bed, type Cli, type InstanceDoc } from '../e2e-docker/helpers.ts';
import { counters, testGuest, type TestGuest } from './guest.ts';
import { qemuBuild } from '../../src/drivers/docker/vm/qemu-image.ts';

export interface VmBed {
  readonly bed: Bed;
  readonly guest: TestGuest;
  /** Where the manifests are written. */
  readonly dir: string;
  /** drover with its own state folder. */
  readonly drover: Cli;
}

/**
 * Up on test bed BASE, named `drover-vm-NAME` (temp folders `drover-vmNAME-…`); or why not, said
 * loudly (no guest, no QEMU image on this machine).
 */
export async function upVmBed(base: number, name: string, what: string): Promise<VmBed | { readonly skip: string }> {
  const skip = (why: string) => { console.log(`\n  SKIPPED (${what}): ${why}\n`); return { skip: why }; };
  const guest = await testGuest();
  if ('skip' in guest) return skip(guest.skip);
  try { qemuBuild(); } catch (e) { return skip((e as Error).message); }
  const bed = await upBed(3, base, `drover-vm-${name}`);
  return { bed, guest, dir: tempDir(`drover-vm${name}-manifests-`), drover: cli(bed, tempDir(`drover-vm${name}-state-`)) };
}

export async function downVmBed(b: Partial<VmBed>): Promise<void> {
  await b.bed?.down();
  for (const d of [b.dir, b.drover?.stateDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
}

/**
 * Manifests for `vm1` of the test guest on node1..3, replicated with N+1 and automatic failover
 * (3 s, the test fence); `replication` and the instance's fields (disks, image, primary, …) as given.
 */
export function vmManifests(dir: string, bed: Bed, guest: TestGuest, o: { readonly cluster: string; readonly replication: Record<string, unknown>; readonly instance: Record<string, unknown> }): string {
  return vmClusterManifests(dir, bed, o.cluster, o.replication, [{ name: 'vm1', ...vmSpec(guest, guest.rootfs), ...o.instance }]);
}

/** The same cluster (nodes, policy, failover) with any instances. */
export function vmClusterManifests(dir: string, bed: Bed, cluster: string, replication: Record<string, unknown>, instances: readonly InstanceDoc[]): string {
  return writeManifests(dir, {
    cluster,
    spec: {
      defaults: { memory: '128M', vcpus: 1, diskTemplate: 'replicated' },
      policy: { vcpuRatio: 8, memoryOvercommit: 1.0, redundancy: 'n+1' },
      failover: { automatic: true, nodeDownAfter: '3s', fenceCommand: [FENCE] },
      replication,
    },
    nodes: [1, 2, 3].map((i) => ({ name: `node${i}`, endpoint: bed.endpoint(i) })),
    instances,
  });
}

/** A VM of the test guest booting `image` (its kernel and initrd), with one disk of `size` when given. */
export const vmSpec = (guest: TestGuest, image: string, size?: string) =>
  ({ hypervisor: 'kvm', image, boot: { kernel: guest.kernel, initrd: guest.initrd, cmdline: guest.cmdline }, ...(size && { disks: [{ size }] }) });

/** A file of a volume on node I, read on the host (the engine may be dead). */
export const volumeFile = (bed: Bed, i: number, volume: string, file: string): string => path.join(bed.dir, `n${i}`, 'data', 'volumes', volume, '_data', file);

/** What the guest (vm1 unless named) has printed on its console on this node. */
export const consoleOf = (bed: Bed, node: string, instance = 'vm1'): string => {
  const f = volumeFile(bed, nodeIndex(node), `drover-${instance}-run`, 'console.log');
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
};

/** The guest's last counter line on this node. */
export const lastOn = (bed: Bed, node: string) => counters(consoleOf(bed, node)).at(-1);

/** Polls `get` every 250 ms until it gives a value; fails after timeoutMs naming `what`. */
export async function waitFor<T>(what: string, get: () => T | undefined, timeoutMs = 120_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The names of the cluster's running containers on node I (the VM and its helpers), sorted. */
export async function running(bed: Bed, i: number, cluster: string): Promise<string[]> {
  const cs = await bed.engine(i).listContainers({ filters: { label: [`drover.cluster=${cluster}`] } });
  return cs.map((c) => c.Names[0]!.slice(1)).sort();
}
