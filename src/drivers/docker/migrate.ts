/**
 * Live migration with CRIU (testbed.md §4, engine APIs only): both engines pass the checkpoint probe
 * (criu.ts), the instance has no published ports. NICs move with it: the target's container is created with
 * the same addresses and MACs but holds no endpoint until its restore, which starts only after the source's
 * checkpoint ended it and the engine released its endpoints (networks.ts) — one copy on the segment at a time. The checkpoint is bounded (checkpointTimeoutMs); any
 * failure after it began puts the instance back to running on `from` and resolves `cold`. Checkpoint on `from`
 * (the container exits), volumes and checkpoint copied in parallel through helpers, restore on `to`.
 * Downtime = checkpoint start → restore returned. Role markers are not touched: apply/ promotes the
 * target and demotes the source after the `live` step.
 */
import type Docker from 'dockerode';
import { DriverError, type LiveMigrateResult, type ProgressFn } from '../driver.ts';
import type { InstanceSpec } from '../../model/operations.ts';
import { dial, labelsOf, loose } from './api.ts';
import { createInstance, ensureRunning, stopInstance } from './containers.ts';
import { abortCheckpoint, supportsCheckpoint } from './criu.ts';
import { EngineTimeout, type Conn, type Engine } from './engine.ts';
import { createHelper, removeHelper } from './helpers.ts';
import { endpointsReleased } from './networks.ts';
import { containerName } from './names.ts';
import { prepareSync, runSync } from './sync/index.ts';
import type { SyncSession } from './sync/session.ts';
import { transfer } from './transfer.ts';

type Info = { DockerRootDir: string };

export async function liveMigrate(e: Engine, from: string, to: string, spec: InstanceSpec, generation: number, onProgress?: ProgressFn): Promise<LiveMigrateResult> {
  const a = e.conn(from);
  const b = e.conn(to);
  if (from === to) throw new DriverError(`liveMigrate: ${spec.name}: source and target are the same node ${from}`, false, from);
  if (spec.ports.length > 0) return { kind: 'cold', cause: 'ports', why: 'published ports cannot move with the process' };
  const name = containerName(spec.name);
  const src = await e.inspectContainer(a, name);
  if (!src || !e.ours(labelsOf(src)) || !src.State.Running) return { kind: 'cold', cause: 'stopped', why: `${name} is not running on ${from}: no process state to keep` };
  const [okA, okB] = await Promise.all([supportsCheckpoint(e, a), supportsCheckpoint(e, b)]);
  if (!okA || !okB) {
    const node = !okA ? from : to;
    return { kind: 'cold', cause: 'no-checkpoint', node, why: `no working CRIU checkpoint on ${node}` };
  }

  // prepare everything that can be done while the instance runs
  await createInstance(e, to, spec, generation);
  const dstInfo = await e.inspectContainer(b, name);
  if (!dstInfo) throw new DriverError(`node ${to}: container ${name} vanished while preparing the migration`, true, to);
  const [infoA, infoB] = await Promise.all([e.info<Info>(a), e.info<Info>(b)]);
  const ck = `drover-${Date.now().toString(36)}`;
  const ckDirA = `${infoA.DockerRootDir}/drover-checkpoints/${src.Id}`;
  const ckDirB = `${infoB.DockerRootDir}/containers/${dstInfo.Id}/checkpoints`;
  let ckA: Docker.Container | undefined;
  let ckB: Docker.Container | undefined;
  let frozen = false;
  try {
    const sync = spec.disks.length > 0 ? await prepareSync(e, a, b, spec.name) : undefined;
    ckA = await createHelper(e, a, spec.name, 'ck-src', { binds: [`${ckDirA}:/ck`] });
    ckB = await createHelper(e, b, spec.name, 'ck-dst', { binds: [`${ckDirB}:/ck`] });
    const t0 = Date.now();
    frozen = true;
    try {
      await moveFrozen(e, a, b, { name, srcId: src.Id, dstId: dstInfo.Id, ck, ckDirA, hA: ckA, hB: ckB, ...(sync ? { sync } : {}) }, onProgress);
    } catch (err) {
      return await backToSource(e, from, to, spec.name, err);
    }
    const downtimeMs = Date.now() - t0;
    // the instance runs on `to` only: the old container goes (apply/ swaps the roles)
    await e.removeContainerByName(a, name).catch(() => { /* a stopped leftover; plan removes it */ });
    return { kind: 'live', downtimeMs };
  } finally {
    // the sync helpers are kept for the next sync (removed with the instance or its disks)
    await Promise.all([removeHelper(e, a, ckA), removeHelper(e, b, ckB)]);
    if (frozen) {
      await e.call(a, 'delete checkpoint', (signal) => loose<unknown>(a.docker.getContainer(src.Id), 'deleteCheckpoint', ck, { dir: ckDirA, abortSignal: signal }))
        .catch(() => { /* the directory is removed with the data root at worst */ });
    }
  }
}

interface Move {
  readonly name: string;
  readonly srcId: string;
  readonly dstId: string;
  /** checkpoint name, and its directory on the source */
  readonly ck: string;
  readonly ckDirA: string;
  /** helpers exposing the checkpoint directories of both sides */
  readonly hA: Docker.Container;
  readonly hB: Docker.Container;
  readonly sync?: SyncSession;
}

/** Checkpoint on `a` (bounded; a hung one is aborted), disks and checkpoint copied in parallel, restore on `b`. */
async function moveFrozen(e: Engine, a: Conn, b: Conn, m: Move, onProgress?: ProgressFn): Promise<void> {
  try {
    await e.call(a, `checkpoint ${m.name}`, (signal) => loose<unknown>(a.docker.getContainer(m.srcId), 'createCheckpoint', {
      CheckpointID: m.ck, CheckpointDir: m.ckDirA, Exit: true, abortSignal: signal,
    }), e.opts.checkpointTimeoutMs ?? 30_000);
  } catch (err) {
    if (err instanceof EngineTimeout) await abortCheckpoint(e, a, m.srcId);
    throw err;
  }
  // the source's endpoints (its addresses and MACs) go with its exit: released before the target starts with them
  await endpointsReleased(e, a, m.srcId);
  await Promise.all([
    m.sync ? runSync(e, a, b, m.sync, onProgress) : Promise.resolve(0),
    transfer(e, a, b, `copy checkpoint of ${m.name}`,
      (signal) => m.hA.getArchive({ path: `/ck/${m.ck}`, abortSignal: signal }),
      (body, signal) => m.hB.putArchive(body, { path: '/ck', abortSignal: signal })),
  ]);
  await e.call(b, `restore ${m.name}`, (signal) => dial<unknown>(b.docker, {
    // the checkpoint goes in the query only: API >= 1.24 refuses a start with a host config in the body
    path: `/containers/${m.dstId}/start?`, method: 'POST', options: { _query: { checkpoint: m.ck }, _body: {} }, abortSignal: signal,
    statusCodes: { 204: true, 304: 'container already started', 404: 'no such container', 500: 'server error' },
  }), Math.max(e.timeout, 120_000));
}

/**
 * The live attempt failed after the freeze: never leave the instance on no node. Make sure nothing runs
 * on `to`, thaw or start it again on `from` (a checkpoint past its bound may have left it paused, one that
 * finished left it stopped), and report `cold`; reject only when it cannot be made to run there.
 */
async function backToSource(e: Engine, from: string, to: string, instance: string, err: unknown): Promise<LiveMigrateResult> {
  const why = err instanceof Error ? err.message : String(err);
  try { await stopInstance(e, to, instance); } catch { /* unreachable target: it cannot run it either */ }
  try {
    // the engine may hold the container a moment longer while the aborted checkpoint unwinds
    for (let i = 0; ; i++) {
      try { await ensureRunning(e, from, instance); break; } catch (x) { if (i >= 2) throw x; }
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (e2) {
    throw new DriverError(`live migration of ${instance} failed (${why}), and restarting it on ${from} failed too: ${(e2 as Error).message}`, true, from);
  }
  return { kind: 'cold', cause: 'fell-back', why: `live migration failed (${why}); the instance was restarted on ${from}` };
}
