/**
 * Live migration of a VM whose disk the destination does not share (shared/reference/qemu.md, step 3):
 * the destination waits paused (`-incoming defer -S`) and serves its disk over NBD, the source mirrors its
 * disk into it, then migrates its RAM with `pause-before-switchover`. At pre-switchover (the guest paused)
 * the READY mirror is cancelled, which finishes it as a consistent copy without a pivot, and the migration
 * continues; once it completed the destination stops its export (it held write permission on the disk)
 * and resumes; the source quits. Without `pause-before-switchover` the destination may resume before the
 * mirror's last writes land: a real race.
 *
 * Any failure, and a guest that does not converge within the bound, goes through reconcile(): the same
 * pure decision a restarted master makes (resume.ts), so the source keeps running unless the destination
 * already had the guest.
 */
import type { Qmp, QmpEvent } from './qmp.ts';
import { addNbdNode, removeNode, serveFromVm, type NbdAddress } from './nbd.ts';
import { concludeJob, endJob, listJobs, waitJob } from './jobs.ts';
import { diskNode } from './argv.ts';
import { migrationDecision, type EndState, type MigrationDecision } from './resume.ts';
import type { LiveMigrateResult, ProgressFn } from '../driver.ts';

/** Per disk i: the source's mirror job and its nbd node, the destination's export (named as the disk). */
export const mirrorJob = (i: number): string => `mig-mirror${i}`;
export const mirrorNode = (i: number): string => `mig${i}`;
const indices = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

export interface MigrationEnds {
  readonly source: Qmp;
  /** Started with `-incoming defer -S` on its own copy of the disk (empty or stale: the mirror copies all of it). */
  readonly dest: Qmp;
  /** Where the destination serves its disk, and where it listens for the migration stream, as the source reaches them. */
  readonly nbd: NbdAddress;
  readonly stream: NbdAddress;
  /** How many disks (disk0…): each is mirrored. */
  readonly disks: number;
}

export interface MigrationLimits {
  /** Bytes per second for RAM (QEMU's default, 32 MiB/s, is far too low). */
  readonly maxBandwidth: number;
  /** The guest pause QEMU aims at. */
  readonly downtimeLimitMs: number;
  /** From the start of the RAM phase to pre-switchover; a guest that dirties memory faster is left where it was. */
  readonly convergeTimeoutMs: number;
  readonly mirrorTimeoutMs: number;
}

export const DEFAULT_LIMITS: MigrationLimits = { maxBandwidth: 1024 * 1024 * 1024, downtimeLimitMs: 50, convergeTimeoutMs: 60_000, mirrorTimeoutMs: 600_000 };

const uri = (a: NbdAddress) => (a.type === 'inet' ? `tcp:${a.host}:${a.port}` : `unix:${a.path}`);

class NotLive extends Error {}

/** Migrates; `live` with the guest's real pause (source STOP to destination RESUME), or `cold` with the source running as before. */
export async function migrateLive(ends: MigrationEnds, limits: MigrationLimits = DEFAULT_LIMITS, onProgress?: ProgressFn): Promise<LiveMigrateResult> {
  const { source, dest } = ends;
  const events: QmpEvent[] = [];
  const offs = [source.onEvent((e) => events.push(e)), dest.onEvent((e) => events.push({ ...e, data: { ...e.data, end: 'dest' } }))];
  try {
    await prepareDest(dest, ends);
    await mirrorInto(source, ends, limits, onProgress);
    await migrateRam(source, ends, limits);
    await finish(ends);
    const stop = events.find((e) => e.event === 'STOP' && e.data.end === undefined);
    const resume = events.find((e) => e.event === 'RESUME' && e.data.end === 'dest');
    return { kind: 'live', downtimeMs: stop && resume ? Math.max(0, Math.round(resume.atMs - stop.atMs)) : -1 };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const decision = await reconcile(ends);
    if (decision.kind === 'finish') return { kind: 'live', downtimeMs: decision.downtimeMs ?? 0 };
    if (decision.kind === 'lost') throw new Error(`live migration failed (${why}) and ${decision.why}`);
    return { kind: 'cold', cause: 'fell-back', why: e instanceof NotLive ? why : `live migration failed: ${why}` };
  } finally {
    for (const off of offs) off();
  }
}

async function prepareDest(dest: Qmp, ends: MigrationEnds): Promise<void> {
  await dest.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
  await dest.execute('migrate-incoming', { uri: uri(ends.stream) });
  for (const i of indices(ends.disks)) {
    if (i === 0) await serveFromVm(dest, ends.nbd, diskNode(0), diskNode(0));
    else await dest.execute('nbd-server-add', { device: diskNode(i), name: diskNode(i), writable: true });
  }
}

/** Every disk mirrored into the destination's export, all READY (progress summed over the disks). */
async function mirrorInto(source: Qmp, ends: MigrationEnds, limits: MigrationLimits, onProgress?: ProgressFn): Promise<void> {
  await dropMirrors(source, ends.disks);
  const seen = new Map<number, readonly [number, number]>();
  const report = () => { let d = 0; let t = 0; for (const [x, y] of seen.values()) { d += x; t += y; } onProgress?.(d, t); };
  for (const i of indices(ends.disks)) {
    await addNbdNode(source, mirrorNode(i), { address: ends.nbd, export: diskNode(i) });
    await source.execute('blockdev-mirror', { 'job-id': mirrorJob(i), device: diskNode(i), target: mirrorNode(i), sync: 'full', 'auto-dismiss': false });
  }
  for (const i of indices(ends.disks)) {
    const j = await waitJob(source, mirrorJob(i), (x) => !x || x.status === 'ready' || x.status === 'concluded', limits.mirrorTimeoutMs, (d, t) => { seen.set(i, [d, t]); report(); });
    if (j?.status !== 'ready') throw new Error(`the mirror of disk ${i} ended before it was in sync: ${j?.error ?? j?.status ?? 'gone'}`);
  }
}

async function dropMirrors(source: Qmp, disks: number): Promise<void> {
  for (const i of indices(disks)) {
    await endJob(source, mirrorJob(i), false);
    await removeNode(source, mirrorNode(i));
  }
}

async function migrateRam(source: Qmp, ends: MigrationEnds, limits: MigrationLimits): Promise<void> {
  await source.execute('migrate-set-capabilities', { capabilities: ['events', 'pause-before-switchover', 'auto-converge'].map((capability) => ({ capability, state: true })) });
  await source.execute('migrate-set-parameters', { 'max-bandwidth': limits.maxBandwidth, 'downtime-limit': limits.downtimeLimitMs });
  const atSwitchover = source.waitEvent('MIGRATION', limits.convergeTimeoutMs, (d) => ['pre-switchover', 'failed', 'cancelled', 'completed'].includes(String(d.status)))
    .catch(() => { throw new NotLive(`the guest did not converge within ${limits.convergeTimeoutMs} ms`); });
  await source.execute('migrate', { uri: uri(ends.stream) });
  const at = await atSwitchover;
  if (at.data.status !== 'pre-switchover') throw new Error(`the migration ${String(at.data.status)} before its switchover`);
  // The guest is paused: finish the mirror as a consistent copy (no pivot), then let the migration complete.
  for (const i of indices(ends.disks)) await source.execute('block-job-cancel', { device: mirrorJob(i) });
  for (const i of indices(ends.disks)) {
    const error = await concludeJob(source, mirrorJob(i), limits.mirrorTimeoutMs);
    if (error !== undefined) throw new Error(`the mirror of disk ${i} failed at switchover: ${error}`);
  }
  const done = source.waitEvent('MIGRATION', limits.convergeTimeoutMs, (d) => ['completed', 'failed', 'cancelled'].includes(String(d.status)));
  await source.execute('migrate-continue', { state: 'pre-switchover' });
  const end = await done;
  if (end.data.status !== 'completed') throw new Error(`the migration ${String(end.data.status)} after its switchover`);
}

/** The destination has the guest: stop its export (it holds write permission on the disk), resume it, quit the source. */
async function finish(ends: { readonly source: Qmp; readonly dest: Qmp }): Promise<void> {
  const { source, dest } = ends;
  await waitStatus(dest, (s) => s !== 'inmigrate', 30_000);
  await dest.execute('nbd-server-stop').catch(() => undefined); // already stopped by an earlier attempt
  if ((await status(dest)) !== 'running') {
    const resumed = dest.waitEvent('RESUME', 10_000);
    await dest.execute('cont');
    await resumed;
  }
  await source.execute('quit').catch(() => undefined);
}

/** The source keeps the guest: nothing of the attempt stays, the guest runs, the destination quits. */
async function cancel(ends: { readonly source: Qmp; readonly dest?: Qmp }): Promise<void> {
  const { source, dest } = ends;
  await dest?.execute('quit').catch(() => undefined);
  await source.execute('migrate_cancel').catch(() => undefined);
  await waitMigrationSettled(source);
  // every disk's mirror and node, however many the attempt had started
  for (const j of await listJobs(source)) if (/^mig-mirror\d+$/.test(j.id)) await endJob(source, j.id, false);
  const nodes = await source.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
  for (const n of nodes) if (/^mig\d+$/.test(n['node-name'])) await removeNode(source, n['node-name']);
  if ((await status(source)) !== 'running') await source.execute('cont');
}

/** Reads both ends (an end whose connection is closed is gone), decides, and does it. */
export async function reconcile(ends: { readonly source?: Qmp; readonly dest?: Qmp }): Promise<MigrationDecision> {
  const [s, d] = await Promise.all([observe(ends.source), observe(ends.dest)]);
  const decision = migrationDecision({ ...(s && { source: s }), ...(d && { dest: d }) });
  if (decision.kind === 'finish') {
    if (ends.source && s) await finish({ source: ends.source, dest: ends.dest! });
    else await finishDestOnly(ends.dest!);
  } else if (decision.kind === 'cancel') {
    await cancel({ source: ends.source!, ...(d && ends.dest && { dest: ends.dest }) });
  } else if (ends.dest && d) {
    await ends.dest.execute('quit').catch(() => undefined);
  }
  return decision;
}

async function finishDestOnly(dest: Qmp): Promise<void> {
  await dest.execute('nbd-server-stop').catch(() => undefined);
  if ((await status(dest)) !== 'running') await dest.execute('cont');
}

export async function observe(qmp: Qmp | undefined): Promise<EndState | undefined> {
  if (!qmp) return undefined;
  try {
    const [st, mig, jobs] = await Promise.all([status(qmp), qmp.execute<{ status?: string; downtime?: number }>('query-migrate'), listJobs(qmp)]);
    return { status: st, ...(mig.status !== undefined && { migration: mig.status }), ...(mig.downtime !== undefined && { downtimeMs: mig.downtime }), jobs };
  } catch { return undefined; } // its process is gone
}

async function status(qmp: Qmp): Promise<string> {
  return (await qmp.execute<{ status: string }>('query-status')).status;
}

async function waitStatus(qmp: Qmp, ok: (s: string) => boolean, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(qmp);
    if (ok(s) || Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** migrate_cancel is asynchronous: wait until the source's migration left its active states. */
async function waitMigrationSettled(source: Qmp): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const m = await source.execute<{ status?: string }>('query-migrate');
    if (!m.status || ['completed', 'failed', 'cancelled', 'none'].includes(m.status)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
