/**
 * syncDisks for a VM. Running on `from`: block replication into the replica server on `to` (replica.ts),
 * which stays in sync from then on (every write reaches both nodes before the guest sees it complete).
 * Not running: its disk files are copied like a container's volumes, after the replica server (which
 * holds the replica's file open) is stopped.
 */
import type { ProgressFn } from '../../driver.ts';
import type { Engine } from '../engine.ts';
import { containerName, volumeName } from '../names.ts';
import { syncDisks } from '../sync/index.ts';
import { isVmContainer } from './lifecycle.ts';
import { replicateVm, stopReplicaServer } from './replica.ts';

/** undefined: not a VM on `from` (the caller syncs it as a container). */
export async function syncVmDisks(e: Engine, from: string, to: string, instance: string, onProgress?: ProgressFn): Promise<number | undefined> {
  const info = await e.ownContainer(e.conn(from), containerName(instance));
  if (!info || !isVmContainer(info)) return undefined;
  if (info.State.Running) {
    let disks = 0;
    while (await e.inspectVolume(e.conn(from), volumeName(instance, disks))) disks++;
    return replicateVm(e, from, to, instance, { id: info.Id, disks }, onProgress);
  }
  await stopReplicaServer(e, to, instance);
  return syncDisks(e, from, to, instance, onProgress);
}
