/**
 * Disk sync between two nodes through the kept sync helpers: incremental when both sides' content
 * manifests can be made and the target is not empty, else whole volumes. prepareSync does everything
 * that can be done while the instance still runs (live migration calls runSync while it is frozen).
 */
import { DriverError, type ProgressFn } from '../../driver.ts';
import type { Conn, Engine } from '../engine.ts';
import { LABEL, volumeName } from '../names.ts';
import { diskVolumes, ensureVolume } from '../volumes.ts';
import { syncFull } from './full.ts';
import { syncIncremental } from './incremental.ts';
import { readManifest, syncHelper, type SyncSession } from './session.ts';

/** Helpers on both sides, the target's missing volumes created as replicas, and the target's manifest. */
export async function prepareSync(e: Engine, from: Conn, to: Conn, instance: string): Promise<SyncSession> {
  if (from.name === to.name) throw new DriverError(`syncDisks: ${instance}: source and target are the same node ${from.name}`, false, from.name);
  const disks = await diskVolumes(e, from, instance);
  if (disks.length === 0) throw new DriverError(`node ${from.name}: instance ${instance} has no disks to sync from`, false, from.name);
  const targetHas = new Set((await diskVolumes(e, to, instance)).map((d) => d.index));
  for (const d of disks) {
    if (!targetHas.has(d.index)) await ensureVolume(e, to, volumeName(instance, d.index), { ...d.labels, [LABEL.role]: 'replica' });
  }
  const idx = disks.map((d) => d.index);
  const [src, dst] = await Promise.all([syncHelper(e, from, instance, idx, true), syncHelper(e, to, instance, idx, false)]);
  // the target is a replica (only syncs write it), so its manifest can be taken before the source freezes;
  // when it cannot be made, everything is copied
  const target = await readManifest(e, to, dst, instance, idx).catch((err: unknown) => {
    if (err instanceof DriverError) return undefined;
    throw err;
  });
  return { instance, disks: idx, src, dst, target };
}

/** Make the target's disks equal to the source's. Returns the bytes sent. */
export async function runSync(e: Engine, from: Conn, to: Conn, s: SyncSession, onProgress?: ProgressFn): Promise<number> {
  const targetEmpty = s.target !== undefined && [...s.target.values()].every((m) => m.size === 0);
  if (s.target && !targetEmpty && e.opts.incrementalSync !== false) {
    const source = await readManifest(e, from, s.src, s.instance, s.disks).catch(() => undefined);
    if (source) return syncIncremental(e, from, to, s, source, onProgress);
  }
  return syncFull(e, from, to, s, onProgress);
}

export async function syncDisks(e: Engine, from: string, to: string, instance: string, onProgress?: ProgressFn): Promise<number> {
  const a = e.conn(from);
  const b = e.conn(to);
  return runSync(e, a, b, await prepareSync(e, a, b, instance), onProgress);
}
