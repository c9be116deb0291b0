/**
 * Block replication from a running VM (the primary) to its secondary's replica, served over NBD by
 * qemu-storage-daemon (storage-daemon.ts). Every disk of the VM is replicated: disk i (node `disk<i>`) into
 * the daemon's export `replica<i>`, each with its own job, the set handled as one.
 *
 * sync (DRBD protocol C), here: a `write-blocking` mirror per disk — once every one is READY, every guest
 * write completes only after the replica has it, so the recovery point is 0. A mirror's job failing (the
 * secondary died) degrades the instance; the guest keeps running, its writes no longer replicated.
 * async: increments.ts. Both: the jobs' and nodes' names, and stopping whichever runs.
 */
import type { Qmp } from './qmp.ts';
import { addNbdNode, removeNode, type NbdAddress } from './nbd.ts';
import { endJob, listJobs, waitJobs, type JobInfo } from './jobs.ts';
import { diskNode } from './argv.ts';
import { replicaExport } from './storage-daemon.ts';

/** On the primary, per disk i: the nbd client node, the sync mirror's job, the async backup job; the bitmap's name (one on each disk node). */
export const targetNode = (i: number): string => `repl${i}`;
export const syncJob = (i: number): string => `repl-sync${i}`;
export const backupJob = (i: number): string => `repl-backup${i}`;
export const BITMAP = 'repl';
/** On the secondary, per disk i: the overlay an increment is written into (node and export), and the job that commits it. */
export const incrementNode = (i: number): string => `increment${i}`;
export const incrementExport = (i: number): string => `increment${i}`;
export const commitJob = (i: number): string => `repl-commit${i}`;

/** Whatever disk's, and a previous version's (one disk: `repl-sync`, `repl-backup`), so that none is left behind. */
const SYNC_JOBS = /^repl-sync\d*$/;
const BACKUP_JOBS = /^repl-backup\d*$/;
const TARGET_NODES = /^repl\d+$/;

export const indices = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

export type ProgressFn = (done: number, total: number) => void;

/** What the primary's jobs say of a sync replica; pure over query-jobs, so a reconnect reads the same. */
export type SyncState =
  | { readonly kind: 'copying'; readonly done: number; readonly total: number }
  | { readonly kind: 'in-sync' }
  | { readonly kind: 'degraded'; readonly cause: 'replica-lost' | 'not-replicating'; readonly detail: string };

/** One disk's mirror job. */
function diskSyncState(job: JobInfo | undefined): SyncState {
  if (!job) return { kind: 'degraded', cause: 'not-replicating', detail: 'no replication job on the primary' };
  if (job.status === 'ready') return { kind: 'in-sync' };
  if (job.error !== undefined) return { kind: 'degraded', cause: 'replica-lost', detail: job.error };
  if (job.status === 'concluded' || job.status === 'aborting' || job.status === 'null') {
    return { kind: 'degraded', cause: 'not-replicating', detail: `replication job ${job.status}` };
  }
  return { kind: 'copying', done: job.done, total: job.total };
}

/**
 * The replica of all disks, from each disk's mirror job (index = disk): in sync only when every one is READY,
 * degraded when any is not replicating (the first such disk named), else copying (progress summed).
 */
export function syncStateOf(jobs: readonly (JobInfo | undefined)[]): SyncState {
  let done = 0; let total = 0; let copying = false;
  for (const [i, job] of jobs.entries()) {
    const s = diskSyncState(job);
    if (s.kind === 'degraded') return { ...s, detail: `disk ${i}: ${s.detail}` };
    if (s.kind === 'copying') copying = true;
    done += job!.done; total += job!.total;
  }
  return copying ? { kind: 'copying', done, total } : { kind: 'in-sync' };
}

/** Each of the first `disks` disks' sync mirror job, as query-jobs has it now. */
export async function syncJobs(primary: Qmp, disks: number): Promise<readonly (JobInfo | undefined)[]> {
  const all = await listJobs(primary);
  return indices(disks).map((i) => all.find((j) => j.id === syncJob(i)));
}

/** A disk of the running VM as its QEMU has it: index i of node `disk<i>`, its size, whether it keeps the async bitmap. */
export interface VmDisk { readonly index: number; readonly size: number; readonly bitmap: boolean }

/** The VM's disks (its `disk<i>` nodes, in order; the argv builder makes them disk0, disk1, … without a gap). */
export async function vmDisks(primary: Qmp): Promise<readonly VmDisk[]> {
  const nodes = await primary.execute<{ 'node-name': string; image: { 'virtual-size': number }; 'dirty-bitmaps'?: { name: string }[] }[]>('query-named-block-nodes', { flat: true });
  const disks = nodes.flatMap((n) => {
    const m = /^disk(\d+)$/.exec(n['node-name']);
    return m ? [{ index: Number(m[1]), size: n.image['virtual-size'], bitmap: n['dirty-bitmaps']?.some((b) => b.name === BITMAP) ?? false }] : [];
  });
  return disks.sort((a, b) => a.index - b.index);
}

/**
 * Starts a write-blocking mirror of every disk into the replica server and resolves once all are in sync
 * (READY: RPO 0), reporting the full copies' summed progress. Rejects (with every job ended and node
 * removed) if a copy fails.
 */
export async function startSyncMirror(primary: Qmp, server: NbdAddress, disks: number, onProgress?: ProgressFn, timeoutMs = 600_000): Promise<void> {
  await stopReplicationJobs(primary); // idempotent: a previous attempt's leftovers go first
  try {
    for (const i of indices(disks)) {
      await addNbdNode(primary, targetNode(i), { address: server, export: replicaExport(i) });
      await primary.execute('blockdev-mirror', {
        'job-id': syncJob(i), device: diskNode(i), target: targetNode(i), sync: 'full', 'copy-mode': 'write-blocking',
        'auto-dismiss': false, 'on-target-error': 'report',
      });
    }
    // until every mirror is READY, or one of them ended (no use waiting for the others)
    await waitJobs(primary, indices(disks).map(syncJob), (js) => js.every((x) => x?.status === 'ready') || js.some((x) => !x || x.status === 'concluded'), timeoutMs, onProgress);
  } catch (e) {
    await stopReplicationJobs(primary).catch(() => undefined);
    throw e;
  }
  const state = syncStateOf(await syncJobs(primary, disks));
  if (state.kind !== 'in-sync') {
    await stopReplicationJobs(primary);
    throw new Error(`the replica's full copy failed: ${state.kind === 'degraded' ? state.detail : state.kind}`);
  }
}

/** Calls `onDegraded` once if any disk's sync mirror ends while the guest runs (the secondary died), saying which. Returns the unsubscribe. */
export function watchSyncMirror(primary: Qmp, onDegraded: (detail: string) => void): () => void {
  let fired = false;
  return primary.onEvent((e) => {
    const m = typeof e.data.device === 'string' ? /^repl-sync(\d+)$/.exec(e.data.device) : null;
    if (fired || !m) return;
    if (e.event === 'BLOCK_JOB_COMPLETED' || e.event === 'BLOCK_JOB_CANCELLED' || e.event === 'BLOCK_JOB_ERROR') {
      fired = true;
      onDegraded(`disk ${m[1]}: ${typeof e.data.error === 'string' ? e.data.error : e.event}`);
    }
  });
}

/**
/**
 * Ends every replication job on the primary — each disk's sync mirror (its replica left consistent) and
 * backup — and removes their nbd nodes; absent is fine. A live migration starts with this.
 *
 * Never a forced cancel while the guest writes: QEMU 7.2 corrupts its heap when a write-blocking mirror is
 * force-cancelled under guest I/O (`malloc(): unsorted double linked list corrupted`, SIGABRT: the guest is
 * gone), seen in about one live migration in four on the Docker test bed. A READY mirror is ended gracefully
 * instead (it completes without a pivot, as at a migration's switchover); the jobs still running (a mirror
 * copying, a backup, a graceful end that did not conclude in 10 s: its replica stopped answering) are
 * cancelled together with the guest paused, which drains its I/O first (a pause of some tens of ms).
 */
export async function stopReplicationJobs(primary: Qmp): Promise<void> {
  const jobs = (await listJobs(primary)).filter((j) => SYNC_JOBS.test(j.id) || BACKUP_JOBS.test(j.id));
  const left: JobInfo[] = [];
  for (const j of jobs) {
    const ended = j.status === 'ready' && SYNC_JOBS.test(j.id) && await endJob(primary, j.id, true, 10_000).then(() => true, () => false);
    if (!ended) left.push(j);
  }
  const running = left.filter((j) => j.status !== 'concluded' && j.status !== 'aborting');
  const settle = async () => { for (const j of left) await endJob(primary, j.id, false); };
  await (running.length > 0 ? withGuestPaused(primary, settle) : settle());
  const nodes = await primary.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
  for (const n of nodes) if (TARGET_NODES.test(n['node-name'])) await removeNode(primary, n['node-name']);
}

/** Runs `f` with the guest's vCPUs stopped and its I/O drained (QMP `stop`), resuming it after if it was running. */
async function withGuestPaused<T>(qmp: Qmp, f: () => Promise<T>): Promise<T> {
  const { status } = await qmp.execute<{ status: string }>('query-status');
  if (status !== 'running') return f();
  await qmp.execute('stop');
  try { return await f(); } finally { await qmp.execute('cont'); }
}
