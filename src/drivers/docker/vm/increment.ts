/**
 * Asynchronous replication of a running VM (`Cluster.spec.replication.mode: async`) on the Docker backend:
 * each sync (every replication interval) ships one increment through drivers/qemu/replicate.ts — the first
 * time, and whenever the primary's QEMU lost its dirty bitmap, a full backup into the replica server; then an
 * incremental backup written aside into a qcow2 overlay in the secondary's disk volume and committed into
 * the replica only when whole. The recovery point is the start of the last shipped backup (the caller dates
 * it from before this call).
 *
 * Two marker files beside the replica record what a master that dies mid-way would otherwise lose:
 * `replica.base` (a full copy finished into this replica: increments may follow) and `increment.whole` (the
 * overlay is whole and its commit may have begun). A node that takes the VM over (failover, cold move)
 * stops the replica server and, in the script that prepares the VM's files, finishes such a commit offline
 * (`qemu-img commit`) or drops an overlay that was never whole, so the guest never boots from a torn replica.
 */
import { DriverError, type ProgressFn } from '../../driver.ts';
import { VM_PATHS } from '../../qemu/argv.ts';
import { finishCommitArgv } from '../../qemu/failover.ts';
import { BITMAP, DISK_NODE, asyncFullCopy, hasReplicationBitmap, shipIncrement, stopSyncMirror, unexportReplica } from '../../qemu/replicate.ts';
import type { Conn, Engine } from '../engine.ts';
import { runHelper } from '../helpers.ts';
import { containerName, volumeName } from '../names.ts';
import { connectMonitor, openQmp } from './monitor.ts';
import { ensureQemuImage } from './qemu-image.ts';
import { REPLICA_MONITOR, diskSize, ensureReplicaServer, replicaServerName, stopReplicaServer } from './replica.ts';

const OVERLAY = `${VM_PATHS.disk(0)}/increment.qcow2`;
const WHOLE = `${VM_PATHS.disk(0)}/increment.whole`;
const BASE = `${VM_PATHS.disk(0)}/replica.base`;

/**
 * Finish a whole increment's commit (idempotent: the overlay holds the newer data), drop any overlay. Also
 * the first lines of a VM's preparation script (lifecycle.ts: same image, same volume), so that a takeover
 * runs one helper container, not two. A failed commit exits FINISH_FAILED.
 */
export const FINISH_FAILED = 42;
export const finishIncrementScript = (): string =>
  `if [ -e ${WHOLE} ]; then ${finishCommitArgv(OVERLAY).join(' ')} || exit ${FINISH_FAILED}; fi\nrm -f ${OVERLAY} ${WHOLE}`;

/** One async sync of a running VM from `from` into its replica on `to`. Returns the bytes of a full copy (0 for an increment). */
export async function replicateVmAsync(e: Engine, from: string, to: string, instance: string, vmId: string, onProgress?: ProgressFn): Promise<number> {
  const primary = await openQmp(e, e.conn(from), vmId);
  await stopSyncMirror(primary); // a VM that was replicated synchronously until now
  const c = e.conn(to);
  if (await files(e, c, instance, `test -e ${WHOLE}`)) await takeOverReplica(e, to, instance); // a commit a master left cut short
  const address = await ensureReplicaServer(e, to, instance, await diskSize(primary, instance, from));
  const server = await e.ownContainer(c, replicaServerName(instance));
  if (!server) throw new DriverError(`VM ${instance}: the replica server on ${to} vanished`, true, to);
  const daemon = await connectMonitor(e, c, server.Id, REPLICA_MONITOR, 'replica server monitor', 10_000);
  try {
    if (!(await hasReplicationBitmap(primary)) || !(await files(e, c, instance, `test -e ${BASE}`))) {
      await files(e, c, instance, `rm -f ${BASE}`);
      let total = 0;
      await asyncFullCopy(primary, { address, export: 'replica' }, (d, t) => { total = t; onProgress?.(d, t); });
      await files(e, c, instance, `touch ${BASE}`);
      return total;
    }
    await unexportReplica(daemon); // increments reach the replica only through the overlay
    await shipIncrement(primary, daemon, address, OVERLAY, async () => { await files(e, c, instance, `touch ${WHOLE}`); });
    await files(e, c, instance, `rm -f ${WHOLE}`);
    return 0;
  } catch (err) {
    throw new DriverError(`VM ${instance}: async replication from ${from} to ${to} failed: ${(err as Error).message}`, true, from);
  } finally {
    daemon.close();
  }
}

/**
 * Before a VM replicated asynchronously until now is mirrored synchronously (its cluster's mode changed):
 * its dirty bitmap dropped, and the replica server (which serves only the overlay by now) stopped, a commit
 * cut short finished, so that the mirror's full copy starts from a fresh server.
 */
export async function endAsync(e: Engine, from: string, to: string, instance: string, vmId: string): Promise<void> {
  const primary = await openQmp(e, e.conn(from), vmId);
  if (!(await hasReplicationBitmap(primary))) return;
  await primary.execute('block-dirty-bitmap-remove', { node: DISK_NODE, name: BITMAP });
  await takeOverReplica(e, to, instance);
}

/**
 * The replica server stopped (it holds the disk's lock) and an increment it was committing finished, or one
 * never whole dropped: before the next increment or a switch to sync replication. (A VM made on the node,
 * after a failover or a cold move, has its preparation script do the same: lifecycle.ts.) Always looked at
 * (a master may have died between the two), never under a running guest.
 */
export async function takeOverReplica(e: Engine, node: string, instance: string): Promise<void> {
  const c = e.conn(node);
  await stopReplicaServer(e, node, instance);
  if ((await e.ownContainer(c, containerName(instance)))?.State.Running || !(await e.inspectVolume(c, volumeName(instance, 0)))) return;
  await finishIncrement(e, c, instance, node);
}

/** The replica's last increment finished or dropped, in a helper (the replica server must be stopped). */
export async function finishIncrement(e: Engine, c: Conn, instance: string, node: string): Promise<void> {
  const r = await inVolume(e, c, instance, finishIncrementScript());
  if (r.exitCode !== 0) throw new DriverError(`VM ${instance}: finishing the replica's last increment on ${node} failed: ${r.stderr.trim()}`, true, node);
}

/** A shell test or change of the marker files; true when it exits 0. */
async function files(e: Engine, c: Conn, instance: string, script: string): Promise<boolean> {
  return (await inVolume(e, c, instance, script)).exitCode === 0;
}

function inVolume(e: Engine, c: Conn, instance: string, script: string) {
  return ensureQemuImage(e, c).then((image) => runHelper(e, c, instance, 'replica-files', ['-c', script], [{ source: volumeName(instance, 0), target: VM_PATHS.disk(0) }], 300_000,
    { image: { name: image, entrypoint: ['/bin/sh'] } }));
}
