/**
 * Renaming an instance on one engine. Docker bakes the name into the container's name and labels and
 * into the volumes' names and labels, and a volume's labels cannot change: so the disks are copied,
 * on the node itself, into volumes under the new name, and the container is made anew from the old
 * one's own configuration (what was applied, not what the manifest says now), mounting them.
 *
 * Each part is idempotent and the order is crash-safe: everything under the new name exists, complete,
 * before anything under the old name goes; a re-run copies what is still under the old name again and
 * skips what is gone (it went only after its copy was done). The instance is stopped while its disks
 * are copied (apply/ starts it again): the downtime is one local copy of its disks.
 */
import type Docker from 'dockerode';
import { DriverError } from '../driver.ts';
import { labelsOf, type ContainerInfo } from './api.ts';
import { removeInstance, stopInstance } from './containers.ts';
import type { Conn, Engine } from './engine.ts';
import { runHelper } from './helpers.ts';
import { LABEL, containerName, markerName, runVolumeName, volumeName } from './names.ts';
import { diskVolumes, ensureVolume, removeDisks } from './volumes.ts';

export async function renameInstance(e: Engine, node: string, from: string, to: string): Promise<void> {
  const c = e.conn(node);
  const old = await e.ownContainer(c, containerName(from));
  if (old) await stopInstance(e, node, from); // nothing may write while its disks are copied
  await copyDisks(e, c, from, to);
  if (old && !(await e.ownContainer(c, containerName(to)))) await recreateAs(e, c, old, from, to);
  await removeInstance(e, node, from);
  await removeDisks(e, node, from);
}

/** Each disk still under the old name into a volume under the new one (same labels but the name), then the marker. */
async function copyDisks(e: Engine, c: Conn, from: string, to: string): Promise<void> {
  for (const d of await diskVolumes(e, c, from)) {
    const target = volumeName(to, d.index);
    await ensureVolume(e, c, target, { ...withoutCluster(d.labels), [LABEL.instance]: to });
    const r = await runHelper(e, c, to, 'rename', ['cp', '-a', '/o/.', '/n/'],
      [{ source: volumeName(from, d.index), target: '/o', readOnly: true }, { source: target, target: '/n' }]);
    if (r.exitCode !== 0) throw new DriverError(`node ${c.name}: copying disk ${d.index} of ${from} to ${target} failed (exit ${r.exitCode}): ${r.stderr.trim()}`, false, c.name);
  }
  await copyRunVolume(e, c, from, to);
  const marker = await e.inspectVolume(c, markerName(from));
  if (marker && e.ours(labelsOf(marker))) await ensureVolume(e, c, markerName(to), { ...withoutCluster(labelsOf(marker)), [LABEL.instance]: to });
}

/** A VM's run volume: its boot files and console log (not QEMU's sockets: the new QEMU makes its own). */
async function copyRunVolume(e: Engine, c: Conn, from: string, to: string): Promise<void> {
  const run = await e.inspectVolume(c, runVolumeName(from));
  if (!run || !e.ours(labelsOf(run))) return;
  await ensureVolume(e, c, runVolumeName(to), { ...withoutCluster(labelsOf(run)), [LABEL.instance]: to });
  const r = await runHelper(e, c, to, 'rename', ['sh', '-c', 'for f in boot console.log; do [ ! -e /o/$f ] || cp -a /o/$f /n/; done'],
    [{ source: runVolumeName(from), target: '/o', readOnly: true }, { source: runVolumeName(to), target: '/n' }]);
  if (r.exitCode !== 0) throw new DriverError(`node ${c.name}: copying the run volume of VM ${from} failed (exit ${r.exitCode}): ${r.stderr.trim()}`, false, c.name);
}

/** The old container's own configuration, under the new name, mounting the new volumes. */
async function recreateAs(e: Engine, c: Conn, old: ContainerInfo, from: string, to: string): Promise<void> {
  const full = old as ContainerInfo & { Config: Docker.ContainerInspectInfo['Config']; HostConfig: Docker.HostConfig };
  const { Hostname: _h, Labels, ...config } = full.Config;
  const rename = (source: string | undefined): string | undefined =>
    source?.startsWith(`${containerName(from)}-d`) || source === runVolumeName(from) ? `${containerName(to)}${source.slice(containerName(from).length)}` : source;
  const body = {
    ...config, name: containerName(to), Hostname: to.slice(0, 63),
    Labels: { ...(Labels ?? {}), [LABEL.instance]: to },
    HostConfig: { ...full.HostConfig, Mounts: (full.HostConfig.Mounts ?? []).map((m) => ({ ...m, Source: rename(m.Source) })) },
  };
  await e.call(c, `create container ${containerName(to)}`, (signal) => c.docker.createContainer({ ...body, abortSignal: signal } as Docker.ContainerCreateOptions));
}

const withoutCluster = (l: Record<string, string>): Record<string, string> => {
  const { [LABEL.cluster]: _, ...rest } = l;
  return rest;
};
