/**
 * Whole-volume sync (a first sync, or when a manifest cannot be made): stream each disk whole from the
 * source helper into the target's, then delete what the target had and the source did not send.
 * The copy overwrites in place, so the replica is never empty meanwhile.
 */
import type { ProgressFn } from '../../driver.ts';
import { loose } from '../api.ts';
import type { Conn, Engine } from '../engine.ts';
import { volumeName } from '../names.ts';
import { topMost } from './manifest.ts';
import { Progress, prune, sendTar, type SyncSession } from './session.ts';

/** The engine's own accounting of the source volumes, for progress; 0 when it cannot tell. */
async function sourceBytes(e: Engine, from: Conn, s: SyncSession): Promise<number> {
  try {
    const df = await e.call(from, 'disk usage', (signal) =>
      loose<{ Volumes?: { Name: string; UsageData?: { Size?: number } }[] }>(from.docker, 'df', { abortSignal: signal }), Math.max(e.timeout, 30_000));
    const names = new Set(s.disks.map((d) => volumeName(s.instance, d)));
    return (df.Volumes ?? []).reduce((n, v) => n + (names.has(v.Name) && (v.UsageData?.Size ?? -1) >= 0 ? v.UsageData!.Size! : 0), 0);
  } catch {
    return 0;
  }
}

export async function syncFull(e: Engine, from: Conn, to: Conn, s: SyncSession, onProgress?: ProgressFn): Promise<number> {
  const p = new Progress(onProgress);
  p.total = await sourceBytes(e, from, s);
  p.set(0, true);
  for (const d of s.disks) {
    const sent = await sendTar(e, from, to, s, d, `sync disk ${d} of ${s.instance}`,
      (signal) => s.src.getArchive({ path: `/v/d${d}/.`, abortSignal: signal }), p);
    const had = [...(s.target?.get(d)?.keys() ?? [])];
    await prune(e, to, s, d, topMost(had.filter((x) => !sent.has(x))));
  }
  p.set(p.done, true);
  return p.done;
}
