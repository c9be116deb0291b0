/**
 * Block replication from a running VM (the primary) to its secondary's replica, served over NBD by
 * qemu-storage-daemon (storage-daemon.ts).
 *
 * sync (DRBD protocol C): a `write-blocking` mirror — once READY, every guest write completes only after the
 *   replica has it, so the recovery point is 0. The mirror's job failing (the secondary died) degrades the
 *   instance; the guest keeps running, its writes no longer replicated.
 * async: a dirty bitmap and a full backup, then an incremental backup every interval. Each increment is
 *   written aside, into a qcow2 overlay on the secondary whose backing file is the replica, and committed
 *   into the replica only when whole, so a crash mid-increment leaves the previous consistent replica.
 *   The recovery point is the start of the last committed backup (a backup is a point-in-time copy of the
 *   moment it started).
 */
import type { Qmp } from './qmp.ts';
import { addNbdNode, removeNode, type NbdTarget } from './nbd.ts';
import { concludeJob, endJob, findJob, waitJob, type JobInfo } from './jobs.ts';
import { REPLICA_EXPORT, REPLICA_NODE } from './storage-daemon.ts';

/** The VM's disk node (the argv builder's name for disk 0). */
export const DISK_NODE = 'disk0';
/** On the primary: the nbd client node, the sync mirror's job, the async backup job and its bitmap. */
export const TARGET_NODE = 'repl0';
export const SYNC_JOB = 'repl-sync';
export const BACKUP_JOB = 'repl-backup';
export const BITMAP = 'repl';
/** On the secondary: the overlay an increment is written into, and the job that commits it. */
export const INCREMENT_NODE = 'increment';
export const INCREMENT_EXPORT = 'increment';
export const COMMIT_JOB = 'repl-commit';

export type ProgressFn = (done: number, total: number) => void;

/** What the primary's jobs say of a sync replica; pure over query-jobs, so a reconnect reads the same. */
export type SyncState =
  | { readonly kind: 'copying'; readonly done: number; readonly total: number }
  | { readonly kind: 'in-sync' }
  | { readonly kind: 'degraded'; readonly cause: 'replica-lost' | 'not-replicating'; readonly detail: string };

export function syncStateOf(job: JobInfo | undefined): SyncState {
  if (!job) return { kind: 'degraded', cause: 'not-replicating', detail: 'no replication job on the primary' };
  if (job.status === 'ready') return { kind: 'in-sync' };
  if (job.error !== undefined) return { kind: 'degraded', cause: 'replica-lost', detail: job.error };
  if (job.status === 'concluded' || job.status === 'aborting' || job.status === 'null') {
    return { kind: 'degraded', cause: 'not-replicating', detail: `replication job ${job.status}` };
  }
  return { kind: 'copying', done: job.done, total: job.total };
}

/**
 * Starts the write-blocking mirror into the replica and resolves once it is in sync (READY: RPO 0),
 * reporting the full copy's progress. Rejects (with the job ended and the node removed) if the copy fails.
 */
export async function startSyncMirror(primary: Qmp, replica: NbdTarget, onProgress?: ProgressFn, timeoutMs = 600_000): Promise<void> {
  await stopSyncMirror(primary); // idempotent: a previous attempt's leftovers go first
  await addNbdNode(primary, TARGET_NODE, replica);
  await primary.execute('blockdev-mirror', {
    'job-id': SYNC_JOB, device: DISK_NODE, target: TARGET_NODE, sync: 'full', 'copy-mode': 'write-blocking',
    'auto-dismiss': false, 'on-target-error': 'report',
  });
  const j = await waitJob(primary, SYNC_JOB, (x) => !x || x.status === 'ready' || x.status === 'concluded', timeoutMs, onProgress)
    .catch(async (e: unknown) => { await stopSyncMirror(primary); throw e; });
  const state = syncStateOf(j);
  if (state.kind !== 'in-sync') {
    await stopSyncMirror(primary);
    throw new Error(`the replica's full copy failed: ${state.kind === 'degraded' ? state.detail : state.kind}`);
  }
}

/** Calls `onDegraded` once if the sync mirror ends while the guest runs (the secondary died). Returns the unsubscribe. */
export function watchSyncMirror(primary: Qmp, onDegraded: (detail: string) => void): () => void {
  let fired = false;
  return primary.onEvent((e) => {
    if (fired || e.data.device !== SYNC_JOB) return;
    if (e.event === 'BLOCK_JOB_COMPLETED' || e.event === 'BLOCK_JOB_CANCELLED' || e.event === 'BLOCK_JOB_ERROR') {
      fired = true;
      onDegraded(typeof e.data.error === 'string' ? e.data.error : e.event);
    }
  });
}

/**
 * Ends the sync mirror (its replica left consistent) and removes the nbd node; absent is fine.
 *
 * Never a forced cancel while the guest writes: QEMU 7.2 corrupts its heap when a write-blocking mirror is
 * force-cancelled under guest I/O (`malloc(): unsorted double linked list corrupted`, SIGABRT: the guest is
 * gone), seen in about one in three tries once the mirror had run a few seconds. A READY mirror is ended
 * gracefully instead (it completes without a pivot, as at a migration's switchover); one still copying is
 * force-cancelled with the guest paused, which drains its I/O first (a pause of some tens of ms).
 */
export async function stopSyncMirror(primary: Qmp): Promise<void> {
  const job = await findJob(primary, SYNC_JOB);
  // a READY mirror whose replica stopped answering may never complete: then the paused, forced way
  const ended = job?.status === 'ready' && await endJob(primary, SYNC_JOB, true, 10_000).then(() => true, () => false);
  if (job && !ended) await withGuestPaused(primary, () => endJob(primary, SYNC_JOB, false));
  await removeNode(primary, TARGET_NODE);
}

/** Runs `f` with the guest's vCPUs stopped and its I/O drained (QMP `stop`), resuming it after if it was running. */
async function withGuestPaused<T>(qmp: Qmp, f: () => Promise<T>): Promise<T> {
  const { status } = await qmp.execute<{ status: string }>('query-status');
  if (status !== 'running') return f();
  await qmp.execute('stop');
  try { return await f(); } finally { await qmp.execute('cont'); }
}

/**
 * One backup job from the primary's disk into `target`: full (creating the dirty bitmap in the same
 * transaction, so no write falls between them) or incremental (the bitmap's writes since the last one; on
 * failure QEMU merges them back, so the next increment carries them). Resolves with the time the backup's
 * point-in-time was taken.
 */
async function backupInto(primary: Qmp, target: NbdTarget, sync: 'full' | 'incremental', timeoutMs: number, onProgress?: ProgressFn): Promise<number> {
  await endJob(primary, BACKUP_JOB, false);
  await removeNode(primary, TARGET_NODE);
  await addNbdNode(primary, TARGET_NODE, target);
  try {
    const job = { 'job-id': BACKUP_JOB, device: DISK_NODE, target: TARGET_NODE, sync, 'auto-dismiss': false };
    const at = Date.now();
    if (sync === 'full') {
      await primary.execute('block-dirty-bitmap-remove', { node: DISK_NODE, name: BITMAP }).catch(() => undefined);
      await primary.execute('transaction', { actions: [
        { type: 'block-dirty-bitmap-add', data: { node: DISK_NODE, name: BITMAP } },
        { type: 'blockdev-backup', data: job },
      ] });
    } else {
      await primary.execute('blockdev-backup', { ...job, bitmap: BITMAP });
    }
    await waitJob(primary, BACKUP_JOB, (x) => !x || x.status === 'concluded', timeoutMs, onProgress);
    const error = await concludeJob(primary, BACKUP_JOB, timeoutMs);
    if (error !== undefined) throw new Error(`${sync} backup to the replica failed: ${error}`);
    return at;
  } finally {
    await removeNode(primary, TARGET_NODE).catch(() => undefined);
  }
}

/** Whether the primary keeps the async replication's dirty bitmap (made by the full copy; gone with its QEMU). */
export async function hasReplicationBitmap(primary: Qmp): Promise<boolean> {
  const nodes = await primary.execute<{ 'node-name': string; 'dirty-bitmaps'?: { name: string }[] }[]>('query-named-block-nodes', { flat: true });
  return nodes.find((n) => n['node-name'] === DISK_NODE)?.['dirty-bitmaps']?.some((b) => b.name === BITMAP) ?? false;
}

/** The first full copy of an async replica (export `replica` of the storage daemon). Resolves with its recovery point. */
export function asyncFullCopy(primary: Qmp, replica: NbdTarget, onProgress?: ProgressFn, timeoutMs = 600_000): Promise<number> {
  return backupInto(primary, replica, 'full', timeoutMs, onProgress);
}

/**
 * One increment: an overlay opened aside on the secondary (`overlayPath`, a file the daemon may create),
 * the incremental backup written into it over NBD, and only then committed into the replica. `onWhole` is
 * told the increment's point in time before the commit begins (a failover that finds a commit cut short
 * finishes it from the whole overlay). Resolves with the new recovery point. On a failure before the commit
 * the overlay is dropped and the replica is untouched (still its previous recovery point).
 */
export async function shipIncrement(
  primary: Qmp, secondary: Qmp, secondaryAddress: NbdTarget['address'], overlayPath: string,
  onWhole: (at: number) => void | Promise<void> = () => {}, timeoutMs = 120_000,
): Promise<number> {
  await openOverlay(secondary, overlayPath);
  let at: number;
  try {
    at = await backupInto(primary, { address: secondaryAddress, export: INCREMENT_EXPORT }, 'incremental', timeoutMs);
  } catch (e) {
    await dropOverlay(secondary).catch(() => undefined);
    throw e;
  }
  await onWhole(at);
  await commitOverlay(secondary, timeoutMs);
  return at;
}

export interface AsyncEnds {
  readonly primary: Qmp;
  /** The storage daemon on the secondary, and the address its NBD server listens on. */
  readonly secondary: Qmp;
  readonly address: NbdTarget['address'];
  readonly overlayPath: string;
}

/** What an async replicator tells its owner as it goes (the owner persists it: failover.ts reads it). */
export type AsyncRecord = {
  readonly mode: 'async';
  readonly committedAt?: number;
  readonly pending: 'none' | 'writing' | 'committing';
  readonly pendingAt?: number;
  /** Set when replication stopped on an error: the instance is degraded until a new full copy. */
  readonly error?: string;
};

/**
 * Full copy, then an increment every intervalMs until stop() or an error (recorded, and the loop ends: the
 * guest is never touched). `record` gets every state change, in order.
 */
export function replicateAsync(ends: AsyncEnds, intervalMs: number, record: (r: AsyncRecord) => void, onProgress?: ProgressFn): { stop(): Promise<void>; readonly done: Promise<void> } {
  let stopping = false;
  let wake = () => {};
  let r: AsyncRecord = { mode: 'async', pending: 'writing' };
  const set = (next: AsyncRecord) => { r = next; record(r); };
  const done = (async () => {
    try {
      set(r);
      set({ mode: 'async', pending: 'none', committedAt: await asyncFullCopy(ends.primary, { address: ends.address, export: REPLICA_EXPORT }, onProgress) });
      await unexportReplica(ends.secondary);
      while (!stopping) {
        await new Promise<void>((res) => { const t = setTimeout(res, intervalMs); wake = () => { clearTimeout(t); res(); }; });
        if (stopping) break;
        set({ ...r, pending: 'writing' });
        const at = await shipIncrement(ends.primary, ends.secondary, ends.address, ends.overlayPath, (whole) => set({ ...r, pending: 'committing', pendingAt: whole }));
        set({ mode: 'async', pending: 'none', committedAt: at });
      }
    } catch (e) {
      set({ ...r, error: e instanceof Error ? e.message : String(e) });
    }
  })();
  return { done, stop: async () => { stopping = true; wake(); await done; } };
}

/** On the storage daemon: stop serving the replica itself (increments go through the overlay from now on). */
export async function unexportReplica(secondary: Qmp): Promise<void> {
  const exports = await secondary.execute<{ id: string }[]>('query-block-exports');
  if (exports.some((x) => x.id === REPLICA_EXPORT)) {
    await secondary.execute('block-export-del', { id: REPLICA_EXPORT });
    await waitGone(secondary, REPLICA_EXPORT);
  }
}

async function waitGone(secondary: Qmp, exportId: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const exports = await secondary.execute<{ id: string }[]>('query-block-exports');
    if (!exports.some((x) => x.id === exportId)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`export ${exportId} still present`);
}

/** Creates (or truncates) the overlay file, opens it over the replica, and exports it writable. */
async function openOverlay(secondary: Qmp, file: string): Promise<void> {
  await dropOverlay(secondary);
  const replica = await replicaImage(secondary);
  await createImage(secondary, { driver: 'file', filename: file, size: 0 }, 'create-file');
  await secondary.execute('blockdev-add', { driver: 'file', filename: file, 'node-name': `${INCREMENT_NODE}-file` });
  // The backing file is named in the overlay's header so that a commit cut short (the daemon stopped for a
  // failover) can be finished offline: `qemu-img commit OVERLAY` (failover.ts).
  await createImage(secondary, { driver: 'qcow2', file: `${INCREMENT_NODE}-file`, size: replica.size, 'backing-file': replica.file, 'backing-fmt': 'raw' }, 'create-qcow2');
  await secondary.execute('blockdev-add', { driver: 'qcow2', file: `${INCREMENT_NODE}-file`, backing: REPLICA_NODE, 'node-name': INCREMENT_NODE });
  await secondary.execute('block-export-add', { type: 'nbd', id: INCREMENT_EXPORT, 'node-name': INCREMENT_NODE, name: INCREMENT_EXPORT, writable: true });
}

async function replicaImage(secondary: Qmp): Promise<{ size: number; file: string }> {
  const nodes = await secondary.execute<{ 'node-name': string; file: string; image: { 'virtual-size': number } }[]>('query-named-block-nodes', { flat: true });
  const n = nodes.find((x) => x['node-name'] === REPLICA_NODE);
  if (!n) throw new Error('the storage daemon has no replica node');
  return { size: n.image['virtual-size'], file: n.file };
}

async function createImage(secondary: Qmp, options: Record<string, unknown>, id: string): Promise<void> {
  await secondary.execute('blockdev-create', { 'job-id': id, options });
  const error = await concludeJob(secondary, id, 30_000);
  if (error !== undefined) throw new Error(`creating the increment overlay failed: ${error}`);
}

/** Commits the whole overlay into the replica (an active commit: READY, then complete), then drops it. */
async function commitOverlay(secondary: Qmp, timeoutMs: number): Promise<void> {
  await secondary.execute('block-export-del', { id: INCREMENT_EXPORT });
  await waitGone(secondary, INCREMENT_EXPORT);
  await secondary.execute('block-commit', { 'job-id': COMMIT_JOB, device: INCREMENT_NODE, 'auto-dismiss': false });
  const j = await waitJob(secondary, COMMIT_JOB, (x) => !x || x.status === 'ready' || x.status === 'concluded', timeoutMs);
  if (j?.status === 'ready') await secondary.execute('job-complete', { id: COMMIT_JOB });
  const error = await concludeJob(secondary, COMMIT_JOB, timeoutMs);
  if (error !== undefined) throw new Error(`committing the increment failed: ${error}`);
  await dropOverlay(secondary);
}

/** Removes the overlay's export and nodes, whatever of them exists. */
async function dropOverlay(secondary: Qmp): Promise<void> {
  await endJob(secondary, COMMIT_JOB, false);
  const exports = await secondary.execute<{ id: string }[]>('query-block-exports');
  if (exports.some((x) => x.id === INCREMENT_EXPORT)) {
    await secondary.execute('block-export-del', { id: INCREMENT_EXPORT, mode: 'hard' });
    await waitGone(secondary, INCREMENT_EXPORT);
  }
  await removeNode(secondary, INCREMENT_NODE);
  await removeNode(secondary, `${INCREMENT_NODE}-file`);
}
