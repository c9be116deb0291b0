/**
 * Live migration of a VM between two engines (drivers/qemu/migrate.ts does the QMP sequence): the replica
 * server and the replication mirror are stopped (the destination opens the disk file itself, and a disk
 * node runs one job at a time), the destination's container is made with `-incoming defer -S` and started,
 * and both QEMUs are driven through their QMP connections over the engine API. The migration stream and
 * the NBD export listen on the destination node's address, on a port pair chosen per attempt.
 *
 * Resumable: an attempt cut short (a master killed mid-way) leaves a destination container labelled
 * incoming; the next call reconciles both ends first (finish when the destination has the guest, else
 * cancel and start over), so one guest runs whatever happened.
 */
import type Docker from 'dockerode';
import { DriverError, type LiveMigrateResult, type ProgressFn } from '../../driver.ts';
import type { InstanceSpec } from '../../../model/operations.ts';
import { DEFAULT_LIMITS, migrateLive, reconcile } from '../../qemu/migrate.ts';
import { stopReplicationJobs } from '../../qemu/replicate.ts';
import type { Qmp } from '../../qemu/qmp.ts';
import { labelsOf, type ContainerInfo } from '../api.ts';
import type { Conn, Engine } from '../engine.ts';
import { LABEL, containerName } from '../names.ts';
import { createVm, removeVmContainer } from './lifecycle.ts';
import { openQmp } from './monitor.ts';
import { nodeAddress, stopReplicaServer } from './replica.ts';

const isDestination = (info: ContainerInfo | undefined): boolean => info !== undefined && labelsOf(info)[LABEL.vmIncoming] === '1' && info.State.Running;

/**
 * A monitor stream that ends under us (seen once in CI, 89 ms into the step) is a transient DriverError
 * (monitor.ts): the retry opens new connections and settles whatever this attempt left.
 */
export async function liveMigrateVm(e: Engine, from: string, to: string, spec: InstanceSpec, generation: number, onProgress?: ProgressFn): Promise<LiveMigrateResult> {
  const a = e.conn(from);
  const b = e.conn(to);
  const name = containerName(spec.name);
  const [src, old] = await Promise.all([e.ownContainer(a, name), e.ownContainer(b, name)]);
  const source = src?.State.Running ? await openQmp(e, a, src.Id) : undefined;
  if (isDestination(old)) {
    // an earlier attempt's destination: settle it before anything else
    const dest = await openQmp(e, b, old!.Id).catch(() => undefined);
    const d = await reconcile({ ...(source && { source }), ...(dest && { dest }) });
    if (d.kind === 'finish') return { kind: 'live', downtimeMs: d.downtimeMs ?? 0 };
    await removeVmContainer(e, b, old!);
    if (d.kind === 'lost') throw new DriverError(`VM ${spec.name}: ${d.why}`, false, from);
  }
  if (!source) return { kind: 'cold', cause: 'stopped', why: `${name} is not running on ${from}: no guest state to keep` };
  await stopReplicationJobs(source); // every disk's mirror or backup
  await stopReplicaServer(e, to, spec.name);
  await createVm(e, to, spec, generation, { incoming: true });
  const dest = await startDestination(e, b, name);
  const port = 30000 + Math.floor(Math.random() * 9999);
  const r = await migrateLive({
    source, dest, disks: spec.disks.length,
    nbd: { type: 'inet', host: nodeAddress(b), port }, stream: { type: 'inet', host: nodeAddress(b), port: port + 1 },
  }, DEFAULT_LIMITS, onProgress);
  if (r.kind === 'cold') {
    // a destination node that died mid-way: the guest stays where it runs, and no cold move is tried onto it
    const reachable = await e.info(b).then(() => true, () => false);
    if (!reachable) throw new DriverError(`node ${to}: unreachable during the live migration of ${spec.name} (${r.why}); it keeps running on ${from}`, true, to);
    const left = await e.ownContainer(b, name);
    if (left) await removeVmContainer(e, b, left);
  }
  return r;
}

/** Starts the destination's container (paused, waiting for the migration) and opens its monitor. */
async function startDestination(e: Engine, c: Conn, name: string): Promise<Qmp> {
  const info = await e.ownContainer(c, name);
  if (!info) throw new DriverError(`node ${c.name}: the migration's destination ${name} vanished`, true, c.name);
  await e.call(c, `start VM container ${name} (incoming)`, (signal) => c.docker.getContainer(info.Id).start({ abortSignal: signal } as Docker.ContainerStartOptions), e.startTimeout);
  return openQmp(e, c, info.Id);
}
