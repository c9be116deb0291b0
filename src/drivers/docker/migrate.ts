/**
 * Live migration with CRIU (testbed.md §4, engine APIs only): both engines experimental and passing a
 * real checkpoint probe (cached per node), an instance without published ports. Checkpoint on `from`
 * (the container exits), volumes and checkpoint copied in parallel through helpers, restore on `to`.
 * Downtime = checkpoint start → restore returned. Role markers are not touched: apply/ promotes the
 * target and demotes the source after the `live` step.
 */
import type Docker from 'dockerode';
import { DriverError, type LiveMigrateResult, type ProgressFn } from '../driver.ts';
import type { InstanceSpec } from '../../model/operations.ts';
import { dial, labelsOf, loose } from './api.ts';
import { createInstance, startInstance, stopInstance } from './containers.ts';
import type { Conn, Engine } from './engine.ts';
import { createHelper, removeHelper } from './helpers.ts';
import { containerName } from './names.ts';
import { prepareSync, runSync } from './sync/index.ts';
import type { SyncSession } from './sync/session.ts';
import { transfer } from './transfer.ts';

type Info = { ExperimentalBuild?: boolean; DockerRootDir: string };

/** Whether the node can checkpoint: experimental engine and a CRIU that works (tried once, cached). */
export function supportsCheckpoint(e: Engine, c: Conn): Promise<boolean> {
  const have = e.criuCache.get(c.name);
  if (have) return have.probe;
  const entry: { probe: Promise<boolean>; known?: boolean } = { probe: probeCheckpoint(e, c) };
  entry.probe.then((ok) => { entry.known = ok; }, () => e.criuCache.delete(c.name)); // unreachable: ask again next time
  e.criuCache.set(c.name, entry);
  return entry.probe;
}

async function probeCheckpoint(e: Engine, c: Conn): Promise<boolean> {
  const info = await e.info<Info>(c);
  if (!info.ExperimentalBuild) return false;
  let h: Docker.Container | undefined;
  try {
    h = await createHelper(e, c, `probe-${e.cluster}`, 'criu', { cmd: ['sleep', '600'] });
    const hc = h;
    await e.call(c, 'start CRIU probe', (signal) => hc.start({ abortSignal: signal }));
    await e.call(c, 'checkpoint CRIU probe', (signal) => loose<unknown>(hc, 'createCheckpoint', {
      CheckpointID: 'probe', CheckpointDir: `${info.DockerRootDir}/drover-checkpoints/probe-${hc.id}`, Exit: true, abortSignal: signal,
    }), Math.max(e.timeout, 60_000));
    return true;
  } catch (err) {
    if (err instanceof DriverError && err.transient && err.status !== 500) throw err;
    return false;
  } finally {
    await removeHelper(e, c, h);
  }
}

export async function liveMigrate(e: Engine, from: string, to: string, spec: InstanceSpec, generation: number, onProgress?: ProgressFn): Promise<LiveMigrateResult> {
  const a = e.conn(from);
  const b = e.conn(to);
  if (from === to) throw new DriverError(`liveMigrate: ${spec.name}: source and target are the same node ${from}`, false, from);
  if (spec.ports.length > 0) return { kind: 'cold', why: 'published ports cannot move with the process' };
  const name = containerName(spec.name);
  const src = await e.inspectContainer(a, name);
  if (!src || !e.ours(labelsOf(src)) || !src.State.Running) return { kind: 'cold', why: `${name} is not running on ${from}: no process state to keep` };
  const [okA, okB] = await Promise.all([supportsCheckpoint(e, a), supportsCheckpoint(e, b)]);
  if (!okA || !okB) return { kind: 'cold', why: `no working CRIU checkpoint on ${!okA ? from : to}` };

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
    const sync: SyncSession | undefined = spec.disks.length > 0 ? await prepareSync(e, a, b, spec.name) : undefined;
    ckA = await createHelper(e, a, spec.name, 'ck-src', { binds: [`${ckDirA}:/ck`] });
    ckB = await createHelper(e, b, spec.name, 'ck-dst', { binds: [`${ckDirB}:/ck`] });
    const [hA, hB] = [ckA, ckB];
    const t0 = Date.now();
    frozen = true;
    try {
      await e.call(a, `checkpoint ${name}`, (signal) => loose<unknown>(a.docker.getContainer(src.Id), 'createCheckpoint', {
        CheckpointID: ck, CheckpointDir: ckDirA, Exit: true, abortSignal: signal,
      }), Math.max(e.timeout, 120_000));
      await Promise.all([
        sync ? runSync(e, a, b, sync, onProgress) : Promise.resolve(0),
        transfer(e, a, b, `copy checkpoint of ${name}`,
          (signal) => hA.getArchive({ path: `/ck/${ck}`, abortSignal: signal }),
          (body, signal) => hB.putArchive(body, { path: '/ck', abortSignal: signal })),
      ]);
      await e.call(b, `restore ${name}`, (signal) => dial<unknown>(b.docker, {
        // the checkpoint goes in the query only: API >= 1.24 refuses a start with a host config in the body
        path: `/containers/${dstInfo.Id}/start?`, method: 'POST', options: { _query: { checkpoint: ck }, _body: {} }, abortSignal: signal,
        statusCodes: { 204: true, 304: 'container already started', 404: 'no such container', 500: 'server error' },
      }), Math.max(e.timeout, 120_000));
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

/**
 * The live attempt failed after the freeze: never leave the instance on no node. Make sure nothing runs
 * on `to`, start it again (cold) on `from`, and report `cold`; reject only when that restart fails.
 */
async function backToSource(e: Engine, from: string, to: string, instance: string, err: unknown): Promise<LiveMigrateResult> {
  const why = err instanceof Error ? err.message : String(err);
  try { await stopInstance(e, to, instance); } catch { /* unreachable target: it cannot run it either */ }
  try {
    await startInstance(e, from, instance);
  } catch (e2) {
    throw new DriverError(`live migration of ${instance} failed (${why}), and restarting it on ${from} failed too: ${(e2 as Error).message}`, true, from);
  }
  return { kind: 'cold', why: `live migration failed (${why}); the instance was restarted on ${from}` };
}
