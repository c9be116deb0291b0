/**
 * What both kinds of sync share: the kept sync helper per node and instance (a sleep loop with the disks
 * at /v/d<i>, read-only on the source) and `exec` into it, a side's content manifest, the one delete step
 * on the target, byte progress, and streaming one tar into a target disk.
 */
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { DriverError, type ProgressFn } from '../../driver.ts';
import { labelsOf, type ContainerInfo } from '../api.ts';
import type { Conn, Engine } from '../engine.ts';
import { createHelper, exec, putFiles, removeHelper } from '../helpers.ts';
import { helperName, volumeName } from '../names.ts';
import { TarScanner } from '../tar.ts';
import { transfer } from '../transfer.ts';
import { MANIFEST_SCRIPT, UNLISTABLE, parseManifest, type Manifest } from './manifest.ts';

/** A sync prepared before the copy (possibly while the instance still runs). */
export interface SyncSession {
  readonly instance: string;
  readonly disks: readonly number[];
  readonly src: Docker.Container;
  readonly dst: Docker.Container;
  /** the target's content; undefined when it could not be listed (then everything is copied) */
  readonly target: Manifest | undefined;
}

type MountInfo = ContainerInfo & { Mounts?: { Name?: string; Destination: string; RW: boolean }[] };

/** The kept sync helper of an instance on a node, running, with exactly these disks mounted. */
export async function syncHelper(e: Engine, c: Conn, instance: string, disks: readonly number[], readOnly: boolean): Promise<Docker.Container> {
  const name = helperName(instance, 'sync');
  const want = disks.map((d) => `${volumeName(instance, d)}:/v/d${d}:${readOnly ? 'ro' : 'rw'}`).sort().join(',');
  const info = await e.maybe(c, `inspect helper ${name}`, (signal) => c.docker.getContainer(name).inspect({ abortSignal: signal }) as Promise<MountInfo>);
  if (info && e.ours(labelsOf(info))) {
    const have = (info.Mounts ?? []).map((m) => `${m.Name ?? ''}:${m.Destination}:${m.RW ? 'rw' : 'ro'}`).sort().join(',');
    if (have === want && info.Config.Image === e.helperImage) {
      const h = c.docker.getContainer(info.Id);
      if (info.State.Running) return h;
      try {
        await e.call(c, `start helper ${name}`, (signal) => h.start({ abortSignal: signal }), e.startTimeout);
        return h;
      } catch { /* recreate below */ }
    }
  }
  const h = await createHelper(e, c, instance, 'sync', {
    cmd: ['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 3600; done"],
    mounts: disks.map((d) => ({ source: volumeName(instance, d), target: `/v/d${d}`, readOnly })),
  });
  try {
    await e.call(c, `start helper ${name}`, (signal) => h.start({ abortSignal: signal }), e.startTimeout);
  } catch (err) {
    await removeHelper(e, c, h);
    throw err;
  }
  return h;
}

/** A side's content manifest; undefined when a name cannot be listed line by line. */
export async function readManifest(e: Engine, c: Conn, h: Docker.Container, instance: string, disks: readonly number[]): Promise<Manifest | undefined> {
  const r = await exec(e, c, h, `content manifest of ${instance}`, ['sh', '-c', MANIFEST_SCRIPT]);
  if (r.exitCode === UNLISTABLE) return undefined;
  if (r.exitCode !== 0) throw new DriverError(`node ${c.name}: content manifest of ${instance} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 300)}`, true, c.name);
  return parseManifest(r.stdout, disks);
}

/** On the target: delete these top-most paths of a disk, then make these directories. */
export async function prune(e: Engine, to: Conn, s: SyncSession, disk: number, remove: readonly string[], mkdir: readonly string[] = []): Promise<void> {
  if (remove.length === 0 && mkdir.length === 0) return;
  const lines = (xs: readonly string[]): string => xs.map((x) => `${x}\n`).join('');
  await putFiles(e, to, s.dst, `sync lists of ${s.instance}`, { '.drover-rm': lines(remove), '.drover-mkdir': lines(mkdir) });
  const r = await exec(e, to, s.dst, `delete stale files of ${s.instance}`, ['sh', '-c',
    `cd /v/d${disk} && while IFS= read -r p; do rm -rf -- "./$p"; done < /.drover-rm && while IFS= read -r p; do mkdir -p -- "./$p"; done < /.drover-mkdir`]);
  if (r.exitCode !== 0) throw new DriverError(`node ${to.name}: deleting ${remove.length} stale files from the replica of ${s.instance} failed: ${r.stderr.trim().slice(0, 300)}`, true, to.name);
}

/** Byte progress of one sync, reported at most every MiB (and when forced). */
export class Progress {
  done = 0;
  total = 0;
  private last = -Infinity;
  constructor(private readonly on: ProgressFn | undefined) {}
  set(done: number, force = false): void {
    this.done = done;
    if (!this.on || (!force && done - this.last < 1 << 20)) return;
    this.last = done;
    this.on(done, Math.max(this.total, done));
  }
}

/** Stream a tar from the source into a target disk, counting its bytes into `p`; returns the entry names sent. */
export async function sendTar(e: Engine, from: Conn, to: Conn, s: SyncSession, disk: number, what: string,
  open: (signal: AbortSignal) => Promise<NodeJS.ReadableStream>, p: Progress): Promise<ReadonlySet<string>> {
  const base = p.done;
  const scanner = new TarScanner((bytes) => p.set(base + bytes));
  await transfer(e, from, to, what, open, (body: Readable, signal) => s.dst.putArchive(body, { path: `/v/d${disk}`, abortSignal: signal }), [scanner]);
  p.set(base + scanner.bytes);
  return scanner.names;
}
