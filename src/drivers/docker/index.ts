/**
 * The docker backend: a node is a Docker engine (unix socket, tcp, or tcp with mutual TLS), an instance a
 * container `drover-<instance>`, a disk a named volume `drover-<instance>-d<index>`. Everything created
 * carries drover.* labels (names.ts), and nothing without `drover.cluster=<this cluster>` is ever touched.
 *
 * This file composes the concern modules, which share one engine context (engine.ts: connections,
 * timeouts, the call/maybe wrappers, per-node caches):
 *   images.ts      images on nodes, copied between nodes      helpers.ts     helper containers and exec
 *   probe.ts       one look at a node                          volumes.ts     disks and role markers
 *   containers.ts  instance lifecycle                          sync/          content manifests, incremental/full sync
 *   migrate.ts     CRIU probe and live migration               transfer.ts    engine-to-engine streams
 *   rename.ts      an instance renamed in place (disks copied on the node, container made anew)
 *   health.ts      health checks (exec, or tcp from a helper in the instance's network)
 *   console.ts     an instance's logs, and a shell in it (drover logs, drover console)
 *   backup.ts      a consistent copy of an instance's disks (frozen briefly), and seeding disks from one
 *   vm/            VMs (`hypervisor: kvm`): QEMU in a container of Drover's own QEMU image, QMP, console
 * Helpers (sync, df, the CRIU probe) use `helperImage`: by default an image Drover builds from this machine's
 * busybox-static and loads into each node at its first probe (helper-image.ts); an override is copied from
 * another node when missing.
 */
import type { ConsoleEnds, DiskExport, Driver, Limits, LiveMigrateResult, LogRequest, LogWriter, NodeProbe, ProgressFn } from '../driver.ts';
import type { DiskSpec, HealthProbe, ReplicationMode } from '../../model/desired.ts';
import type { HealthResult } from '../../model/observed.ts';
import type { InstanceSpec } from '../../model/operations.ts';
import * as backups from './backup.ts';
import * as sessions from './console.ts';
import * as containers from './containers.ts';
import { Engine, type DockerDriverOptions } from './engine.ts';
import { engineMessage } from './errors.ts';
import { checkHealth } from './health.ts';
import { imagesPresent } from './images.ts';
import { liveMigrate } from './migrate.ts';
import { liveMigrateVm } from './vm/migrate.ts';
import { syncVmDisks } from './vm/sync.ts';
import { probe } from './probe.ts';
import { renameInstance } from './rename.ts';
import { syncDisks } from './sync/index.ts';
import * as volumes from './volumes.ts';
import { closeAll } from './vm/monitor.ts';
import { growVmDisk, isVmContainer } from './vm/lifecycle.ts';
import { containerName } from './names.ts';

export type { DockerDriverOptions } from './engine.ts';
export { parseEndpoint } from './engine.ts';
export { demuxLogs } from './api.ts';
export { engineMessage };

class DockerDriver implements Driver {
  readonly backend = 'docker' as const;
  private readonly e: Engine;

  constructor(opts: DockerDriverOptions) {
    this.e = new Engine(opts);
  }

  probe(node: string): Promise<NodeProbe> { return probe(this.e, node); }
  imagesPresent(node: string, images: readonly string[]): Promise<readonly string[]> { return imagesPresent(this.e, node, images); }

  createDisks(node: string, instance: string, disks: readonly DiskSpec[], role: 'primary' | 'replica', generation: number): Promise<void> {
    return volumes.createDisks(this.e, node, instance, disks, role, generation);
  }
  removeDisks(node: string, instance: string): Promise<void> { return volumes.removeDisks(this.e, node, instance); }
  promoteDisks(node: string, instance: string, generation: number): Promise<void> { return volumes.promoteDisks(this.e, node, instance, generation); }
  async syncDisks(from: string, to: string, instance: string, onProgress?: ProgressFn, mode?: ReplicationMode): Promise<number> {
    return (await syncVmDisks(this.e, from, to, instance, onProgress, mode)) ?? syncDisks(this.e, from, to, instance, onProgress);
  }

  createInstance(node: string, spec: InstanceSpec, generation: number): Promise<void> { return containers.createInstance(this.e, node, spec, generation); }
  startInstance(node: string, instance: string): Promise<void> { return containers.startInstance(this.e, node, instance); }
  stopInstance(node: string, instance: string): Promise<void> { return containers.stopInstance(this.e, node, instance); }
  removeInstance(node: string, instance: string): Promise<void> { return containers.removeInstance(this.e, node, instance); }
  updateInstance(node: string, instance: string, limits: Limits): Promise<void> { return containers.updateInstance(this.e, node, instance, limits); }
  async growDisk(node: string, instance: string, disk: number, size: number): Promise<void> {
    await volumes.growDisk(this.e, node, instance, disk, size);
    // a VM's disk is a file in the volume: it grows too (a container's volume has no size of its own)
    const c = this.e.conn(node);
    const info = await this.e.ownContainer(c, containerName(instance));
    if (info && isVmContainer(info)) await growVmDisk(this.e, c, info, instance, disk, size);
  }
  renameInstance(node: string, from: string, to: string): Promise<void> { return renameInstance(this.e, node, from, to); }

  checkHealth(node: string, instance: string, probe: HealthProbe, timeoutMs: number): Promise<HealthResult> {
    return checkHealth(this.e, node, instance, probe, timeoutMs);
  }

  liveMigrate(from: string, to: string, spec: InstanceSpec, generation: number, onProgress?: ProgressFn): Promise<LiveMigrateResult> {
    // a VM's state is QEMU's, not a container's: QEMU migrates it with its storage (vm/migrate.ts), never CRIU
    return spec.hypervisor === 'kvm' ? liveMigrateVm(this.e, from, to, spec, generation, onProgress) : liveMigrate(this.e, from, to, spec, generation, onProgress);
  }

  instanceLogs(node: string, instance: string, request: LogRequest, write: LogWriter): Promise<void> {
    return sessions.instanceLogs(this.e, node, instance, request, write);
  }
  openConsole(node: string, instance: string, ends: ConsoleEnds): Promise<number> { return sessions.openConsole(this.e, node, instance, ends); }

  exportDisks(node: string, instance: string, sink: (disk: number) => NodeJS.WritableStream): Promise<DiskExport> {
    return backups.exportDisks(this.e, node, instance, sink);
  }
  seedDisk(node: string, instance: string, disk: number, data: NodeJS.ReadableStream): Promise<void> { return backups.seedDisk(this.e, node, instance, disk, data); }

  async close(): Promise<void> {
    await closeAll(this.e);
    this.e.forget();
  }
}

export function createDockerDriver(opts: DockerDriverOptions): Driver {
  return new DockerDriver(opts);
}
