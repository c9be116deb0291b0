/**
 * Asynchronous replication of a running VM (`Cluster.spec.replication.mode: async`) on the Docker backend:
 * each sync (every replication interval) ships one increment of every disk through
 * drivers/qemu/increments.ts — the first time, and whenever the primary's QEMU lost its dirty bitmaps, a full
 * backup into the replica server; then an incremental backup written aside into a qcow2 overlay per disk
 * (in that disk's volume) and committed into the replicas only when every overlay is whole. The recovery
 * point is the start of the last shipped backup (the caller dates it from before this call).
 *
 * Two marker files beside disk 0's replica record, for the whole set of disks, what a master that dies
 * mid-way would otherwise lose: `replica.base` (a full copy finished into these replicas: increments may
 * follow) and `increment.whole` (every overlay is whole and the commits may have begun). A node that takes
 * the VM over (failover, cold move) stops the replica server and finishes every such commit offline
 * (`qemu-img commit`, idempotent: an overlay committed twice gives the same replica) or drops overlays that
 * were never whole, so the guest never boots from a torn replica, nor from disks of different increments.
 */
import { DriverError, type ProgressFn } from '../../driver.ts';
import { VM_PATHS } from '../../qemu/argv.ts';
import { finishCommitArgv } from '../../qemu/failover.ts';
import { asyncFullCopy, dropReplicationBitmaps, hasReplicationBitmap, shipIncrement, unexportReplica } from '../../qemu/increments.ts';
import { stopReplicationJobs } from '../../qemu/replicate.ts';
import type { Conn, Engine } from '../engine.ts';
import { runHelper } from '../helpers.ts';
import { containerName, volumeName } from '../names.ts';
import { connectMonitor, openQmp } from './monitor.ts';
import { ensureQemuImage } from './qemu-image.ts';
import { REPLICA_MONITOR, diskSizes, ensureReplicaServer, replicaServerName, stopReplicaServer } from './replica.ts';

/** Disk i's increment overlay, in its own volume. */
const overlay = (i: number): string => `${VM_PATHS.disk(i)}/increment.qcow2`;
const WHOLE = `${VM_PATHS.disk(0)}/increment.whole`;
const BASE = `${VM_PATHS.disk(0)}/replica.base`;
const indices = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * Finish every whole overlay's commit (an overlay already committed and removed is skipped; a commit is
 * idempotent: the overlay holds the newer data), then drop all overlays, the marker last (a takeover cut
 * short here finds the marker and finishes what is left). Also the first lines of a VM's preparation script
 * (lifecycle.ts: same image, same volumes), so that a takeover runs one helper container, not two. A failed
 * commit exits FINISH_FAILED.
 */
export const FINISH_FAILED = 42;
export const finishIncrementScript = (disks: number): string => {
  const commits = indices(disks).map((i) => `{ [ ! -e ${overlay(i)} ] || ${finishCommitArgv(overlay(i)).join(' ')}; } || exit ${FINISH_FAILED}`);
  return `if [ -e ${WHOLE} ]; then ${commits.join('; ')}; fi; rm -f ${indices(disks).map(overlay).join(' ')} && rm -f ${WHOLE}`;
};

/** One async sync of a running VM from `from` into its replica on `to`. Returns the bytes of a full copy (0 for an increment). */
export async function replicateVmAsync(e: Engine, from: string, to: string, instance: string, vmId: string, onProgress?: ProgressFn): Promise<number> {
  const primary = await openQmp(e, e.conn(from), vmId);
  await stopReplicationJobs(primary); // a VM that was replicated synchronously until now
  const c = e.conn(to);
  const sizes = await diskSizes(primary, instance, from);
  if (await files(e, c, instance, `test -e ${WHOLE}`)) await takeOverReplica(e, to, instance); // commits a master left cut short
  const address = await ensureReplicaServer(e, to, instance, sizes);
  const server = await e.ownContainer(c, replicaServerName(instance));
  if (!server) throw new DriverError(`VM ${instance}: the replica server on ${to} vanished`, true, to);
  const daemon = await connectMonitor(e, c, server.Id, REPLICA_MONITOR, 'replica server monitor', 10_000);
  try {
    if (!(await hasReplicationBitmap(primary)) || !(await files(e, c, instance, `test -e ${BASE}`))) {
      await files(e, c, instance, `rm -f ${BASE}`);
      let total = 0;
      await asyncFullCopy(primary, address, sizes.length, (d, t) => { total = t; onProgress?.(d, t); });
      await files(e, c, instance, `touch ${BASE}`);
      return total;
    }
    await unexportReplica(daemon); // increments reach the replicas only through the overlays
    await shipIncrement(primary, daemon, address, indices(sizes.length).map(overlay), async () => { await files(e, c, instance, `touch ${WHOLE}`); });
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
 * its dirty bitmaps dropped, and the replica server (which serves only the overlays by now) stopped, commits
 * cut short finished, so that the mirrors' full copies start from a fresh server.
 */
export async function endAsync(e: Engine, from: string, to: string, instance: string, vmId: string): Promise<void> {
  const primary = await openQmp(e, e.conn(from), vmId);
  if (await dropReplicationBitmaps(primary)) await takeOverReplica(e, to, instance);
}

/**
 * Before a VM runs on a node (its former secondary, after a failover or a cold move): the replica server
 * stopped (it holds the disks' locks) and an increment it was committing finished on every disk, or one
 * never whole dropped. Always looked at (a master may have died between the two), never under a running guest. (A VM made on the node has
 * its preparation script do the same: lifecycle.ts.)
 */
export async function takeOverReplica(e: Engine, node: string, instance: string): Promise<void> {
  const c = e.conn(node);
  await stopReplicaServer(e, node, instance);
  if ((await e.ownContainer(c, containerName(instance)))?.State.Running) return;
  await finishIncrement(e, c, instance, node);
}

/** The replicas' last increment finished or dropped on every disk, in a helper (the replica server must be stopped). */
export async function finishIncrement(e: Engine, c: Conn, instance: string, node: string): Promise<void> {
  const disks = await volumeCount(e, c, instance);
  if (disks === 0) return;
  const r = await inVolume(e, c, instance, finishIncrementScript(disks), disks);
  if (r.exitCode !== 0) throw new DriverError(`VM ${instance}: finishing the replica's last increment on ${node} failed: ${r.stderr.trim()}`, true, node);
}

/** How many disk volumes of the instance the node has (disk 0, 1, … without a gap). */
async function volumeCount(e: Engine, c: Conn, instance: string): Promise<number> {
  let n = 0;
  while (await e.inspectVolume(c, volumeName(instance, n))) n++;
  return n;
}

/** A shell test or change of the marker files; true when it exits 0. */
async function files(e: Engine, c: Conn, instance: string, script: string): Promise<boolean> {
  return (await inVolume(e, c, instance, script)).exitCode === 0;
}

/** Runs `script` in the QEMU image with the first `disks` disk volumes mounted (the markers are in disk 0's). */
function inVolume(e: Engine, c: Conn, instance: string, script: string, disks = 1) {
  const mounts = indices(disks).map((i) => ({ source: volumeName(instance, i), target: VM_PATHS.disk(i) }));
  return ensureQemuImage(e, c).then((image) => runHelper(e, c, instance, 'replica-files', ['-c', script], mounts, 300_000,
    { image: { name: image, entrypoint: ['/bin/sh'] } }));
}
