/**
 * One look at a node: capacity (the engine's memory and CPUs, the data root's size from the node's facts,
 * each overridable in the Node manifest), its links (facts.ts), Drover's containers and disks (roles from
 * the marker volumes), and whether it can checkpoint as far as the cached CRIU probe knows.
 */
import type Docker from 'dockerode';
import { DriverError, type NodeProbe } from '../driver.ts';
import type { NodeCapacity } from '../../model/desired.ts';
import type { ObservedContainer, ObservedReplication, ObservedVolume } from '../../model/observed.ts';
import type { EndpointInfo, VolumeInfo } from './api.ts';
import { knownCheckpoint } from './criu.ts';
import type { Conn, Engine } from './engine.ts';
import { runHelper } from './helpers.ts';
import { BUILTIN_HELPER_IMAGE } from './helper-image.ts';
import { ensureImage } from './images.ts';
import { nodeFacts } from './facts.ts';
import { engineMaxNics, seenNics } from './networks.ts';
import { LABEL, grownLabel } from './names.ts';
import { observeReplication } from './vm/replica.ts';

type Labels = Readonly<Record<string, string>>;
const roleOf = (l: Labels): 'primary' | 'replica' => (l[LABEL.role] === 'primary' ? 'primary' : 'replica');

/** The limits a container runs with, as `docker inspect` shows them (HostConfig.Memory, NanoCpus). */
export interface ContainerLimits { readonly Memory?: number; readonly NanoCpus?: number }

/** A container as the engine lists it: labels, state, and its endpoints (address and MAC in use). */
export interface ListedContainer {
  readonly Id?: string;
  readonly Labels?: Labels | null;
  readonly State: string;
  readonly NetworkSettings?: { readonly Networks?: Readonly<Record<string, EndpointInfo>> | null };
}

const isInstance = (cluster: string, l: Labels): boolean => l[LABEL.cluster] === cluster && l[LABEL.helper] === undefined && !!l[LABEL.instance];

/**
 * Drover's instance containers among a node's containers of this cluster (helpers are not instances), with
 * their limits by container Id: read off the engine, not the labels, since `docker update` changes them.
 */
export function observeContainers(cluster: string, containers: readonly ListedContainer[], limits: ReadonlyMap<string, ContainerLimits> = new Map()): ObservedContainer[] {
  const backups = backingUp(cluster, containers);
  const out: ObservedContainer[] = [];
  for (const ct of containers) {
    const l = ct.Labels ?? {};
    if (!isInstance(cluster, l)) continue;
    // a VM's container limits add QEMU's overhead: the guest's own figures are on its labels
    const lim = l[LABEL.vm] === '1' ? { Memory: Number(l[LABEL.vmMemory]), NanoCpus: Number(l[LABEL.vmVcpus]) * 1e9 } : ct.Id ? limits.get(ct.Id) : undefined;
    const state = ct.State === 'running' || ct.State === 'restarting' || ct.State === 'paused' ? 'running' : 'stopped';
    const nics = seenNics(cluster, ct.NetworkSettings?.Networks, l[LABEL.nics]);
    out.push({
      instance: l[LABEL.instance]!,
      state,
      ...(ct.State === 'paused' && { paused: backups.has(l[LABEL.instance]!) ? 'backup' as const : 'left' as const }),
      specHash: l[LABEL.spec] ?? '',
      generation: Number(l[LABEL.generation] ?? 0),
      ...(lim?.Memory && { memory: lim.Memory }),
      ...(lim?.NanoCpus && { vcpus: lim.NanoCpus / 1e9 }),
      ...(l[LABEL.accel] === 'kvm' || l[LABEL.accel] === 'tcg' ? { accel: l[LABEL.accel] as 'kvm' | 'tcg' } : {}),
      // a stopped container has no endpoint (no address or MAC in use); one made without NICs shows none
      ...(state === 'running' && (nics.length > 0 || l[LABEL.nics] !== undefined) && { nics }),
    });
  }
  return out;
}

/**
 * The instances a backup holds now: its helper runs only while the backup's process holds the helper's
 * stdin (backup.ts), so a backup killed mid-freeze leaves a stopped helper, and its instance is `left`.
 */
function backingUp(cluster: string, containers: readonly ListedContainer[]): Set<string> {
  return new Set(containers.flatMap((ct) => {
    const l = ct.Labels ?? {};
    return l[LABEL.cluster] === cluster && l[LABEL.helper] === 'backup' && ct.State === 'running' && l[LABEL.instance] ? [l[LABEL.instance]] : [];
  }));
}

/** Each running VM's replication as its QEMU reports it, by instance (those whose monitor answers). */
async function vmReplication(e: Engine, c: Conn, containers: readonly Docker.ContainerInfo[]): Promise<Map<string, ObservedReplication>> {
  const vms = containers.filter((ct) => isInstance(e.cluster, ct.Labels ?? {}) && ct.Labels[LABEL.vm] === '1' && ct.State === 'running');
  const seen = await Promise.all(vms.map((ct) => observeReplication(e, c, ct.Id)));
  return new Map(vms.flatMap((ct, i) => (seen[i] ? [[ct.Labels[LABEL.instance]!, seen[i]!] as const] : [])));
}

/** The limits of the instance containers, by Id: listing containers does not show them. */
async function containerLimits(e: Engine, c: Conn, containers: readonly Docker.ContainerInfo[]): Promise<Map<string, ContainerLimits>> {
  const ours = containers.filter((ct) => isInstance(e.cluster, ct.Labels ?? {}));
  const seen = await Promise.all(ours.map((ct) => e.maybe(c, `inspect container ${ct.Id}`, (signal) =>
    c.docker.getContainer(ct.Id).inspect({ abortSignal: signal }) as Promise<{ HostConfig?: ContainerLimits }>)));
  return new Map(ours.map((ct, i) => [ct.Id, seen[i]?.HostConfig ?? {}]));
}

/** The disks among a node's volumes, each with its instance's marker role and generation (else its own labels). */
export function observeVolumes(cluster: string, volumes: readonly { Labels?: Labels | null }[]): ObservedVolume[] {
  const ours = volumes.map((v) => v.Labels ?? {}).filter((l) => l[LABEL.cluster] === cluster && l[LABEL.instance]);
  const markers = new Map<string, { role: 'primary' | 'replica'; generation: number; grown: Labels }>();
  for (const l of ours) {
    if (l[LABEL.meta] !== undefined) markers.set(l[LABEL.instance]!, { role: roleOf(l), generation: Number(l[LABEL.generation] ?? 0), grown: l });
  }
  const out: ObservedVolume[] = [];
  for (const l of ours) {
    if (l[LABEL.meta] !== undefined || l[LABEL.disk] === undefined) continue;
    const m = markers.get(l[LABEL.instance]!);
    const disk = Number(l[LABEL.disk]);
    out.push({
      instance: l[LABEL.instance]!,
      disk,
      role: m?.role ?? roleOf(l),
      size: Math.max(Number(l[LABEL.size] ?? 0), Number(m?.grown[grownLabel(disk)] ?? 0)),
      generation: m?.generation ?? Number(l[LABEL.generation] ?? 0),
    });
  }
  return out.sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : a.disk - b.disk));
}

/** `df -k` of the node's data root (size and available bytes); undefined when no helper can run to measure it. */
async function dataRoot(e: Engine, c: Conn): Promise<{ size: number; free: number } | undefined> {
  try {
    // the container's rootfs is an overlay on the data root's filesystem: its size is the data root's
    const r = await runHelper(e, c, `probe-${e.cluster}`, 'df', ['df', '-k', '/'], [], 30_000);
    const [size, , free] = (r.stdout.trim().split('\n').pop() ?? '').trim().split(/\s+/).slice(1).map(Number);
    return r.exitCode === 0 && size! > 0 && Number.isFinite(free) ? { size: size! * 1024, free: free! * 1024 } : undefined;
  } catch (err) {
    if (err instanceof DriverError && err.transient) throw err;
    return undefined; // no helper image anywhere: unknown (set capacity.disk in the Node manifest)
  }
}

/** Bytes free on the node's data root now (not cached: a disk grow checks it); undefined when unknown. */
export async function freeDisk(e: Engine, c: Conn): Promise<number | undefined> {
  return (await dataRoot(e, c))?.free;
}

export async function probe(e: Engine, node: string): Promise<NodeProbe> {
  const c = e.conn(node);
  const filters = { label: [`${LABEL.cluster}=${e.cluster}`] };
  const [[info, maxNics], containers, volumes] = await Promise.all([
    e.info<{ MemTotal: number; NCPU: number; ServerVersion?: string }>(c).then(async (i) => [i, await engineMaxNics(e, c, i.ServerVersion)] as const),
    e.call(c, 'list containers', (signal) => c.docker.listContainers({ all: true, filters, abortSignal: signal })),
    e.call(c, 'list volumes', (signal) => c.docker.listVolumes({ filters, abortSignal: signal })),
  ]);
  if (e.helperImage === BUILTIN_HELPER_IMAGE && !e.helperChecked.has(node)) {
    // the first probe brings Drover's own helper image (helpers say what is missing when they are used)
    await ensureImage(e, c, e.helperImage).then(() => e.helperChecked.add(node), () => {});
  }
  const facts = await nodeFacts(e, c, (volumes.Volumes ?? []) as VolumeInfo[], containers);
  const override = c.desired.capacity ?? {};
  const capacity: NodeCapacity = {
    memory: override.memory ?? info.MemTotal,
    vcpus: override.vcpus ?? info.NCPU,
    disk: override.disk ?? facts.diskBytes ?? 0,
  };
  const canCheckpoint = knownCheckpoint(e, node, containers);
  const replication = await vmReplication(e, c, containers);
  return {
    capacity,
    containers: observeContainers(e.cluster, containers, await containerLimits(e, c, containers))
      .map((x) => (replication.has(x.instance) && x.state === 'running' ? { ...x, replication: replication.get(x.instance)! } : x)),
    volumes: observeVolumes(e.cluster, (volumes.Volumes ?? []) as VolumeInfo[]),
    ...(canCheckpoint !== undefined ? { canCheckpoint } : {}),
    ...(facts.links && { links: facts.links }),
    ...(maxNics !== undefined && { maxNics }),
  };
}
