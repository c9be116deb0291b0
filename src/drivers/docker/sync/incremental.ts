/**
 * Incremental sync: compare both sides' content manifests, delete on the target what the source no
 * longer has, make missing directories, and send new or changed files as tars of batched names.
 */
import type { ProgressFn } from '../../driver.ts';
import { DriverError } from '../../driver.ts';
import type { Conn, Engine } from '../engine.ts';
import { execStream, type ExecRun } from '../helpers.ts';
import { tarSize } from '../tar.ts';
import { batches, diffDisk, type Manifest } from './manifest.ts';
import { Progress, prune, sendTar, type SyncSession } from './session.ts';

/** Characters of file names per tar command (busybox tar has no -T: the names are arguments). */
const BATCH_CHARS = 100_000;

export async function syncIncremental(e: Engine, from: Conn, to: Conn, s: SyncSession, source: Manifest, onProgress?: ProgressFn): Promise<number> {
  const empty = new Map();
  const plans = s.disks.map((d) => diffDisk(d, source.get(d) ?? empty, s.target?.get(d) ?? empty));
  const p = new Progress(onProgress);
  p.total = plans.reduce((n, x) => n + (x.send.length ? tarSize(x.send, BATCH_CHARS) : 0), 0);
  p.set(0, true);
  for (const plan of plans) {
    // deletions (and type changes) first, then the directories the source has and the target lacks
    await prune(e, to, s, plan.disk, plan.remove, plan.mkdir);
    for (const batch of batches(plan.send.map((f) => `./${f.name}`), BATCH_CHARS)) {
      let run: ExecRun | undefined;
      await sendTar(e, from, to, s, plan.disk, `sync changed files of disk ${plan.disk} of ${s.instance}`, async () => {
        run = await execStream(e, from, s.src, `tar changed files of ${s.instance}`, ['tar', '-C', `/v/d${plan.disk}`, '-cf', '-', ...batch]);
        return run.stdout;
      }, p).catch((err: unknown) => { run?.abort(); throw err; });
      const r = await run!.done;
      if (r.exitCode !== 0) throw new DriverError(`node ${from.name}: tar of ${batch.length} changed files of ${s.instance} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 300)}`, true, from.name);
    }
  }
  p.total = Math.max(p.total, p.done);
  p.set(p.total, true);
  return p.total;
}
