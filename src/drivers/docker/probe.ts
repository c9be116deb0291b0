/**
 * One look at a node: capacity (the engine's memory and CPUs, the data root's size measured once in a
 * while by a `df` helper, each overridable in the Node manifest), Drover's containers and disks (roles from
 * the marker volumes), and whether it can checkpoint as far as the cached CRIU probe knows.
 */
import type Docker from 'dockerode';
import { DriverError, type NodeProbe } from '../driver.ts';
import type { NodeCapacity } from '../../model/desired.ts';
import type { ObservedContainer, ObservedVolume } from '../../model/observed.ts';
import type { VolumeInfo } from './api.ts';
import { knownCheckpoint } from './criu.ts';
import type { Conn, Engine } from './engine.ts';
import { runHelper } from './helpers.ts';
import { BUILTIN_HELPER_IMAGE } from './helper-image.ts';
import { ensureImage } from './images.ts';
import { LABEL } from './names.ts';

const DISK_CACHE_MS = 10 * 60_000;

type Labels = Readonly<Record<string, string>>;
const roleOf = (l: Labels): 'primary' | 'replica' => (l[LABEL.role] === 'primary' ? 'primary' : 'replica');

/** Drover's instance containers among a node's containers of this cluster (helpers are not instances). */
export function observeContainers(cluster: string, containers: readonly { Labels?: Labels | null; State: string }[]): ObservedContainer[] {
  const out: ObservedContainer[] = [];
  for (const ct of containers) {
    const l = ct.Labels ?? {};
    if (l[LABEL.cluster] !== cluster || l[LABEL.helper] !== undefined || !l[LABEL.instance]) continue;
    out.push({
      instance: l[LABEL.instance]!,
      state: ct.State === 'running' || ct.State === 'restarting' || ct.State === 'paused' ? 'running' : 'stopped',
      specHash: l[LABEL.spec] ?? '',
      generation: Number(l[LABEL.generation] ?? 0),
    });
  }
  return out;
}

/** The disks among a node's volumes, each with its instance's marker role and generation (else its own labels). */
export function observeVolumes(cluster: string, volumes: readonly { Labels?: Labels | null }[]): ObservedVolume[] {
  const ours = volumes.map((v) => v.Labels ?? {}).filter((l) => l[LABEL.cluster] === cluster && l[LABEL.instance]);
  const markers = new Map<string, { role: 'primary' | 'replica'; generation: number }>();
  for (const l of ours) {
    if (l[LABEL.meta] !== undefined) markers.set(l[LABEL.instance]!, { role: roleOf(l), generation: Number(l[LABEL.generation] ?? 0) });
  }
  const out: ObservedVolume[] = [];
  for (const l of ours) {
    if (l[LABEL.meta] !== undefined || l[LABEL.disk] === undefined) continue;
    const m = markers.get(l[LABEL.instance]!);
    out.push({
      instance: l[LABEL.instance]!,
      disk: Number(l[LABEL.disk]),
      role: m?.role ?? roleOf(l),
      size: Number(l[LABEL.size] ?? 0),
      generation: m?.generation ?? Number(l[LABEL.generation] ?? 0),
    });
  }
  return out.sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : a.disk - b.disk));
}

/** The size of the node's data root (cached); 0 when no helper can run to measure it. */
async function diskCapacity(e: Engine, c: Conn): Promise<number> {
  const cached = e.diskCache.get(c.name);
  if (cached && Date.now() - cached.at < DISK_CACHE_MS) return cached.bytes;
  let bytes = 0;
  try {
    // the container's rootfs is an overlay on the data root's filesystem: its size is the data root's
    const r = await runHelper(e, c, `probe-${e.cluster}`, 'df', ['df', '-k', '/'], [], 30_000);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    const kb = Number(line.trim().split(/\s+/)[1]);
    if (r.exitCode === 0 && Number.isFinite(kb) && kb > 0) bytes = kb * 1024;
  } catch (err) {
    if (err instanceof DriverError && err.transient) throw err;
    bytes = 0; // no helper image anywhere: unknown (set capacity.disk in the Node manifest)
  }
  e.diskCache.set(c.name, { at: Date.now(), bytes });
  return bytes;
}

export async function probe(e: Engine, node: string): Promise<NodeProbe> {
  const c = e.conn(node);
  const filters = { label: [`${LABEL.cluster}=${e.cluster}`] };
  const [info, containers, volumes] = await Promise.all([
    e.info<{ MemTotal: number; NCPU: number }>(c),
    e.call(c, 'list containers', (signal) => c.docker.listContainers({ all: true, filters, abortSignal: signal })),
    e.call(c, 'list volumes', (signal) => c.docker.listVolumes({ filters, abortSignal: signal })),
  ]);
  if (e.helperImage === BUILTIN_HELPER_IMAGE && !e.helperChecked.has(node)) {
    // the first probe brings Drover's own helper image (helpers say what is missing when they are used)
    await ensureImage(e, c, e.helperImage).then(() => e.helperChecked.add(node), () => {});
  }
  const override = c.desired.capacity ?? {};
  const capacity: NodeCapacity = {
    memory: override.memory ?? info.MemTotal,
    vcpus: override.vcpus ?? info.NCPU,
    disk: override.disk ?? await diskCapacity(e, c),
  };
  const canCheckpoint = knownCheckpoint(e, node, containers);
  return {
    capacity,
    containers: observeContainers(e.cluster, containers as Docker.ContainerInfo[]),
    volumes: observeVolumes(e.cluster, (volumes.Volumes ?? []) as VolumeInfo[]),
    ...(canCheckpoint !== undefined ? { canCheckpoint } : {}),
  };
}
