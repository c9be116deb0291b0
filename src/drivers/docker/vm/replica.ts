/**
 * A VM's replica on its secondary: qemu-storage-daemon in a helper container `drover-<instance>-replica` of
 * the QEMU image, opening the replica's file of every disk in the instance's disk volumes and exporting each
 * over NBD (`replica<i>`) on the node's address (host network, like the VM containers), the primary's QEMU
 * mirroring every disk into it (drivers/qemu/replicate.ts: a write-blocking mirror per disk, so every write
 * is on both nodes before the guest sees it complete). While it runs it holds the disk files' locks: a
 * failover or a migration onto the node stops it first (stopReplicaServer). A replica server that dies ends
 * the primary's mirrors with an error; the guest keeps running, and the next sync starts a new full copy.
 * A server labelled with another disk count (or none: a previous version's, one export `replica`) is replaced.
 */
import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { DriverError, type ProgressFn } from '../../driver.ts';
import type { ObservedReplication } from '../../../model/observed.ts';
import { VM_PATHS } from '../../qemu/argv.ts';
import type { NbdAddress } from '../../qemu/nbd.ts';
import { listJobs } from '../../qemu/jobs.ts';
import type { Qmp } from '../../qemu/qmp.ts';
import { startSyncMirror, stopReplicationJobs, syncJob, syncJobs, syncStateOf, vmDisks } from '../../qemu/replicate.ts';
import { storageDaemonArgv } from '../../qemu/storage-daemon.ts';
import { labelsOf, type ContainerInfo } from '../api.ts';
import type { Conn, Engine } from '../engine.ts';
import { LABEL, helperName, volumeName } from '../names.ts';
import { connectMonitor, openQmp, remembered } from './monitor.ts';
import { ensureQemuImage } from './qemu-image.ts';

export const replicaServerName = (instance: string): string => helperName(instance, 'replica');
export const REPLICA_MONITOR = '/run/qsd/qsd.sock';
const PORT_LABEL = 'drover.vm.nbd-port';
/** How many disks the server exports (absent on a previous version's, which exported disk 0 alone). */
const DISKS_LABEL = 'drover.vm.replica-disks';

/** A node's address as the other nodes reach it (the engine's tcp address; a local engine: loopback). */
export const nodeAddress = (c: Conn): string => c.address ?? '127.0.0.1';

/** The replica's NBD port: fixed per instance (the primary reconnects to it), in 20000–29999. */
export function replicaPort(instance: string): number {
  return 20000 + (createHash('sha256').update(instance).digest().readUInt32BE(0) % 10000);
}

/**
 * Makes the replica server run on `node` for every disk, disk i's file at least `sizes[i]` bytes (a new
 * secondary's volume is empty: the file is made sparse, and the full copy fills it); resolves with the
 * address the primary replicates into. A running server for another number of disks is replaced.
 */
export async function ensureReplicaServer(e: Engine, node: string, instance: string, sizes: readonly number[]): Promise<NbdAddress> {
  const c = e.conn(node);
  const name = replicaServerName(instance);
  const have = await e.ownContainer(c, name);
  if (have?.State.Running && serves(have, sizes.length)) return { type: 'inet', host: nodeAddress(c), port: Number(labelsOf(have)[PORT_LABEL]) };
  if (have) await e.removeContainerByName(c, name);
  const listen: NbdAddress = { type: 'inet', host: nodeAddress(c), port: replicaPort(instance) };
  const image = await ensureQemuImage(e, c);
  const files = sizes.map((size, i) => sizeAtLeast(VM_PATHS.diskFile(i), size));
  const created = await e.call(c, `create replica server ${name}`, (signal) => c.docker.createContainer({
    name, Image: image, Entrypoint: ['/bin/sh', '-c', [...files, 'exec /usr/bin/qemu-storage-daemon "$@"'].join(' && '), 'qsd'],
    Cmd: [...storageDaemonArgv({ images: sizes.map((_, i) => VM_PATHS.diskFile(i)), format: 'raw', listen, monitor: REPLICA_MONITOR })],
    Labels: { [LABEL.cluster]: e.cluster, [LABEL.instance]: instance, [LABEL.helper]: 'replica', [PORT_LABEL]: String(listen.port), [DISKS_LABEL]: String(sizes.length) },
    HostConfig: {
      NetworkMode: 'host', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], RestartPolicy: { Name: 'no' },
      Mounts: sizes.map((_, i) => ({ Type: 'volume', Source: volumeName(instance, i), Target: VM_PATHS.disk(i) })), Tmpfs: { '/run/qsd': '' },
    },
    abortSignal: signal,
  } as Docker.ContainerCreateOptions));
  await e.call(c, `start replica server ${name}`, (signal) => created.start({ abortSignal: signal }), e.startTimeout);
  await answering(e, c, created.id);
  return listen;
}

/** Whether a replica server exports exactly `disks` disks. */
const serves = (server: ContainerInfo, disks: number): boolean => labelsOf(server)[DISKS_LABEL] === String(disks);

const sizeAtLeast = (file: string, size: number): string =>
  `{ [ -e ${file} ] && [ $(stat -c %s ${file}) -ge ${size} ]; } || truncate -s ${size} ${file}`;

/** Waits until the daemon's monitor answers (it listens on NBD before that), or says why it exited. */
async function answering(e: Engine, c: Conn, id: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const info = await e.inspectContainer(c, id);
    if (!info?.State.Running) throw new DriverError(`node ${c.name}: the replica server exited at start (${info?.State.Status ?? 'gone'}; is port busy or the disk locked?)`, true, c.name);
    try {
      const qmp = await connectMonitor(e, c, id, REPLICA_MONITOR, 'replica server monitor', 2000);
      qmp.close();
      return;
    } catch { await new Promise((r) => setTimeout(r, 200)); }
  }
  throw new DriverError(`node ${c.name}: the replica server's monitor never answered`, true, c.name);
}

/** Stops and removes the replica server (releasing the disk file's lock). Absent is fine. */
export async function stopReplicaServer(e: Engine, node: string, instance: string): Promise<void> {
  await e.removeContainerByName(e.conn(node), replicaServerName(instance));
}

/**
 * Replication of a running VM from `from` to `to`: the replica server there, a write-blocking mirror of
 * every disk here, all in sync when this resolves (progress of the full copies reported, summed). Already in
 * sync: resolves 0 at once. Returns the bytes copied.
 */
export async function replicateVm(e: Engine, from: string, to: string, instance: string, vmId: string, onProgress?: ProgressFn): Promise<number> {
  const qmp = await openQmp(e, e.conn(from), vmId);
  const sizes = await diskSizes(qmp, instance, from);
  if (syncStateOf(await syncJobs(qmp, sizes.length)).kind === 'in-sync') {
    const server = await e.ownContainer(e.conn(to), replicaServerName(instance));
    if (server?.State.Running && serves(server, sizes.length)) return 0;
  }
  let total = 0;
  try {
    await stopReplicationJobs(qmp); // before the server they write into may be replaced
    const address = await ensureReplicaServer(e, to, instance, sizes);
    await startSyncMirror(qmp, address, sizes.length, (d, t) => { total = t; onProgress?.(d, t); });
  } catch (err) {
    if (err instanceof DriverError) throw err;
    throw new DriverError(`VM ${instance}: replication from ${from} to ${to} failed: ${(err as Error).message}`, true, from);
  }
  return total;
}

/** The size of each of the VM's disks, as its QEMU on `node` sees them. */
export async function diskSizes(qmp: Qmp, instance: string, node: string): Promise<readonly number[]> {
  const disks = await vmDisks(qmp);
  const gap = disks.findIndex((d, i) => d.index !== i);
  if (gap >= 0) throw new DriverError(`VM ${instance} on ${node}: no block node disk${gap} (its disks are not disk0…disk${disks.length - 1})`, false, node);
  return disks.map((d) => d.size);
}

/** How long a probe waits for a VM's monitor (another client may hold it: QEMU serves one at a time). */
const OBSERVE_TIMEOUT_MS = 3000;

/**
 * The replication a running VM's QEMU reports (its disks' sync mirror jobs), for the probe: in sync only when
 * every disk's mirror is READY, copying with the progress summed, stopped when any disk's is not
 * replicating (which one said); undefined for an async VM, and when the monitor does not answer in time
 * (another process holds it), so a probe never hangs on a VM.
 */
export async function observeReplication(e: Engine, c: Conn, containerId: string): Promise<ObservedReplication | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), OBSERVE_TIMEOUT_MS + 1000); });
  const ask = (async () => {
    const qmp = await openQmp(e, c, containerId, OBSERVE_TIMEOUT_MS);
    // from the connection's memory while nothing changed (monitor.ts): a copy's progress is read each time
    const disks = await remembered(qmp, 'disks', vmDisks);
    const all = await remembered(qmp, 'jobs', listJobs, (js) => js.some((j) => j.status === 'running'));
    const jobs = disks.map((d) => all.find((j) => j.id === syncJob(d.index)));
    if (jobs.every((j) => !j) && disks.some((d) => d.bitmap)) return { kind: 'increments' as const }; // async: its increments' dates say what is lost
    const s = syncStateOf(jobs);
    return s.kind === 'degraded' ? { kind: 'stopped' as const, detail: s.detail } : s;
  })().catch(() => undefined);
  try { return await Promise.race([ask, late]); } finally { clearTimeout(timer); }
}
