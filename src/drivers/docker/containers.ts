/**
 * Instance lifecycle: an instance is the container `drover-<instance>`, labelled with its spec hash and
 * generation, its disks mounted as the volumes of volumes.ts; create / start / stop / remove, each idempotent.
 */
import type Docker from 'dockerode';
import { DriverError, type Limits } from '../driver.ts';
import type { InstanceSpec } from '../../model/operations.ts';
import { specHash, specMatches } from '../../model/hash.ts';
import { labelsOf, loose, type ContainerInfo } from './api.ts';
import { alreadyDone, type Conn, type Engine } from './engine.ts';
import { ensureImage } from './images.ts';
import { LABEL, containerName, helperName, volumeName } from './names.ts';
import { connectRest, endpointsReleased, nicSettings, nicsConfigured, prepareNics } from './networks.ts';
import { createDisks } from './volumes.ts';
import { createVm, isVmContainer, removeVmContainer, startVm, stopVm } from './vm/lifecycle.ts';
import { stopReplicaServer } from './vm/replica.ts';

/**
 * Network settings: its NICs on their Docker networks (networks.ts); else none without ports; a bridge
 * with published ports; host networking on bridge-less engines.
 */
async function networkFor(e: Engine, c: Conn, spec: InstanceSpec): Promise<Record<string, unknown>> {
  const nics = spec.nics ?? [];
  if (nics.length > 0) {
    if (spec.ports.length > 0) {
      throw new DriverError(`node ${c.name}: instance ${spec.name} has NICs and ports: it is reached on its NICs' addresses, ` +
        'ports are published on a node bridge or the host network only (drop its ports)', false, c.name);
    }
    return nicSettings(nics, await prepareNics(e, c, spec.name, nics));
  }
  if (spec.ports.length === 0) return { NetworkMode: 'none' };
  const nets = await e.call(c, 'list networks', (signal) => loose<{ Name: string }[]>(c.docker, 'listNetworks', { filters: { name: ['bridge'] }, abortSignal: signal }));
  const key = (p: InstanceSpec['ports'][number]): string => `${p.container}/${p.protocol}`;
  if (nets.some((n) => n.Name === 'bridge')) {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of spec.ports) {
      exposed[key(p)] = {};
      bindings[key(p)] = [{ HostIp: c.address ?? '', HostPort: String(p.host ?? p.container) }];
    }
    return { NetworkMode: 'bridge', PortBindings: bindings, ExposedPorts: exposed };
  }
  // no bridge on this engine (the test bed runs --bridge=none): host networking, ports as the process opens them
  const bad = spec.ports.find((p) => p.host !== undefined && p.host !== p.container);
  if (bad) {
    throw new DriverError(`node ${c.name}: instance ${spec.name}: port ${bad.container} cannot be published as ${bad.host}: ` +
      `the engine has no bridge network, so the instance uses the host's network and its ports as they are`, false, c.name);
  }
  return { NetworkMode: 'host' };
}

/**
 * The container is ours, at this generation, with this spec (a hash of an older version is checked by its own
 * formula) and these NICs (their addresses and first MAC, as it was created with them).
 */
const isWanted = (e: Engine, info: ContainerInfo | undefined, spec: InstanceSpec, generation: number): boolean => {
  const l = info ? labelsOf(info) : {};
  return info !== undefined && e.ours(l) && specMatches(l[LABEL.spec] ?? '', spec) && Number(l[LABEL.generation]) === generation &&
    nicsConfigured(e.cluster, info, spec.nics ?? []);
};

export async function createInstance(e: Engine, node: string, spec: InstanceSpec, generation: number): Promise<void> {
  // a VM made on its former secondary (failover, cold move): the replica server holds the disk file's lock,
  // and an increment it was committing is finished (createVm's takeOver) before the guest may boot from it
  if (spec.hypervisor === 'kvm') { await stopReplicaServer(e, node, spec.name); await createVm(e, node, spec, generation, { takeOver: true }); return; }
  const c = e.conn(node);
  const name = containerName(spec.name);
  const hash = specHash(spec);
  const have = await e.ownContainer(c, name);
  if (isWanted(e, have, spec, generation)) return;
  if (have) await e.removeContainerByName(c, name);
  await ensureImage(e, c, spec.image);
  // the disks must be ours before the engine sees the mounts (it would create unlabelled volumes)
  for (let i = 0; i < spec.disks.length; i++) {
    const v = await e.inspectVolume(c, volumeName(spec.name, i));
    if (v && !e.ours(labelsOf(v))) throw e.foreign(c, 'volume', volumeName(spec.name, i));
    if (!v) { await createDisks(e, node, spec.name, spec.disks, 'primary', generation); break; }
  }
  const { ExposedPorts, MacAddress, NetworkingConfig, ...net } = await networkFor(e, c, spec);
  const body = {
    name,
    Image: spec.image,
    ...(spec.command ? { Cmd: [...spec.command] } : {}),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      [LABEL.cluster]: e.cluster, [LABEL.instance]: spec.name, [LABEL.role]: 'primary',
      [LABEL.generation]: String(generation), [LABEL.spec]: hash,
      ...(spec.nics?.length && { [LABEL.nics]: spec.nics.map((n) => n.network).join(',') }),
    },
    StopTimeout: e.stopTimeoutS,
    Hostname: spec.name.slice(0, 63),
    ...(ExposedPorts ? { ExposedPorts } : {}),
    ...(MacAddress ? { MacAddress, NetworkingConfig } : {}),
    HostConfig: {
      Memory: spec.memory,
      NanoCpus: Math.round(spec.vcpus * 1e9),
      RestartPolicy: { Name: 'no' },
      Mounts: spec.disks.map((d, i) => ({ Type: 'volume' as const, Source: volumeName(spec.name, i), Target: d.mount })),
      ...net,
    },
  };
  let id: string;
  try {
    id = (await e.call(c, `create container ${name}`, (signal) => c.docker.createContainer({ ...body, abortSignal: signal } as Docker.ContainerCreateOptions))).id;
  } catch (err) {
    // created concurrently (or a retry after a lost answer): keep it if it is the one we want
    if (err instanceof DriverError && err.status === 409 && isWanted(e, await e.inspectContainer(c, name), spec, generation)) return;
    throw err;
  }
  await connectRest(e, c, id, spec.nics ?? []);
}

export async function startInstance(e: Engine, node: string, instance: string): Promise<void> {
  const c = e.conn(node);
  const name = containerName(instance);
  const info = await e.ownContainer(c, name);
  if (!info) throw new DriverError(`node ${node}: instance ${instance} has no container (${name}) to start`, false, node);
  // left frozen (a backup killed mid-freeze): thawed, it runs as it was (the plan asks only when no backup holds it)
  if (info.State.Paused) {
    await e.call(c, `unpause container ${name}`, (signal) => c.docker.getContainer(info.Id).unpause({ abortSignal: signal }));
    return;
  }
  if (isVmContainer(info)) return startVm(e, c, info);
  if (info.State.Running) return;
  await alreadyDone(e.call(c, `start container ${name}`, (signal) => c.docker.getContainer(info.Id).start({ abortSignal: signal }), e.startTimeout));
}

/**
 * Change the limits of the container as it is (`docker update`), running or not. The swap limit moves
 * with the memory, as the engine set it at creation (twice the memory): a memory limit above the old
 * swap limit is refused otherwise.
 */
export async function updateInstance(e: Engine, node: string, instance: string, limits: Limits): Promise<void> {
  const c = e.conn(node);
  const name = containerName(instance);
  const info = await e.ownContainer(c, name);
  if (!info) throw new DriverError(`node ${node}: instance ${instance} has no container (${name}) to update`, false, node);
  const body = {
    ...(limits.memory !== undefined && { Memory: limits.memory, MemorySwap: limits.memory * 2 }),
    ...(limits.vcpus !== undefined && { NanoCpus: Math.round(limits.vcpus * 1e9) }),
  };
  await e.call(c, `update container ${name}`, (signal) => loose(c.docker.getContainer(info.Id), 'update', { ...body, abortSignal: signal }));
}

export async function stopInstance(e: Engine, node: string, instance: string): Promise<void> {
  const c = e.conn(node);
  const name = containerName(instance);
  const info = await e.ownContainer(c, name);
  if (!info) return; // nothing runs
  if (isVmContainer(info)) { await stopVm(e, c, info); return; }
  if (!info.State.Running && info.State.Status !== 'paused' && info.State.Status !== 'restarting') return;
  await alreadyDone(e.maybe(c, `stop container ${name}`, (signal) => c.docker.getContainer(info.Id).stop({ t: e.stopTimeoutS, abortSignal: signal }), e.stopCallMs));
  // a move starts the other copy next, with the same addresses: not before this one's are released
  await endpointsReleased(e, c, info.Id);
}

export async function removeInstance(e: Engine, node: string, instance: string): Promise<void> {
  const c = e.conn(node);
  // the kept sync helper goes with the instance (the next sync makes a new one)
  await e.removeContainerByName(c, helperName(instance, 'sync'));
  const name = containerName(instance);
  const info = await e.ownContainer(c, name);
  if (!info) return;
  if (isVmContainer(info)) return removeVmContainer(e, c, info);
  await stopInstance(e, node, instance);
  await e.maybe(c, `remove container ${name}`, (signal) => c.docker.getContainer(info.Id).remove({ force: true, v: false, abortSignal: signal }), e.stopCallMs);
}

/**
 * After an aborted checkpoint: the instance must run on `node` again, neither paused nor stopped.
 * Unpause it if the engine says paused, start it if it stopped, then check that it runs.
 */
export async function ensureRunning(e: Engine, node: string, instance: string): Promise<void> {
  const c = e.conn(node);
  const name = containerName(instance);
  const info = await e.ownContainer(c, name);
  if (info?.State.Paused) {
    await e.call(c, `unpause container ${name}`, (signal) => c.docker.getContainer(info.Id).unpause({ abortSignal: signal }))
      .catch(() => { /* checked below */ });
  }
  await startInstance(e, node, instance);
  const now = await e.ownContainer(c, name);
  if (!now?.State.Running || now.State.Paused) {
    throw new DriverError(`node ${node}: instance ${instance} is ${now ? now.State.Status : 'gone'} after an aborted checkpoint and could not be resumed`, true, node);
  }
}
