/**
 * Disks and role markers. A disk is a named volume `drover-<instance>-d<i>`; since volume labels cannot
 * change, this node's role (primary/replica) and generation for the instance live on an empty marker
 * volume `drover-<instance>-meta`, replaced when they change (createDisks, promoteDisks).
 */
import type Docker from 'dockerode';
import { DriverError } from '../driver.ts';
import type { DiskSpec } from '../../model/desired.ts';
import { labelsOf, type VolumeInfo } from './api.ts';
import type { Conn, Engine } from './engine.ts';
import { removeHelper } from './helpers.ts';
import { LABEL, markerName, volumeName } from './names.ts';

type Role = 'primary' | 'replica';

/**
 * Make the volume `name` exist with these labels: kept when it is already ours (labels are not compared:
 * a disk keeps its contents), an error when it is someone else's. Returns whether it was created.
 */
export async function ensureVolume(e: Engine, c: Conn, name: string, labels: Record<string, string>): Promise<boolean> {
  const have = await e.inspectVolume(c, name);
  if (have) {
    if (!e.ours(labelsOf(have))) throw e.foreign(c, 'volume', name);
    return false;
  }
  await e.call(c, `create volume ${name}`, (signal) => c.docker.createVolume({
    Name: name, Labels: { ...labels, [LABEL.cluster]: e.cluster }, abortSignal: signal,
  } as Docker.VolumeCreateOptions));
  return true;
}

async function setMarker(e: Engine, c: Conn, instance: string, role: Role, generation: number): Promise<void> {
  const name = markerName(instance);
  const have = await e.inspectVolume(c, name);
  if (have && e.ours(labelsOf(have))) {
    const l = labelsOf(have);
    if (l[LABEL.role] === role && Number(l[LABEL.generation]) === generation) return;
    await e.maybe(c, `remove volume ${name}`, (signal) => c.docker.getVolume(name).remove({ abortSignal: signal }));
  }
  await ensureVolume(e, c, name, { [LABEL.instance]: instance, [LABEL.meta]: '1', [LABEL.role]: role, [LABEL.generation]: String(generation) });
}

export async function createDisks(e: Engine, node: string, instance: string, disks: readonly DiskSpec[], role: Role, generation: number): Promise<void> {
  const c = e.conn(node);
  for (let i = 0; i < disks.length; i++) {
    await ensureVolume(e, c, volumeName(instance, i), {
      [LABEL.instance]: instance, [LABEL.role]: role, [LABEL.generation]: String(generation),
      [LABEL.disk]: String(i), [LABEL.size]: String(disks[i]!.size),
    });
  }
  await setMarker(e, c, instance, role, generation);
}

export async function promoteDisks(e: Engine, node: string, instance: string, generation: number): Promise<void> {
  const c = e.conn(node);
  if ((await diskVolumes(e, c, instance)).length === 0) {
    throw new DriverError(`node ${node}: instance ${instance} has no disks here to promote`, false, node);
  }
  await setMarker(e, c, instance, 'primary', generation);
}

async function instanceVolumes(e: Engine, c: Conn, instance: string): Promise<VolumeInfo[]> {
  const res = await e.call(c, `list volumes of ${instance}`, (signal) => c.docker.listVolumes({
    filters: { label: [`${LABEL.cluster}=${e.cluster}`, `${LABEL.instance}=${instance}`] }, abortSignal: signal,
  }));
  return ((res.Volumes ?? []) as VolumeInfo[]).filter((v) => e.ours(labelsOf(v)));
}

/** The instance's disk volumes on a node (not its marker), by disk index, with their labels. */
export async function diskVolumes(e: Engine, c: Conn, instance: string): Promise<{ index: number; labels: Record<string, string> }[]> {
  return (await instanceVolumes(e, c, instance))
    .map((v) => ({ labels: labelsOf(v), index: Number(labelsOf(v)[LABEL.disk]) }))
    .filter((d) => d.labels[LABEL.disk] !== undefined && Number.isInteger(d.index))
    .sort((a, b) => a.index - b.index);
}

export async function removeDisks(e: Engine, node: string, instance: string): Promise<void> {
  const c = e.conn(node);
  // helpers of this instance (the kept sync helper, leftovers of an interrupted migration) would hold the volumes
  const helpers = await e.call(c, `list helpers of ${instance}`, (signal) => c.docker.listContainers({
    all: true, filters: { label: [`${LABEL.cluster}=${e.cluster}`, `${LABEL.instance}=${instance}`, LABEL.helper] }, abortSignal: signal,
  }));
  for (const h of helpers) await removeHelper(e, c, c.docker.getContainer(h.Id));
  for (const v of await instanceVolumes(e, c, instance)) {
    try {
      await e.maybe(c, `remove volume ${v.Name}`, (signal) => c.docker.getVolume(v.Name).remove({ abortSignal: signal }));
    } catch (err) {
      if (!(err instanceof DriverError && err.status === 409)) throw err;
      throw new DriverError(`node ${node}: cannot remove volume ${v.Name} of ${instance}: it is in use (remove the instance's container first): ${err.message}`, false, node);
    }
  }
}
