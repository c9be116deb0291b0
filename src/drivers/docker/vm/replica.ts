/**
 * A VM's replica on its secondary: qemu-storage-daemon in a helper container `drover-<instance>-replica` of
 * the QEMU image, opening the replica's disk file in the instance's disk volume and exporting it over NBD
 * on the node's address (host network, like the VM containers), the primary's QEMU mirroring into it
 * (drivers/qemu/replicate.ts: a write-blocking mirror, so every write is on both nodes before the guest sees
 * it complete). While it runs it holds the disk file's lock: a failover or a migration onto the node stops
 * it first (stopReplicaServer). A replica server that dies ends the primary's mirror with an error; the
 * guest keeps running, and the next sync starts a new full copy.
 *
 * One disk (disk0) is replicated this way; sync.ts refuses a running VM with more.
 */
import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { DriverError, type ProgressFn } from '../../driver.ts';
import type { ObservedReplication } from '../../../model/observed.ts';
import { VM_PATHS } from '../../qemu/argv.ts';
import type { NbdAddress } from '../../qemu/nbd.ts';
import { findJob, listJobs } from '../../qemu/jobs.ts';
import type { Qmp } from '../../qemu/qmp.ts';
import { DISK_NODE, SYNC_JOB, hasReplicationBitmap, startSyncMirror, syncStateOf } from '../../qemu/replicate.ts';
import { REPLICA_EXPORT, storageDaemonArgv } from '../../qemu/storage-daemon.ts';
import { labelsOf } from '../api.ts';
import type { Conn, Engine } from '../engine.ts';
import { LABEL, helperName, volumeName } from '../names.ts';
import { connectMonitor, openQmp, remembered } from './monitor.ts';
import { ensureQemuImage } from './qemu-image.ts';

export const replicaServerName = (instance: string): string => helperName(instance, 'replica');
export const REPLICA_MONITOR = '/run/qsd/qsd.sock';
const PORT_LABEL = 'drover.vm.nbd-port';

/** A node's address as the other nodes reach it (the engine's tcp address; a local engine: loopback). */
export const nodeAddress = (c: Conn): string => c.address ?? '127.0.0.1';

/** The replica's NBD port: fixed per instance (the primary reconnects to it), in 20000–29999. */
export function replicaPort(instance: string): number {
  return 20000 + (createHash('sha256').update(instance).digest().readUInt32BE(0) % 10000);
}

/**
 * Makes the replica server run on `node`, its disk file at least `size` bytes (a new secondary's volume is
 * empty: the file is made sparse, and the mirror's full copy fills it); resolves with the address the
 * primary mirrors into.
 */
export async function ensureReplicaServer(e: Engine, node: string, instance: string, size: number): Promise<NbdAddress> {
  const c = e.conn(node);
  const name = replicaServerName(instance);
  const have = await e.ownContainer(c, name);
  if (have?.State.Running) return { type: 'inet', host: nodeAddress(c), port: Number(labelsOf(have)[PORT_LABEL]) };
  if (have) await e.removeContainerByName(c, name);
  const listen: NbdAddress = { type: 'inet', host: nodeAddress(c), port: replicaPort(instance) };
  const image = await ensureQemuImage(e, c);
  const created = await e.call(c, `create replica server ${name}`, (signal) => c.docker.createContainer({
    name, Image: image, Entrypoint: ['/bin/sh', '-c', `${sizeAtLeast(VM_PATHS.diskFile(0), size)} && exec /usr/bin/qemu-storage-daemon "$@"`, 'qsd'],
    Cmd: [...storageDaemonArgv({ image: VM_PATHS.diskFile(0), format: 'raw', listen, monitor: REPLICA_MONITOR })],
    Labels: { [LABEL.cluster]: e.cluster, [LABEL.instance]: instance, [LABEL.helper]: 'replica', [PORT_LABEL]: String(listen.port) },
    HostConfig: {
      NetworkMode: 'host', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], RestartPolicy: { Name: 'no' },
      Mounts: [{ Type: 'volume', Source: volumeName(instance, 0), Target: VM_PATHS.disk(0) }], Tmpfs: { '/run/qsd': '' },
    },
    abortSignal: signal,
  } as Docker.ContainerCreateOptions));
  await e.call(c, `start replica server ${name}`, (signal) => created.start({ abortSignal: signal }));
  await answering(e, c, created.id);
  return listen;
}

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
 * Replication of a running VM from `from` to `to`: the replica server there, the write-blocking mirror
 * here, in sync when this resolves (progress of the full copy reported). Already in sync: resolves 0 at once.
 * Returns the bytes copied.
 */
export async function replicateVm(e: Engine, from: string, to: string, instance: string, vmId: string, onProgress?: ProgressFn): Promise<number> {
  const qmp = await openQmp(e, e.conn(from), vmId);
  if (syncStateOf(await findJob(qmp, SYNC_JOB)).kind === 'in-sync') {
    const server = await e.ownContainer(e.conn(to), replicaServerName(instance));
    if (server?.State.Running) return 0;
  }
  const address = await ensureReplicaServer(e, to, instance, await diskSize(qmp, instance, from));
  let total = 0;
  try {
    await startSyncMirror(qmp, { address, export: REPLICA_EXPORT }, (d, t) => { total = t; onProgress?.(d, t); });
  } catch (err) {
    throw new DriverError(`VM ${instance}: replication from ${from} to ${to} failed: ${(err as Error).message}`, true, from);
  }
  return total;
}

/** The size of the VM's disk 0, as its QEMU on `node` sees it. */
export async function diskSize(qmp: Qmp, instance: string, node: string): Promise<number> {
  const nodes = await qmp.execute<{ 'node-name': string; image: { 'virtual-size': number } }[]>('query-named-block-nodes', { flat: true });
  const size = nodes.find((n) => n['node-name'] === DISK_NODE)?.image['virtual-size'];
  if (size === undefined) throw new DriverError(`VM ${instance}: no ${DISK_NODE} on ${node}`, false, node);
  return size;
}

/** How long a probe waits for a VM's monitor (another client may hold it: QEMU serves one at a time). */
const OBSERVE_TIMEOUT_MS = 3000;

/**
 * The replication a running VM's QEMU reports (its sync mirror's job), for the probe; undefined when the
 * monitor does not answer in time (another process holds it), so a probe never hangs on a VM.
 */
export async function observeReplication(e: Engine, c: Conn, containerId: string): Promise<ObservedReplication | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), OBSERVE_TIMEOUT_MS + 1000); });
  const ask = (async () => {
    const qmp = await openQmp(e, c, containerId, OBSERVE_TIMEOUT_MS);
    // from the connection's memory while nothing changed (monitor.ts): a copy's progress is read each time
    const job = (await remembered(qmp, 'jobs', listJobs, (jobs) => jobs.some((j) => j.status === 'running'))).find((j) => j.id === SYNC_JOB);
    if (!job && await remembered(qmp, 'bitmap', hasReplicationBitmap)) return undefined; // async: its increments' dates say what is lost
    const s = syncStateOf(job);
    return s.kind === 'degraded' ? { kind: 'stopped' as const, detail: s.detail } : s;
  })().catch(() => undefined);
  try { return await Promise.race([ask, late]); } finally { clearTimeout(timer); }
}
