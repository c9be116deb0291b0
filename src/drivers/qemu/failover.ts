/**
 * Failover from a replica, after the old primary is fenced (apply/ does that: two copies must never run):
 * stop the replica's storage daemon — it holds the image's lock — then start the VM on the replica with the
 * normal argv. What the guest comes back with is the replica's recovery point: 0 for a sync replica that was
 * in sync, the start of the last committed increment for an async one.
 */
import type { Qmp } from './qmp.ts';
import type { AsyncRecord } from './increments.ts';

/**
 * What the replicator last recorded of an async replica: `committing` means an increment was whole on the
 * secondary and its commit into the replica had begun (the overlay must be committed before the replica is
 * used); `writing` means an increment was being written aside (the overlay is dropped: the replica is its
 * previous recovery point).
 */
export type ReplicaRecord =
  | { readonly mode: 'sync'; readonly inSync: boolean; readonly since?: number }
  | AsyncRecord;

export type ReplicaVerdict =
  | { readonly use: true; readonly finishCommit: boolean; readonly recoveryPoint: { readonly kind: 'none-lost' } | { readonly kind: 'at'; readonly at: number } }
  | { readonly use: false; readonly why: string };

/** Whether the replica may be started, and what it holds. Pure. */
export function replicaVerdict(r: ReplicaRecord): ReplicaVerdict {
  if (r.mode === 'sync') {
    if (r.inSync) return { use: true, finishCommit: false, recoveryPoint: { kind: 'none-lost' } };
    return r.since !== undefined
      ? { use: true, finishCommit: false, recoveryPoint: { kind: 'at', at: r.since } }
      : { use: false, why: 'the replica never finished its first full copy' };
  }
  if (r.pending === 'committing' && r.pendingAt !== undefined) return { use: true, finishCommit: true, recoveryPoint: { kind: 'at', at: r.pendingAt } };
  if (r.committedAt === undefined) return { use: false, why: 'the replica never finished its first full copy' };
  return { use: true, finishCommit: false, recoveryPoint: { kind: 'at', at: r.committedAt } };
}

/** Quits the storage daemon and waits until it is gone (its image lock released). Absent is fine. */
export async function stopStorageDaemon(daemon: Qmp | undefined, timeoutMs = 10_000): Promise<void> {
  if (!daemon) return;
  await daemon.execute('quit').catch(() => undefined); // the reply may lose the race with the close
  await Promise.race([daemon.closed, new Promise((_, reject) => setTimeout(() => reject(new Error(`the storage daemon did not quit within ${timeoutMs} ms`)), timeoutMs))]);
}

/** The offline end of a commit the storage daemon was stopped in: the overlay names its backing file (the replica). */
export function finishCommitArgv(overlayPath: string): readonly string[] {
  return ['qemu-img', 'commit', '-f', 'qcow2', overlayPath];
}
