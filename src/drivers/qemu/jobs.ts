/**
 * Block jobs (mirror, backup, commit) as QEMU reports them through query-jobs. Every job Drover starts
 * has `auto-dismiss: false`, so a job that ended while nobody listened (a master restart, a reconnect:
 * QEMU buffers no events) stays visible as `concluded` with its error until it is dismissed here.
 */
import type { Qmp } from './qmp.ts';

export interface JobInfo {
  readonly id: string;
  readonly type: string;
  /** QEMU's job status: created, running, ready, pending, concluded, … */
  readonly status: string;
  readonly done: number;
  readonly total: number;
  readonly error?: string;
}

interface RawJob { id: string; type: string; status: string; 'current-progress': number; 'total-progress': number; error?: string }

export async function listJobs(qmp: Qmp): Promise<readonly JobInfo[]> {
  const raw = await qmp.execute<RawJob[]>('query-jobs');
  return raw.map((j) => ({ id: j.id, type: j.type, status: j.status, done: j['current-progress'], total: j['total-progress'], ...(j.error !== undefined && { error: j.error }) }));
}

export async function findJob(qmp: Qmp, id: string): Promise<JobInfo | undefined> {
  return (await listJobs(qmp)).find((j) => j.id === id);
}

/**
 * Polls the job (and re-checks at once on each job event) until `until` holds; resolves with the job as
 * last seen (undefined: gone). Rejects after timeoutMs, or when the connection closes.
 */
export async function waitJob(
  qmp: Qmp, id: string, until: (j: JobInfo | undefined) => boolean, timeoutMs: number,
  onProgress?: (done: number, total: number) => void,
): Promise<JobInfo | undefined> {
  return (await waitJobs(qmp, [id], (js) => until(js[0]), timeoutMs, onProgress))[0];
}

/** waitJob over several jobs at once (one per disk): `until` sees them in the order of `ids`, progress is their sum. */
export async function waitJobs(
  qmp: Qmp, ids: readonly string[], until: (js: readonly (JobInfo | undefined)[]) => boolean, timeoutMs: number,
  onProgress?: (done: number, total: number) => void,
): Promise<readonly (JobInfo | undefined)[]> {
  const deadline = Date.now() + timeoutMs;
  let wake: () => void = () => {};
  const off = qmp.onEvent((e) => { if (e.event === 'JOB_STATUS_CHANGE' || e.event.startsWith('BLOCK_JOB_')) wake(); });
  try {
    for (;;) {
      const all = await listJobs(qmp);
      const js = ids.map((id) => all.find((j) => j.id === id));
      const total = js.reduce((s, j) => s + (j?.total ?? 0), 0);
      if (onProgress && total > 0) onProgress(js.reduce((s, j) => s + (j?.done ?? 0), 0), total);
      if (until(js)) return js;
      if (Date.now() > deadline) throw new Error(`block job${ids.length > 1 ? 's' : ''} ${ids.join(', ')} still ${js.map((j) => j?.status ?? 'absent').join(', ')} after ${timeoutMs} ms`);
      await new Promise<void>((r) => { const t = setTimeout(r, 100); wake = () => { clearTimeout(t); r(); }; });
    }
  } finally { off(); }
}

/** Waits for the job to conclude and dismisses it; resolves with its error (undefined: it succeeded or was absent). */
export async function concludeJob(qmp: Qmp, id: string, timeoutMs: number): Promise<string | undefined> {
  const j = await waitJob(qmp, id, (x) => !x || x.status === 'concluded', timeoutMs);
  if (!j) return undefined;
  await qmp.execute('job-dismiss', { id });
  return j.error;
}

/**
 * Ends the job whatever its state. `graceful` on a READY mirror finishes it without a pivot, leaving the
 * target a consistent copy of the source at this moment; otherwise the job is aborted.
 */
export async function endJob(qmp: Qmp, id: string, graceful: boolean, timeoutMs = 30_000): Promise<string | undefined> {
  const j = await findJob(qmp, id);
  if (!j) return undefined;
  if (j.status !== 'concluded' && j.status !== 'aborting') {
    await qmp.execute('block-job-cancel', { device: id, force: !graceful }).catch(() => undefined); // it may just have ended
  }
  return concludeJob(qmp, id, timeoutMs);
}
