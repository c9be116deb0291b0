/**
 * syncDisks for a VM. Running on `from`: block replication of every disk into the replica server on `to`
 * (replica.ts), which stays in sync from then on (every write reaches both nodes before the guest sees it
 * complete); or, in async mode, one increment of every disk shipped (increment.ts).
 * Not running: its disk files are copied like a container's volumes, after the replica server (which
 * holds the replica's file open) is stopped.
 */
import type { ProgressFn } from '../../driver.ts';
import type { ReplicationMode } from '../../../model/desired.ts';
import type { Engine } from '../engine.ts';
import { containerName } from '../names.ts';
import { syncDisks } from '../sync/index.ts';
import { endAsync, replicateVmAsync } from './increment.ts';
import { isVmContainer } from './lifecycle.ts';
import { replicateVm, stopReplicaServer } from './replica.ts';

/** undefined: not a VM on `from` (the caller syncs it as a container). */
export async function syncVmDisks(e: Engine, from: string, to: string, instance: string, onProgress?: ProgressFn, mode: ReplicationMode = 'sync'): Promise<number | undefined> {
  const info = await e.ownContainer(e.conn(from), containerName(instance));
  if (!info || !isVmContainer(info)) return undefined;
  if (info.State.Running) {
    if (mode === 'async') return replicateVmAsync(e, from, to, instance, info.Id, onProgress);
    await endAsync(e, from, to, instance, info.Id);
    return replicateVm(e, from, to, instance, info.Id, onProgress);
  }
  await stopReplicaServer(e, to, instance);
  return syncDisks(e, from, to, instance, onProgress);
}
