/**
 * A VM instance on a Docker engine: QEMU in the container `drover-<instance>` of Drover's QEMU image, each
 * disk a raw file `disk.img` in the instance's disk volume (the same labelled volumes as a container's, so
 * disk sync, moves and removal work unchanged), and a run volume for the sockets, the console log and the
 * boot files. The container runs without privileges or added capabilities (read-only root, all capabilities
 * dropped, no-new-privileges), with /dev/kvm only on nodes that have hardware KVM (accel.ts), on the host's
 * network so that migration and NBD streams can reach the node's address (see vm/index.ts).
 */
import type Docker from 'dockerode';
import { DriverError } from '../../driver.ts';
import type { InstanceSpec } from '../../../model/operations.ts';
import { specHash, specMatches } from '../../../model/hash.ts';
import { VM_PATHS, diskNode, vmArgv, type VmArgvOptions } from '../../qemu/argv.ts';
import { demuxLogs, labelsOf, loose, type ContainerInfo } from '../api.ts';
import type { Conn, Engine } from '../engine.ts';
import { createHelper, removeHelper, runHelper } from '../helpers.ts';
import { LABEL, containerName, runVolumeName, volumeName } from '../names.ts';
import { createDisks, ensureVolume } from '../volumes.ts';
import { FINISH_FAILED, finishIncrement, finishIncrementScript } from './increment.ts';
import { nodeAccel, type Accel } from './accel.ts';
import { openQmp } from './monitor.ts';
import { QEMU_BINARY, ensureQemuImage } from './qemu-image.ts';
import { tarOfFiles } from './streams.ts';

/** QEMU's own memory beside the guest's (TCG cache 32 MiB, QEMU ~50 MiB, page cache of the disk files). */
export const CONTAINER_OVERHEAD = 256 * 2 ** 20;
/** How long a guest gets to power off after an ACPI powerdown before QEMU is told to quit. */
export const POWERDOWN_TIMEOUT_MS = 60_000;

export const isVmContainer = (info: ContainerInfo): boolean => labelsOf(info)[LABEL.vm] === '1';

/** The argv of this spec, as the container and a migration's destination get it. */
export function argvOf(spec: InstanceSpec, opts: VmArgvOptions): string[] {
  return vmArgv({
    name: spec.name, memory: spec.memory, vcpus: spec.vcpus, disks: spec.disks.length,
    ...(spec.machine !== undefined && { machine: spec.machine }),
    ...(spec.boot && { boot: { initrd: spec.boot.initrd !== undefined, ...(spec.boot.cmdline !== undefined && { cmdline: spec.boot.cmdline }) } }),
  }, opts);
}

/** The volumes of the VM: each disk at VM_PATHS.disk(i), the run volume at VM_PATHS.run. */
const mountsOf = (spec: InstanceSpec): { Type: 'volume'; Source: string; Target: string }[] => [
  { Type: 'volume', Source: runVolumeName(spec.name), Target: VM_PATHS.run },
  ...spec.disks.map((_, i) => ({ Type: 'volume' as const, Source: volumeName(spec.name, i), Target: VM_PATHS.disk(i) })),
];

/** The preparation script's exit status when disk 0 must be made from the spec's image and no whole seed is there yet. */
const NEEDS_SEED = 43;
const seedOf = (i: number): string => `${VM_PATHS.disk(i)}/seed.img`;
/** Uploaded after the seed in the same archive: a seed without it was cut short. */
const seedDoneOf = (i: number): string => `${VM_PATHS.disk(i)}/seed.done`;

/**
 * The shell script of the preparation container: with `takeOver`, a replica's last increment finished first;
 * each disk file that is not there yet is made aside and renamed when whole (so a crash never leaves a half
 * disk): disk 0 from the uploaded seed image when the spec has one (any format qemu-img reads, converted to
 * raw, grown to the declared size: without a whole seed the script exits NEEDS_SEED, the master uploads it
 * and starts the script again), else empty (sparse).
 */
function prepareScript(spec: InstanceSpec, takeOver: boolean): string {
  const lines = ['set -e', ...(takeOver && spec.disks.length > 0 ? [finishIncrementScript(spec.disks.length)] : [])];
  spec.disks.forEach((d, i) => {
    const [file, seed, done] = [VM_PATHS.diskFile(i), seedOf(i), seedDoneOf(i)];
    const make = i === 0 && spec.image !== ''
      ? [`  [ -e ${done} ] || { rm -f ${seed}; exit ${NEEDS_SEED}; }`, `  qemu-img convert -O raw ${seed} ${file}.part`]
      : [`  truncate -s ${d.size} ${file}.part`];
    lines.push(`if [ ! -e ${file} ]; then`, ...make,
      `  [ $(stat -c %s ${file}.part) -ge ${d.size} ] || truncate -s ${d.size} ${file}.part`,
      `  mv ${file}.part ${file}`, 'fi', `rm -f ${seed} ${done}`);
  });
  lines.push('sync');
  return lines.join('\n');
}

/**
 * Make the VM's files exist on the node: boot files (always refreshed) into a helper of the QEMU image, then
 * its script (prepareScript), which looks at the disks itself: a failover onto a whole replica runs one
 * short helper. The seed image goes in only when the script asks for it.
 */
async function prepare(e: Engine, c: Conn, spec: InstanceSpec, image: string, takeOver: boolean): Promise<void> {
  const h = await createHelper(e, c, spec.name, 'vmprep', {
    image: { name: image, entrypoint: ['/bin/sh', '-c'] }, cmd: [prepareScript(spec, takeOver)],
    mounts: mountsOf(spec).map((m) => ({ source: m.Source, target: m.Target })),
  });
  const upload = async (path: string, files: Record<string, string | Buffer>): Promise<void> => {
    await e.call(c, `upload ${Object.keys(files).join(', ')}`, (signal) =>
      h.putArchive(tarOfFiles(files), { path, abortSignal: signal }), Math.max(e.timeout, 600_000));
  };
  const run = async (): Promise<number> => {
    await e.call(c, 'prepare VM files', (signal) => h.start({ abortSignal: signal }), e.startTimeout);
    return (await e.call(c, 'prepare VM files: wait', (signal) => loose<{ StatusCode: number }>(h, 'wait', { abortSignal: signal }), 600_000)).StatusCode;
  };
  try {
    if (spec.boot) await upload(VM_PATHS.run, { 'boot/kernel': spec.boot.kernel, ...(spec.boot.initrd && { 'boot/initrd': spec.boot.initrd }) });
    let status = await run();
    if (status === NEEDS_SEED) {
      await upload(VM_PATHS.disk(0), { 'seed.img': spec.image, 'seed.done': Buffer.alloc(0) });
      status = await run();
    }
    if (status !== 0) {
      const logs = await e.call(c, 'prepare VM files: output', (signal) => loose<Buffer>(h, 'logs', { stdout: true, stderr: true, abortSignal: signal }));
      const err = demuxLogs(Buffer.isBuffer(logs) ? logs : Buffer.from(String(logs))).stderr.trim().slice(-400);
      if (takeOver && status === FINISH_FAILED) throw new DriverError(`VM ${spec.name}: finishing the replica's last increment on ${c.name} failed: ${err}`, true, c.name);
      throw new DriverError(`node ${c.name}: preparing the disks of VM ${spec.name} failed (exit ${status}): ${err}`, false, c.name);
    }
  } finally {
    await removeHelper(e, c, h);
  }
}

const isWanted = (e: Engine, info: ContainerInfo | undefined, spec: InstanceSpec, generation: number): boolean => {
  const l = info ? labelsOf(info) : {};
  return info !== undefined && e.ours(l) && l[LABEL.vm] === '1' && specMatches(l[LABEL.spec] ?? '', spec) && Number(l[LABEL.generation]) === generation;
};

export interface VmContainerOptions {
  /** A migration's destination: QEMU waits for `migrate-incoming` and stays paused until `cont`. */
  readonly incoming?: boolean;
  /** The container's name (default `drover-<instance>`; a migration's destination may use another while both exist). */
  readonly name?: string;
  /**
   * Made on a node whose replica server was just stopped (failover, cold move, a new primary): a replica's
   * increment cut short is finished or dropped before the guest may boot from the disk (increment.ts).
   */
  readonly takeOver?: boolean;
}

/**
 * Create the VM's container (stopped): its volumes and files first, then the container with the argv of
 * its spec. An existing one with the same spec hash and generation is kept. Returns the accelerator.
 */
export async function createVm(e: Engine, node: string, spec: InstanceSpec, generation: number, opts: VmContainerOptions = {}): Promise<Accel> {
  const c = e.conn(node);
  const name = opts.name ?? containerName(spec.name);
  const have = await e.ownContainer(c, name);
  // a migration's destination is kept while it runs the migrated guest; stopped, its argv would wait for a migration again
  const migrated = have !== undefined && labelsOf(have)[LABEL.vmIncoming] === '1';
  if (isWanted(e, have, spec, generation) && !opts.incoming && (!migrated || have!.State.Running)) {
    // kept as made (its preparation finished the replica then); looked at again, never under a running guest
    if (opts.takeOver && !have!.State.Running) await finishIncrement(e, c, spec.name, node);
    return labelsOf(have!)[LABEL.accel] === 'kvm' ? 'kvm' : 'tcg';
  }
  if (have) await removeVmContainer(e, c, have);
  const accelOf = nodeAccel(e, c); // a helper of its own (once per node): asked while the files are made
  accelOf.catch(() => { /* awaited below */ });
  const image = await ensureQemuImage(e, c);
  for (let i = 0; i < spec.disks.length; i++) {
    const v = await e.inspectVolume(c, volumeName(spec.name, i));
    if (v && !e.ours(labelsOf(v))) throw e.foreign(c, 'volume', volumeName(spec.name, i));
    if (!v) { await createDisks(e, node, spec.name, spec.disks, 'primary', generation); break; }
  }
  await ensureVolume(e, c, runVolumeName(spec.name), { [LABEL.instance]: spec.name, [LABEL.vm]: '1' });
  await prepare(e, c, spec, image, opts.takeOver === true);
  const accel = await accelOf;
  const body = {
    name,
    Image: image,
    Entrypoint: [QEMU_BINARY],
    Cmd: argvOf(spec, { accel, ...(opts.incoming && { incoming: true }) }),
    Labels: {
      [LABEL.cluster]: e.cluster, [LABEL.instance]: spec.name, [LABEL.role]: 'primary',
      [LABEL.generation]: String(generation), [LABEL.spec]: specHash(spec), [LABEL.vm]: '1', [LABEL.accel]: accel,
      [LABEL.vmMemory]: String(spec.memory), [LABEL.vmVcpus]: String(spec.vcpus),
      ...(opts.incoming && { [LABEL.vmIncoming]: '1' }),
    },
    HostConfig: {
      NetworkMode: 'host',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Memory: spec.memory + CONTAINER_OVERHEAD,
      // a vCPU thread each, plus QEMU's main loop and I/O threads
      NanoCpus: Math.round((Math.ceil(spec.vcpus) + 0.5) * 1e9),
      PidsLimit: 256,
      RestartPolicy: { Name: 'no' },
      Mounts: mountsOf(spec),
      ...(accel === 'kvm' && { Devices: [{ PathOnHost: '/dev/kvm', PathInContainer: '/dev/kvm', CgroupPermissions: 'rwm' }] }),
    },
  };
  await e.call(c, `create VM container ${name}`, (signal) => c.docker.createContainer({ ...body, abortSignal: signal } as Docker.ContainerCreateOptions));
  return accel;
}

/** Start the VM's container and wait until QEMU says the guest runs (a destination: until its monitor answers). */
export async function startVm(e: Engine, c: Conn, info: ContainerInfo, timeoutMs = 60_000): Promise<void> {
  if (!info.State.Running && labelsOf(info)[LABEL.vmIncoming] === '1') info = await withoutIncoming(e, c, info);
  if (!info.State.Running) {
    await e.call(c, `start VM container ${info.Id.slice(0, 12)}`, (signal) => c.docker.getContainer(info.Id).start({ abortSignal: signal }), e.startTimeout)
      .catch((err: unknown) => { if (!(err instanceof DriverError && err.status === 304)) throw err; });
  }
  let qmp;
  try {
    qmp = await openQmp(e, c, info.Id, timeoutMs);
  } catch (err) {
    const now = await e.inspectContainer(c, info.Id);
    if (now && !now.State.Running) {
      const logs = await e.maybe(c, 'QEMU output', (signal) => loose<Buffer>(c.docker.getContainer(info.Id), 'logs', { stdout: true, stderr: true, tail: 5, abortSignal: signal }));
      const out = logs ? demuxLogs(Buffer.isBuffer(logs) ? logs : Buffer.from(String(logs))) : undefined;
      throw new DriverError(`node ${c.name}: QEMU exited at start: ${`${out?.stderr ?? ''}${out?.stdout ?? ''}`.trim() || 'no output'}`, false, c.name);
    }
    throw err;
  }
  const st = await qmp.execute<{ status: string }>('query-status');
  if (st.status !== 'running' && st.status !== 'inmigrate' && st.status !== 'prelaunch') {
    throw new DriverError(`node ${c.name}: VM ${labelsOf(info)[LABEL.instance]} is ${st.status} after its start`, true, c.name);
  }
}

/**
 * A stopped container that was a migration's destination, made again as a plain one (same image, labels,
 * mounts and limits; argv without `-incoming defer -S`), so that starting it boots the guest.
 */
async function withoutIncoming(e: Engine, c: Conn, info: ContainerInfo): Promise<ContainerInfo> {
  const full = await e.call(c, 'inspect VM container', (signal) => loose<Docker.ContainerInspectInfo>(c.docker.getContainer(info.Id), 'inspect', { abortSignal: signal }));
  const cmd = [...(full.Config.Cmd ?? [])];
  const at = cmd.indexOf('-incoming');
  if (at >= 0) cmd.splice(at, cmd[at + 2] === '-S' ? 3 : 2);
  const { [LABEL.vmIncoming]: _incoming, ...labels } = full.Config.Labels ?? {};
  const name = full.Name.replace(/^\//, '');
  await e.maybe(c, `remove VM container ${name}`, (signal) => c.docker.getContainer(info.Id).remove({ force: true, v: false, abortSignal: signal }), e.stopCallMs);
  await e.call(c, `create VM container ${name}`, (signal) => c.docker.createContainer({
    name, Image: full.Config.Image, Entrypoint: full.Config.Entrypoint, Cmd: cmd, Labels: labels, HostConfig: full.HostConfig, abortSignal: signal,
  } as Docker.ContainerCreateOptions));
  const made = await e.inspectContainer(c, name);
  if (!made) throw new DriverError(`node ${c.name}: VM container ${name} vanished after it was made again`, true, c.name);
  return made;
}

/** Wait for the container to exit; true when it did within timeoutMs. */
async function exited(e: Engine, c: Conn, id: string, timeoutMs: number): Promise<boolean> {
  try {
    await e.call(c, 'wait for QEMU to exit', (signal) => loose(c.docker.getContainer(id), 'wait', { condition: 'not-running', abortSignal: signal }), timeoutMs);
    return true;
  } catch (err) {
    if (err instanceof DriverError && err.status === 404) return true;
    return false;
  }
}

/**
 * Graceful stop: ACPI powerdown (the guest shuts down and QEMU exits), then after `timeoutMs` QMP `quit`,
 * then the engine's kill. Returns how it ended: `powerdown` means the guest powered off cleanly.
 */
export async function stopVm(e: Engine, c: Conn, info: ContainerInfo, timeoutMs = POWERDOWN_TIMEOUT_MS): Promise<'powerdown' | 'quit' | 'kill' | 'stopped'> {
  if (!info.State.Running) return 'stopped';
  const qmp = await openQmp(e, c, info.Id, 10_000).catch(() => undefined);
  if (qmp) {
    await qmp.execute('system_powerdown').catch(() => {});
    if (await exited(e, c, info.Id, timeoutMs)) return 'powerdown';
    await qmp.execute('quit').catch(() => {});
    if (await exited(e, c, info.Id, 10_000)) return 'quit';
  }
  await e.maybe(c, 'kill QEMU', (signal) => c.docker.getContainer(info.Id).kill({ abortSignal: signal })).catch(() => {});
  await exited(e, c, info.Id, 10_000);
  return 'kill';
}

/** Remove the VM's container: QEMU told to quit at once (the guest is being removed, not stopped). */
export async function removeVmContainer(e: Engine, c: Conn, info: ContainerInfo): Promise<void> {
  if (info.State.Running) {
    const qmp = await openQmp(e, c, info.Id, 5_000).catch(() => undefined);
    await qmp?.execute('quit').catch(() => {});
    if (qmp) await exited(e, c, info.Id, 5_000);
  }
  await e.maybe(c, `remove VM container ${info.Id.slice(0, 12)}`, (signal) =>
    c.docker.getContainer(info.Id).remove({ force: true, v: false, abortSignal: signal }), e.stopCallMs);
}

/**
 * Grow disk `disk` of a VM to `size` bytes (after volumes.growDisk recorded it): a running guest's block
 * device is resized live (QMP block_resize: the guest sees the new size at once), a stopped VM's file is
 * extended (sparse). A file already that large is left alone.
 */
export async function growVmDisk(e: Engine, c: Conn, info: ContainerInfo, instance: string, disk: number, size: number): Promise<void> {
  if (info.State.Running) {
    const qmp = await openQmp(e, c, info.Id);
    const have = await qmp.execute<{ inserted?: { 'node-name'?: string; image?: { 'virtual-size'?: number } } }[]>('query-block');
    const now = have.find((b) => b.inserted?.['node-name'] === diskNode(disk))?.inserted?.image?.['virtual-size'] ?? 0;
    if (now < size) await qmp.execute('block_resize', { 'node-name': diskNode(disk), size });
    return;
  }
  const file = VM_PATHS.diskFile(disk);
  const r = await runHelper(e, c, instance, 'grow', ['sh', '-c', `[ $(stat -c %s ${file}) -ge ${size} ] || truncate -s ${size} ${file}`],
    [{ source: volumeName(instance, disk), target: VM_PATHS.disk(disk) }]);
  if (r.exitCode !== 0) throw new DriverError(`node ${c.name}: growing disk ${disk} of VM ${instance} failed (exit ${r.exitCode}): ${r.stderr.trim()}`, false, c.name);
}
