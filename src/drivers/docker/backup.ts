/**
 * Backups of an instance's disks, and seeding a new instance's disks from one (drover backup and
 * restore). Consistency of a running instance: its container is paused (the cgroup freezer: no
 * process runs, no write is half-done, connections stay open) only while a helper on the same node
 * copies its volumes into the helper's own layer (`cp -a`, local disk speed); it is thawed at once,
 * and the copy is streamed out afterwards. A stopped instance is copied as it is. A backup killed
 * during the freeze leaves the instance paused: the helper is a dead man's switch (`cat` of a stdin
 * only this process holds, so it ends when the process dies), the probe tells a paused container
 * whose backup helper still runs (`paused: backup`, left alone) from one left paused (`left`), and
 * the next apply thaws the latter; so does the next backup of it.
 */
import type Docker from 'dockerode';
import { DriverError, type DiskExport } from '../driver.ts';
import type { Conn, Engine } from './engine.ts';
import { createHelper, exec, execStream, removeHelper } from './helpers.ts';
import { containerName, helperName, volumeName } from './names.ts';
import { diskVolumes } from './volumes.ts';

export async function exportDisks(e: Engine, node: string, instance: string, sink: (disk: number) => NodeJS.WritableStream): Promise<DiskExport> {
  const c = e.conn(node);
  const disks = (await diskVolumes(e, c, instance)).map((d) => d.index);
  if (!disks.length) throw new DriverError(`node ${node}: ${instance} has no disks there`, false, node);
  const info = await e.ownContainer(c, containerName(instance));
  if (info?.State.Paused && (await e.ownContainer(c, helperName(instance, 'backup')))) {
    // a backup killed while it held the instance frozen left its helper behind: thaw it first
    await e.call(c, 'backup: unpause after an interrupted backup', (signal) => c.docker.getContainer(info.Id).unpause({ abortSignal: signal }));
  }
  const running = !!info?.State.Running;
  const h = await createHelper(e, c, instance, 'backup', {
    cmd: ['cat'], stdin: true, mounts: disks.map((i) => ({ source: volumeName(instance, i), target: `/src/d${i}`, readOnly: true })),
  });
  let hold: NodeJS.ReadWriteStream | undefined;
  try {
    hold = await e.call(c, 'attach to backup helper', () => h.attach({ stream: true, stdin: true, hijack: true }) as Promise<NodeJS.ReadWriteStream>);
    hold.on('error', () => { /* the helper is removed below */ });
    await e.call(c, 'start backup helper', (signal) => h.start({ abortSignal: signal }), e.startTimeout);
    let frozenMs = 0;
    if (running) frozenMs = await frozenCopy(e, c, info!.Id, h, disks);
    for (const i of disks) await streamOut(e, c, h, running ? `/snap/d${i}` : `/src/d${i}`, sink(i));
    return { disks, consistency: running ? 'frozen' : 'stopped', frozenMs };
  } finally {
    await removeHelper(e, c, h);
    (hold as { destroy?: () => void } | undefined)?.destroy?.();
  }
}

/** Pause, copy every volume into the helper's layer, thaw (always). Returns how long it was frozen. */
async function frozenCopy(e: Engine, c: Conn, id: string, h: Docker.Container, disks: readonly number[]): Promise<number> {
  const ct = c.docker.getContainer(id);
  const script = disks.map((i) => `mkdir -p /snap/d${i} && cp -a /src/d${i}/. /snap/d${i}/`).join(' && ');
  await e.call(c, 'backup: pause', (signal) => ct.pause({ abortSignal: signal }));
  const t0 = Date.now();
  try {
    const r = await exec(e, c, h, 'backup: copy while frozen', ['sh', '-c', script]);
    if (r.exitCode !== 0) throw new DriverError(`node ${c.name}: backup copy failed: ${r.stderr.trim()}`, false, c.name);
  } finally {
    await e.call(c, 'backup: unpause', (signal) => ct.unpause({ abortSignal: signal }));
  }
  return Date.now() - t0;
}

async function streamOut(e: Engine, c: Conn, h: Docker.Container, dir: string, out: NodeJS.WritableStream): Promise<void> {
  const x = await execStream(e, c, h, `backup: tar ${dir}`, ['tar', '-C', dir, '-cf', '-', '.']);
  const written = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  x.stdout.pipe(out);
  const r = await x.done;
  await written;
  if (r.exitCode !== 0) throw new DriverError(`node ${c.name}: backup tar of ${dir} failed: ${r.stderr.trim()}`, false, c.name);
}

/** Unpack a backup's tar into the volume (the archive API, through a helper that is never started). */
export async function seedDisk(e: Engine, node: string, instance: string, disk: number, data: NodeJS.ReadableStream): Promise<void> {
  const c = e.conn(node);
  const h = await createHelper(e, c, instance, 'seed', { mounts: [{ source: volumeName(instance, disk), target: '/d' }] });
  try {
    await e.call(c, `seed disk ${disk} of ${instance}`, (signal) => h.putArchive(data, { path: '/d', abortSignal: signal }), 30 * 60_000);
  } finally {
    await removeHelper(e, c, h);
  }
}
