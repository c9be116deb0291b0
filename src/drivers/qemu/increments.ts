/**
 * Asynchronous block replication of a running VM (replicate.ts has the names and the sync mirror): a dirty
 * bitmap per disk and a full backup of all disks, then an incremental backup of all disks every interval,
 * all started in one transaction (one point in time across the disks). Each increment is written aside,
 * into a qcow2 overlay per disk on the secondary whose backing file is that disk's replica, and committed
 * into the replicas only when every overlay is whole, so a crash mid-increment leaves the previous
 * consistent set. The recovery point is the start of the last committed backup (a backup is a point-in-time
 * copy of the moment it started).
 */
import type { Qmp } from './qmp.ts';
import { addNbdNode, removeNode, type NbdAddress, type NbdTarget } from './nbd.ts';
import { concludeJob, endJob, listJobs, waitJobs } from './jobs.ts';
import { diskNode } from './argv.ts';
import { replicaExport, replicaNode } from './storage-daemon.ts';
import {
  BITMAP, backupJob, commitJob, incrementExport, incrementNode, indices, stopReplicationJobs, targetNode, vmDisks, type ProgressFn,
} from './replicate.ts';
/**
 * One backup job per disk from the primary into `targets` (index = disk), all started in one transaction
 * (one point in time across the disks): full (creating each disk's dirty bitmap in the same transaction, so
 * no write falls between them) or incremental (each bitmap's writes since the last one; the jobs complete
 * or fail together, and on failure QEMU merges every bitmap back, so the next increment carries them).
 * Resolves with the time the backups' point-in-time was taken.
 */
async function backupInto(primary: Qmp, targets: readonly NbdTarget[], sync: 'full' | 'incremental', timeoutMs: number, onProgress?: ProgressFn): Promise<number> {
  await stopReplicationJobs(primary);
  const disks = indices(targets.length);
  try {
    for (const i of disks) await addNbdNode(primary, targetNode(i), targets[i]!);
    const job = (i: number) => ({ 'job-id': backupJob(i), device: diskNode(i), target: targetNode(i), sync, 'auto-dismiss': false, ...(sync === 'incremental' && { bitmap: BITMAP }) });
    if (sync === 'full') {
      for (const i of disks) await primary.execute('block-dirty-bitmap-remove', { node: diskNode(i), name: BITMAP }).catch(() => undefined);
    }
    const at = Date.now();
    await primary.execute('transaction', sync === 'full'
      // bitmap actions refuse the grouped completion mode; a failed full copy is all redone anyway
      ? { actions: [...disks.map((i) => ({ type: 'block-dirty-bitmap-add', data: { node: diskNode(i), name: BITMAP } })), ...disks.map((i) => ({ type: 'blockdev-backup', data: job(i) }))] }
      : { actions: disks.map((i) => ({ type: 'blockdev-backup', data: job(i) })), properties: { 'completion-mode': 'grouped' } });
    await waitJobs(primary, disks.map(backupJob), (js) => js.every((x) => !x || x.status === 'concluded'), timeoutMs, onProgress);
    const errors: string[] = [];
    for (const i of disks) {
      const error = await concludeJob(primary, backupJob(i), timeoutMs);
      if (error !== undefined) errors.push(`disk ${i}: ${error}`);
    }
    if (errors.length) throw new Error(`${sync} backup to the replica failed: ${errors.join('; ')}`);
    return at;
  } finally {
    for (const i of disks) await removeNode(primary, targetNode(i)).catch(() => undefined);
  }
}

/** Whether every disk of the primary keeps the async replication's dirty bitmap (made by the full copy; gone with its QEMU). */
export async function hasReplicationBitmap(primary: Qmp): Promise<boolean> {
  const disks = await vmDisks(primary);
  return disks.length > 0 && disks.every((d) => d.bitmap);
}

/** Drops the async replication's bitmap from every disk that has one; resolves whether any had. */
export async function dropReplicationBitmaps(primary: Qmp): Promise<boolean> {
  const had = (await vmDisks(primary)).filter((d) => d.bitmap);
  for (const d of had) await primary.execute('block-dirty-bitmap-remove', { node: diskNode(d.index), name: BITMAP });
  return had.length > 0;
}

/** The first full copy of an async replica (exports `replica<i>` of the storage daemon). Resolves with its recovery point. */
export function asyncFullCopy(primary: Qmp, server: NbdAddress, disks: number, onProgress?: ProgressFn, timeoutMs = 600_000): Promise<number> {
  return backupInto(primary, indices(disks).map((i) => ({ address: server, export: replicaExport(i) })), 'full', timeoutMs, onProgress);
}

/**
 * One increment of every disk: an overlay per disk opened aside on the secondary (`overlayPaths[i]`, files
 * the daemon may create), the incremental backups written into them over NBD, and only then committed into
 * the replicas. `onWhole` is told the increment's point in time before the first commit begins (a failover
 * that finds the commits cut short finishes every one from its whole overlay). Resolves with the new
 * recovery point. On a failure before the commits the overlays are dropped and the replicas are untouched
 * (still their previous recovery point).
 */
export async function shipIncrement(
  primary: Qmp, secondary: Qmp, secondaryAddress: NbdAddress, overlayPaths: readonly string[],
  onWhole: (at: number) => void | Promise<void> = () => {}, timeoutMs = 120_000,
): Promise<number> {
  let at: number;
  try {
    await dropOverlays(secondary);
    for (const [i, file] of overlayPaths.entries()) await openOverlay(secondary, i, file);
    at = await backupInto(primary, overlayPaths.map((_, i) => ({ address: secondaryAddress, export: incrementExport(i) })), 'incremental', timeoutMs);
  } catch (e) {
    await dropOverlays(secondary).catch(() => undefined);
    throw e;
  }
  await onWhole(at);
  await commitOverlays(secondary, overlayPaths.length, timeoutMs);
  return at;
}

export interface AsyncEnds {
  readonly primary: Qmp;
  /** The storage daemon on the secondary, and the address its NBD server listens on. */
  readonly secondary: Qmp;
  readonly address: NbdAddress;
  /** Where each disk's increment overlay is written on the secondary, in disk order (one per disk). */
  readonly overlayPaths: readonly string[];
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
      set({ mode: 'async', pending: 'none', committedAt: await asyncFullCopy(ends.primary, ends.address, ends.overlayPaths.length, onProgress) });
      await unexportReplica(ends.secondary);
      while (!stopping) {
        await new Promise<void>((res) => { const t = setTimeout(res, intervalMs); wake = () => { clearTimeout(t); res(); }; });
        if (stopping) break;
        set({ ...r, pending: 'writing' });
        const at = await shipIncrement(ends.primary, ends.secondary, ends.address, ends.overlayPaths, (whole) => set({ ...r, pending: 'committing', pendingAt: whole }));
        set({ mode: 'async', pending: 'none', committedAt: at });
      }
    } catch (e) {
      set({ ...r, error: e instanceof Error ? e.message : String(e) });
    }
  })();
  return { done, stop: async () => { stopping = true; wake(); await done; } };
}

/** On the storage daemon: stop serving the replicas themselves (increments go through the overlays from now on). */
export async function unexportReplica(secondary: Qmp): Promise<void> {
  for (const id of await exportIds(secondary, /^replica\d+$/)) {
    await secondary.execute('block-export-del', { id });
    await waitGone(secondary, id);
  }
}

async function exportIds(secondary: Qmp, re: RegExp): Promise<string[]> {
  return (await secondary.execute<{ id: string }[]>('query-block-exports')).map((x) => x.id).filter((id) => re.test(id));
}

async function waitGone(secondary: Qmp, exportId: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const exports = await secondary.execute<{ id: string }[]>('query-block-exports');
    if (!exports.some((x) => x.id === exportId)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`export ${exportId} still present`);
}

/** Creates (or truncates) disk i's overlay file, opens it over that disk's replica, and exports it writable. */
async function openOverlay(secondary: Qmp, i: number, file: string): Promise<void> {
  const replica = await replicaImage(secondary, i);
  const node = incrementNode(i);
  await createImage(secondary, { driver: 'file', filename: file, size: 0 }, 'create-file');
  await secondary.execute('blockdev-add', { driver: 'file', filename: file, 'node-name': `${node}-file` });
  // The backing file is named in the overlay's header so that a commit cut short (the daemon stopped for a
  // failover) can be finished offline: `qemu-img commit OVERLAY` (failover.ts).
  await createImage(secondary, { driver: 'qcow2', file: `${node}-file`, size: replica.size, 'backing-file': replica.file, 'backing-fmt': 'raw' }, 'create-qcow2');
  await secondary.execute('blockdev-add', { driver: 'qcow2', file: `${node}-file`, backing: replicaNode(i), 'node-name': node });
  await secondary.execute('block-export-add', { type: 'nbd', id: incrementExport(i), 'node-name': node, name: incrementExport(i), writable: true });
}

async function replicaImage(secondary: Qmp, i: number): Promise<{ size: number; file: string }> {
  const nodes = await secondary.execute<{ 'node-name': string; file: string; image: { 'virtual-size': number } }[]>('query-named-block-nodes', { flat: true });
  const n = nodes.find((x) => x['node-name'] === replicaNode(i));
  if (!n) throw new Error(`the storage daemon has no replica of disk ${i}`);
  return { size: n.image['virtual-size'], file: n.file };
}

async function createImage(secondary: Qmp, options: Record<string, unknown>, id: string): Promise<void> {
  await secondary.execute('blockdev-create', { 'job-id': id, options });
  const error = await concludeJob(secondary, id, 30_000);
  if (error !== undefined) throw new Error(`creating the increment overlay failed: ${error}`);
}

/** Commits every whole overlay into its replica (active commits: READY, then complete), then drops them. */
async function commitOverlays(secondary: Qmp, disks: number, timeoutMs: number): Promise<void> {
  for (const id of await exportIds(secondary, /^increment\d+$/)) {
    await secondary.execute('block-export-del', { id });
    await waitGone(secondary, id);
  }
  for (const i of indices(disks)) await secondary.execute('block-commit', { 'job-id': commitJob(i), device: incrementNode(i), 'auto-dismiss': false });
  const ids = indices(disks).map(commitJob);
  const js = await waitJobs(secondary, ids, (xs) => xs.every((x) => !x || x.status === 'ready' || x.status === 'concluded'), timeoutMs);
  for (const [i, j] of js.entries()) if (j?.status === 'ready') await secondary.execute('job-complete', { id: commitJob(i) });
  const errors: string[] = [];
  for (const i of indices(disks)) {
    const error = await concludeJob(secondary, commitJob(i), timeoutMs);
    if (error !== undefined) errors.push(`disk ${i}: ${error}`);
  }
  if (errors.length) throw new Error(`committing the increment failed: ${errors.join('; ')}`);
  await dropOverlays(secondary);
}

/** Removes every overlay's commit job, export and nodes, whatever of them exists. */
async function dropOverlays(secondary: Qmp): Promise<void> {
  for (const j of await listJobs(secondary)) if (/^repl-commit\d*$/.test(j.id)) await endJob(secondary, j.id, false);
  for (const id of await exportIds(secondary, /^increment\d*$/)) {
    await secondary.execute('block-export-del', { id, mode: 'hard' });
    await waitGone(secondary, id);
  }
  const nodes = (await secondary.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true })).map((n) => n['node-name']);
  for (const n of nodes.filter((x) => /^increment\d*$/.test(x))) await removeNode(secondary, n);
  for (const n of nodes.filter((x) => /^increment\d*-file$/.test(x))) await removeNode(secondary, n);
}
