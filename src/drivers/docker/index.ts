/**
 * The docker backend: a node is a Docker engine (unix socket, tcp, or tcp with mutual TLS), an instance a
 * container `drover-<instance>`, a disk a named volume `drover-<instance>-d<index>`. Everything created
 * carries drover.* labels (names.ts), and nothing without `drover.cluster=<this cluster>` is ever touched.
 *
 * Design notes:
 * - Every engine call has a timeout (timeoutMs, default 10 s); streams (archives, images) have an idle
 *   timeout instead. Failures become DriverError naming the node and the step (errors.ts).
 * - Volume labels cannot change, so a node's role for an instance (primary/replica) and its generation live
 *   on an empty marker volume `drover-<instance>-meta`, replaced by createDisks/promoteDisks; probe reports
 *   every disk volume with the marker's role/generation (falling back to the volume's own labels).
 * - syncDisks works through one kept helper per node+instance (`drover-<instance>-sync`, label drover.helper=sync,
 *   a sleep loop with the disks at /v/d<i>, read-only on the source; removed by removeInstance/removeDisks)
 *   and `exec` into it. Each side's content manifest (find+stat for type/size/mode/owner, md5sum for files)
 *   decides what to send: new or changed files go as one `tar -cf - FILES` (batches of ~100 kB of names) from the source helper into
 *   putArchive on the target, files gone on the source are deleted; progress counts the tar bytes of the
 *   changed files. A first sync (empty target), or one whose manifest step fails, streams each volume whole
 *   (getArchive → putArchive) and deletes what the source did not send. The copy overwrites in place, so the
 *   replica is never empty during a sync.
 * - Helpers that run (find/rm, df, the CRIU probe) use `helperImage` (default drover/busybox:1: any image
 *   with a busybox-like sh, find, rm, df, sleep), copied from another node when missing.
 * - Live migration: both engines experimental + a checkpoint probe that works (cached per node), instance
 *   without ports (network none). Checkpoint on `from` (container exits), volumes and checkpoint copied in
 *   parallel through helpers, restore on `to` (testbed.md §4, API only). Downtime = checkpoint start → restore
 *   returned. On failure after the checkpoint the instance is started again (cold) on `from`.
 */
import Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isIP } from 'node:net';
import { DriverError, type Driver, type NodeProbe, type ProgressFn, type LiveMigrateResult } from '../driver.ts';
import type { DesiredNode, DiskSpec, NodeCapacity } from '../../model/desired.ts';
import type { ObservedContainer, ObservedVolume } from '../../model/observed.ts';
import type { InstanceSpec } from '../../model/operations.ts';
import { specHash } from '../../model/hash.ts';
import { EngineFault, engineMessage, statusOf, toDriverError } from './errors.ts';
import { TarScanner, tarOf, tarSize } from './tar.ts';
import { runFenceCommand } from './fence.ts';
import { LABEL, containerName, helperName, markerName, volumeName } from './names.ts';

export interface DockerDriverOptions {
  readonly cluster: string;
  readonly nodes: readonly DesiredNode[];
  /** Timeout of one engine call, ms (default 10000). Streams use it as an idle timeout. */
  readonly timeoutMs?: number;
  /** argv; the node's name and endpoint are appended. */
  readonly fenceCommand?: readonly string[];
  readonly fenceTimeoutMs?: number;
  /** Image with sh, find, rm, df, sleep for helpers that run (default drover/busybox:1). */
  readonly helperImage?: string;
  /** Seconds a container gets between SIGTERM and SIGKILL on stop (default 10). */
  readonly stopTimeoutS?: number;
  /** Re-sync only what changed (content manifests on both sides; default true). false: always copy whole volumes. */
  readonly incrementalSync?: boolean;
  /** Pull an image from its registry when no node of the cluster has it (default false: no registry here). */
  readonly pullImages?: boolean;
}

interface Conn {
  readonly name: string;
  readonly endpoint: string;
  readonly desired: DesiredNode;
  readonly docker: Docker;
  /** the IP of a tcp endpoint, for port bindings */
  readonly address?: string;
}

interface ContainerInfo {
  readonly Id: string;
  readonly Config: { readonly Labels?: Record<string, string> | null; readonly Image?: string };
  readonly State: { readonly Running: boolean; readonly Status: string };
}

interface VolumeInfo {
  readonly Name: string;
  readonly Labels?: Record<string, string> | null;
}

interface RunResult { readonly exitCode: number; readonly stdout: string; readonly stderr: string }

const DEFAULT_HELPER_IMAGE = 'drover/busybox:1';
const DISK_CACHE_MS = 10 * 60_000;

/** Call a dockerode method whose typings lack options the engine API takes (abortSignal, checkpoint, dir). */
/** The engine's 304 (already started / already stopped) means the step is done: steps are idempotent. */
async function alreadyDone(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof DriverError && / 304: /.test(e.message))) throw e;
  }
}

function loose<T>(target: object, method: string, ...args: unknown[]): Promise<T> {
  const fn = (target as Record<string, unknown>)[method];
  return (fn as (...a: unknown[]) => Promise<T>).apply(target, args);
}

/** A raw Engine API request through dockerode's modem. */
function dial<T>(docker: Docker, opts: Record<string, unknown>): Promise<T> {
  const modem = docker.modem as unknown as { dial(o: Record<string, unknown>, cb: (err: unknown, data: T) => void): void };
  return new Promise<T>((resolve, reject) => modem.dial(opts, (err, data) => (err ? reject(err) : resolve(data))));
}

/** Split a non-TTY container log buffer (8-byte frame headers) into stdout and stderr. */
export function demuxLogs(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const type = buf[i]!;
    const len = buf.readUInt32BE(i + 4);
    if (type > 2 || buf[i + 1] !== 0 || buf[i + 2] !== 0 || buf[i + 3] !== 0) return { stdout: buf.toString(), stderr: '' };
    (type === 2 ? err : out).push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  return { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

function labelsOf(x: { Labels?: Record<string, string> | null } | { Config: { Labels?: Record<string, string> | null } }): Record<string, string> {
  const l = 'Config' in x ? x.Config.Labels : x.Labels;
  return l ?? {};
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer | string>) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString();
}

/** The error reported inside a 200 JSON-lines stream (image load, pull), if any. */
function streamError(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const j = JSON.parse(line) as { error?: unknown; errorDetail?: { message?: unknown } };
      if (typeof j.error === 'string') return j.error;
      if (j.errorDetail && typeof j.errorDetail.message === 'string') return j.errorDetail.message;
    } catch { /* not JSON: ignore */ }
  }
  return undefined;
}

export function parseEndpoint(endpoint: string): { socketPath: string } | { host: string; port: number } {
  const unix = /^unix:\/\/(\/.+)$/.exec(endpoint);
  if (unix) return { socketPath: unix[1]! };
  const tcp = /^(?:tcp|http|https):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(endpoint);
  if (tcp) return { host: tcp[1]!.replace(/^\[|\]$/g, ''), port: tcp[2] ? Number(tcp[2]) : 2375 };
  throw new Error(`unsupported endpoint "${endpoint}" (expected unix:///path or tcp://host:port)`);
}

class DockerDriver implements Driver {
  readonly backend = 'docker' as const;
  private readonly conns = new Map<string, Conn>();
  private readonly timeout: number;
  private readonly stopTimeoutS: number;
  private readonly helperImage: string;
  private readonly diskCache = new Map<string, { at: number; bytes: number }>();
  private readonly criuCache = new Map<string, Promise<boolean>>();
  private readonly imageInFlight = new Map<string, Promise<void>>();

  constructor(private readonly opts: DockerDriverOptions) {
    this.timeout = opts.timeoutMs ?? 10_000;
    this.stopTimeoutS = opts.stopTimeoutS ?? 10;
    this.helperImage = opts.helperImage ?? DEFAULT_HELPER_IMAGE;
  }

  // ---------------------------------------------------------------- connections and calls

  private conn(node: string): Conn {
    const have = this.conns.get(node);
    if (have) return have;
    const desired = this.opts.nodes.find((n) => n.name === node);
    if (!desired) {
      const known = this.opts.nodes.map((n) => n.name).join(', ') || 'none';
      throw new DriverError(`unknown node "${node}": not a node of cluster ${this.opts.cluster} (nodes: ${known})`, false, node);
    }
    if (!desired.endpoint) throw new DriverError(`node ${node}: no endpoint in its manifest (the docker backend needs one)`, false, node);
    let target: ReturnType<typeof parseEndpoint>;
    try {
      target = parseEndpoint(desired.endpoint);
    } catch (e) {
      throw new DriverError(`node ${node}: ${(e as Error).message}`, false, node);
    }
    let docker: Docker;
    let address: string | undefined;
    if ('socketPath' in target) {
      docker = new Docker({ socketPath: target.socketPath });
    } else {
      address = isIP(target.host) ? target.host : undefined;
      if (desired.tls) {
        const read = (what: string, file: string): Buffer => {
          try {
            return readFileSync(file);
          } catch (e) {
            throw new DriverError(`node ${node}: cannot read TLS ${what} file ${file}: ${(e as Error).message}`, false, node);
          }
        };
        docker = new Docker({
          host: target.host, port: target.port, protocol: 'https',
          ca: read('ca', desired.tls.ca), cert: read('cert', desired.tls.cert), key: read('key', desired.tls.key),
        });
      } else {
        docker = new Docker({ host: target.host, port: target.port, protocol: 'http' });
      }
    }
    const c: Conn = { name: node, endpoint: desired.endpoint, desired, docker, ...(address ? { address } : {}) };
    this.conns.set(node, c);
    return c;
  }

  /** One engine call with a timeout; every failure becomes a DriverError naming the node and the step. */
  private async call<T>(c: Conn, what: string, fn: (signal: AbortSignal) => Promise<T>, timeoutMs = this.timeout): Promise<T> {
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const work = (async () => fn(ac.signal))();
    work.catch(() => { /* reported through the race below */ });
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        reject(new DriverError(`node ${c.name} (${c.endpoint}): ${what}: no answer within ${timeoutMs} ms (engine hung, partitioned or overloaded)`, true, c.name));
      }, timeoutMs);
    });
    try {
      return await Promise.race([work, expired]);
    } catch (e) {
      throw toDriverError(c.name, c.endpoint, what, e);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Like call(), but a 404 resolves to undefined. */
  private async maybe<T>(c: Conn, what: string, fn: (signal: AbortSignal) => Promise<T>, timeoutMs?: number): Promise<T | undefined> {
    try {
      return await this.call(c, what, async (signal) => {
        try {
          return await fn(signal);
        } catch (e) {
          if (statusOf(e) === 404) return undefined;
          throw e;
        }
      }, timeoutMs);
    } catch (e) {
      throw e;
    }
  }

  private foreign(c: Conn, kind: string, name: string): DriverError {
    return new DriverError(
      `node ${c.name}: a ${kind} named ${name} exists but is not Drover's for cluster ${this.opts.cluster} ` +
      `(no label ${LABEL.cluster}=${this.opts.cluster}); Drover does not touch it: remove or rename it`, false, c.name);
  }

  private ours(labels: Record<string, string>): boolean {
    return labels[LABEL.cluster] === this.opts.cluster;
  }

  private async inspectContainer(c: Conn, name: string): Promise<ContainerInfo | undefined> {
    return this.maybe(c, `inspect container ${name}`, (signal) =>
      c.docker.getContainer(name).inspect({ abortSignal: signal }) as Promise<ContainerInfo>);
  }

  private async inspectVolume(c: Conn, name: string): Promise<VolumeInfo | undefined> {
    return this.maybe(c, `inspect volume ${name}`, (signal) =>
      c.docker.getVolume(name).inspect({ abortSignal: signal }) as Promise<VolumeInfo>);
  }

  /** Remove a container of ours by name (force); absent is fine; someone else's is an error. */
  private async removeContainerByName(c: Conn, name: string): Promise<void> {
    const info = await this.inspectContainer(c, name);
    if (!info) return;
    if (!this.ours(labelsOf(info))) throw this.foreign(c, 'container', name);
    await this.maybe(c, `remove container ${name}`, (signal) =>
      c.docker.getContainer(info.Id).remove({ force: true, v: false, abortSignal: signal }), this.timeout + this.stopTimeoutS * 1000);
  }

  // ---------------------------------------------------------------- images

  private async hasImage(c: Conn, image: string): Promise<boolean> {
    return (await this.maybe(c, `inspect image ${image}`, (signal) => loose<unknown>(c.docker.getImage(image), 'inspect', { abortSignal: signal }))) !== undefined;
  }

  async imagesPresent(node: string, images: readonly string[]): Promise<readonly string[]> {
    const c = this.conn(node);
    const present = await Promise.all(images.map((i) => this.hasImage(c, i)));
    return images.filter((_, k) => present[k]);
  }

  /** Make sure `node` has `image`: copy it from another node of the cluster (save → load), else pull if allowed. */
  private async ensureImage(c: Conn, image: string): Promise<void> {
    if (await this.hasImage(c, image)) return;
    const key = `${c.name}\0${image}`;
    const running = this.imageInFlight.get(key);
    if (running) return running;
    const p = this.fetchImage(c, image).finally(() => this.imageInFlight.delete(key));
    this.imageInFlight.set(key, p);
    return p;
  }

  private async fetchImage(c: Conn, image: string): Promise<void> {
    const problems: string[] = [];
    for (const other of this.opts.nodes) {
      if (other.name === c.name || !other.endpoint) continue;
      let src: Conn;
      try {
        src = this.conn(other.name);
        if (!(await this.hasImage(src, image))) continue;
      } catch (e) {
        problems.push((e as Error).message);
        continue;
      }
      await this.transfer(src, c, `copy image ${image}`,
        () => src.docker.getImage(image).get(),
        async (body, signal) => {
          const res = await c.docker.loadImage(body, { quiet: true, abortSignal: signal });
          const err = streamError(await readAll(res));
          if (err) throw new EngineFault(`image load failed: ${err}`, 500);
        });
      if (!(await this.hasImage(c, image))) throw new DriverError(`node ${c.name}: image ${image} still missing after loading it from ${src.name}`, true, c.name);
      return;
    }
    if (this.opts.pullImages) {
      await this.call(c, `pull image ${image}`, async (signal) => {
        const res = await c.docker.pull(image, { abortSignal: signal });
        const err = streamError(await readAll(res));
        if (err) throw new EngineFault(`pull failed: ${err}`, 500);
      }, Math.max(this.timeout, 600_000));
      return;
    }
    throw new DriverError(
      `node ${c.name}: image ${image} is not there, and no other node of cluster ${this.opts.cluster} has it to copy from` +
      `${problems.length ? ` (some nodes could not be asked: ${problems.join('; ')})` : ''} (no registry pull configured)`,
      problems.length > 0, c.name);
  }

  /**
   * Stream from one engine into another with an idle timeout: `open` returns the source stream,
   * `send` consumes the body and resolves when the target has answered.
   */
  private async transfer(
    from: Conn, to: Conn, what: string,
    open: (signal: AbortSignal) => Promise<NodeJS.ReadableStream>,
    send: (body: Readable, signal: AbortSignal) => Promise<unknown>,
    through: readonly Transform[] = [],
  ): Promise<void> {
    const acFrom = new AbortController();
    const acTo = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let fail: (e: unknown) => void = () => {};
    const failed = new Promise<never>((_, reject) => { fail = reject; });
    failed.catch(() => {});
    const arm = (stage: string, who: Conn): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        fail(new DriverError(`node ${who.name} (${who.endpoint}): ${what}: no progress for ${this.timeout} ms while ${stage}`, true, who.name));
      }, this.timeout);
    };
    let src: NodeJS.ReadableStream | undefined;
    const pass = new PassThrough();
    try {
      arm(`waiting for the source to answer`, from);
      src = await Promise.race([open(acFrom.signal).catch((e: unknown) => { throw toDriverError(from.name, from.endpoint, what, e); }), failed]);
      const watch = new Transform({ transform: (chunk: Buffer, _enc, cb) => { arm('copying', from); cb(null, chunk); } });
      const pipe = pipeline([src, watch, ...through, pass])
        .catch((e: unknown) => { throw toDriverError(from.name, from.endpoint, what, e); })
        .then(() => arm(`waiting for the target to finish`, to));
      const sent = send(pass, acTo.signal).catch((e: unknown) => { throw toDriverError(to.name, to.endpoint, what, e); });
      await Promise.race([Promise.all([pipe, sent]), failed]);
    } catch (e) {
      acFrom.abort();
      acTo.abort();
      const s = src as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
      s?.destroy?.();
      pass.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  // ---------------------------------------------------------------- helpers

  /** Create (never start) a helper container of ours, replacing a leftover of the same name. */
  private async createHelper(c: Conn, instance: string, what: string, opts: {
    image?: string; cmd?: string[]; mounts?: { source: string; target: string; readOnly?: boolean }[]; binds?: string[];
  }): Promise<Docker.Container> {
    const name = helperName(instance, what);
    const image = opts.image ?? this.helperImage;
    await this.ensureImage(c, image);
    await this.removeContainerByName(c, name);
    const create = (): Promise<Docker.Container> => this.call(c, `create helper ${name}`, (signal) => c.docker.createContainer({
      name, Image: image, Cmd: opts.cmd ?? ['true'], Entrypoint: [],
      Labels: { [LABEL.cluster]: this.opts.cluster, [LABEL.instance]: instance, [LABEL.helper]: what },
      HostConfig: {
        NetworkMode: 'none', RestartPolicy: { Name: 'no' },
        Mounts: (opts.mounts ?? []).map((m) => ({ Type: 'volume' as const, Source: m.source, Target: m.target, ReadOnly: m.readOnly ?? false })),
        ...(opts.binds ? { Binds: opts.binds } : {}),
      },
      abortSignal: signal,
    }));
    try {
      return await create();
    } catch (e) {
      if (e instanceof DriverError && /409/.test(e.message)) { // a concurrent leftover: clear it once more
        await this.removeContainerByName(c, name);
        return create();
      }
      throw e;
    }
  }

  private async removeHelper(c: Conn, h: Docker.Container | undefined): Promise<void> {
    if (!h) return;
    try {
      await this.maybe(c, `remove helper ${h.id}`, (signal) => h.remove({ force: true, v: false, abortSignal: signal }));
    } catch { /* a leftover is replaced by name next time */ }
  }

  /** Run a helper to completion and return its output. */
  private async runHelper(c: Conn, instance: string, what: string, cmd: string[],
    mounts: { source: string; target: string; readOnly?: boolean }[] = [], timeoutMs = 120_000): Promise<RunResult> {
    const h = await this.createHelper(c, instance, what, { cmd, mounts });
    try {
      await this.call(c, `start helper ${what}`, (signal) => h.start({ abortSignal: signal }));
      const res = await this.call(c, `wait for helper ${what}`, (signal) => loose<{ StatusCode: number }>(h, 'wait', { abortSignal: signal }), timeoutMs);
      const logs = await this.call(c, `read helper ${what} output`, (signal) =>
        loose<Buffer>(h, 'logs', { stdout: true, stderr: true, follow: false, abortSignal: signal }), Math.max(this.timeout, 60_000));
      return { exitCode: res.StatusCode, ...demuxLogs(Buffer.isBuffer(logs) ? logs : Buffer.from(String(logs))) };
    } finally {
      await this.removeHelper(c, h);
    }
  }

  // ---------------------------------------------------------------- probe

  private async diskCapacity(c: Conn): Promise<number> {
    const cached = this.diskCache.get(c.name);
    if (cached && Date.now() - cached.at < DISK_CACHE_MS) return cached.bytes;
    let bytes = 0;
    try {
      // the container's rootfs is an overlay on the data root's filesystem: its size is the data root's
      const r = await this.runHelper(c, `probe-${this.opts.cluster}`, 'df', ['df', '-k', '/'], [], 30_000);
      const line = r.stdout.trim().split('\n').pop() ?? '';
      const kb = Number(line.trim().split(/\s+/)[1]);
      if (r.exitCode === 0 && Number.isFinite(kb) && kb > 0) bytes = kb * 1024;
    } catch (e) {
      if (e instanceof DriverError && e.transient) throw e;
      bytes = 0; // no helper image anywhere: unknown (set capacity.disk in the Node manifest)
    }
    this.diskCache.set(c.name, { at: Date.now(), bytes });
    return bytes;
  }

  async probe(node: string): Promise<NodeProbe> {
    const c = this.conn(node);
    const filter = { label: [`${LABEL.cluster}=${this.opts.cluster}`] };
    const [info, containers, volumes] = await Promise.all([
      this.call(c, 'info', (signal) => loose<{ MemTotal: number; NCPU: number }>(c.docker, 'info', { abortSignal: signal })),
      this.call(c, 'list containers', (signal) => c.docker.listContainers({ all: true, filters: filter, abortSignal: signal })),
      this.call(c, 'list volumes', (signal) => c.docker.listVolumes({ filters: filter, abortSignal: signal })),
    ]);
    const override = c.desired.capacity ?? {};
    const capacity: NodeCapacity = {
      memory: override.memory ?? info.MemTotal,
      vcpus: override.vcpus ?? info.NCPU,
      disk: override.disk ?? await this.diskCapacity(c),
    };
    const observedContainers: ObservedContainer[] = [];
    for (const ct of containers) {
      const l = ct.Labels ?? {};
      if (!this.ours(l) || l[LABEL.helper] !== undefined || !l[LABEL.instance]) continue;
      observedContainers.push({
        instance: l[LABEL.instance]!,
        state: ct.State === 'running' || ct.State === 'restarting' || ct.State === 'paused' ? 'running' : 'stopped',
        specHash: l[LABEL.spec] ?? '',
        generation: Number(l[LABEL.generation] ?? 0),
      });
    }
    const markers = new Map<string, { role: 'primary' | 'replica'; generation: number }>();
    const vols = (volumes.Volumes ?? []) as VolumeInfo[];
    for (const v of vols) {
      const l = labelsOf(v);
      if (this.ours(l) && l[LABEL.meta] !== undefined && l[LABEL.instance]) {
        markers.set(l[LABEL.instance]!, { role: l[LABEL.role] === 'primary' ? 'primary' : 'replica', generation: Number(l[LABEL.generation] ?? 0) });
      }
    }
    const observedVolumes: ObservedVolume[] = [];
    for (const v of vols) {
      const l = labelsOf(v);
      if (!this.ours(l) || l[LABEL.meta] !== undefined || l[LABEL.disk] === undefined || !l[LABEL.instance]) continue;
      const m = markers.get(l[LABEL.instance]!);
      observedVolumes.push({
        instance: l[LABEL.instance]!,
        disk: Number(l[LABEL.disk]),
        role: m?.role ?? (l[LABEL.role] === 'primary' ? 'primary' : 'replica'),
        size: Number(l[LABEL.size] ?? 0),
        generation: m?.generation ?? Number(l[LABEL.generation] ?? 0),
      });
    }
    observedVolumes.sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : a.disk - b.disk));
    return { capacity, containers: observedContainers, volumes: observedVolumes };
  }

  // ---------------------------------------------------------------- disks

  private async setMarker(c: Conn, instance: string, role: 'primary' | 'replica', generation: number): Promise<void> {
    const name = markerName(instance);
    const have = await this.inspectVolume(c, name);
    if (have) {
      const l = labelsOf(have);
      if (!this.ours(l)) throw this.foreign(c, 'volume', name);
      if (l[LABEL.role] === role && Number(l[LABEL.generation]) === generation) return;
      await this.maybe(c, `remove volume ${name}`, (signal) => c.docker.getVolume(name).remove({ abortSignal: signal }));
    }
    await this.call(c, `create volume ${name}`, (signal) => c.docker.createVolume({
      Name: name,
      Labels: { [LABEL.cluster]: this.opts.cluster, [LABEL.instance]: instance, [LABEL.meta]: '1', [LABEL.role]: role, [LABEL.generation]: String(generation) },
      abortSignal: signal,
    } as Docker.VolumeCreateOptions));
  }

  async createDisks(node: string, instance: string, disks: readonly DiskSpec[], role: 'primary' | 'replica', generation: number): Promise<void> {
    const c = this.conn(node);
    for (let i = 0; i < disks.length; i++) {
      const name = volumeName(instance, i);
      const have = await this.inspectVolume(c, name);
      if (have) {
        if (!this.ours(labelsOf(have))) throw this.foreign(c, 'volume', name);
        continue;
      }
      await this.call(c, `create volume ${name}`, (signal) => c.docker.createVolume({
        Name: name,
        Labels: {
          [LABEL.cluster]: this.opts.cluster, [LABEL.instance]: instance, [LABEL.role]: role,
          [LABEL.generation]: String(generation), [LABEL.disk]: String(i), [LABEL.size]: String(disks[i]!.size),
        },
        abortSignal: signal,
      } as Docker.VolumeCreateOptions));
    }
    await this.setMarker(c, instance, role, generation);
  }

  private async instanceVolumes(c: Conn, instance: string): Promise<VolumeInfo[]> {
    const res = await this.call(c, `list volumes of ${instance}`, (signal) => c.docker.listVolumes({
      filters: { label: [`${LABEL.cluster}=${this.opts.cluster}`, `${LABEL.instance}=${instance}`] }, abortSignal: signal,
    }));
    return ((res.Volumes ?? []) as VolumeInfo[]).filter((v) => this.ours(labelsOf(v)));
  }

  async removeDisks(node: string, instance: string): Promise<void> {
    const c = this.conn(node);
    // helpers of this instance (leftovers of an interrupted sync or migration) would hold the volumes
    const helpers = await this.call(c, `list helpers of ${instance}`, (signal) => c.docker.listContainers({
      all: true, filters: { label: [`${LABEL.cluster}=${this.opts.cluster}`, `${LABEL.instance}=${instance}`, LABEL.helper] }, abortSignal: signal,
    }));
    for (const h of helpers) await this.removeHelper(c, c.docker.getContainer(h.Id));
    for (const v of await this.instanceVolumes(c, instance)) {
      try {
        await this.maybe(c, `remove volume ${v.Name}`, (signal) => c.docker.getVolume(v.Name).remove({ abortSignal: signal }));
      } catch (e) {
        if (e instanceof DriverError && / 409: /.test(e.message)) {
          throw new DriverError(`node ${node}: cannot remove volume ${v.Name} of ${instance}: it is in use (remove the instance's container first): ${e.message}`, false, node);
        }
        throw e;
      }
    }
  }

  async promoteDisks(node: string, instance: string, generation: number): Promise<void> {
    const c = this.conn(node);
    const vols = await this.instanceVolumes(c, instance);
    if (!vols.some((v) => labelsOf(v)[LABEL.disk] !== undefined)) {
      throw new DriverError(`node ${node}: instance ${instance} has no disks here to promote`, false, node);
    }
    await this.setMarker(c, instance, 'primary', generation);
  }

  private async diskIndexes(c: Conn, instance: string): Promise<{ index: number; labels: Record<string, string> }[]> {
    return (await this.instanceVolumes(c, instance))
      .map((v) => ({ labels: labelsOf(v), index: Number(labelsOf(v)[LABEL.disk]) }))
      .filter((d) => labelsOf({ Labels: d.labels })[LABEL.disk] !== undefined && Number.isInteger(d.index))
      .sort((a, b) => a.index - b.index);
  }

  /** The kept sync helper of an instance on a node: running (a sleep loop), the disks mounted at /v/d<i>. */
  private async syncHelper(c: Conn, instance: string, disks: readonly number[], readOnly: boolean): Promise<Docker.Container> {
    const name = helperName(instance, 'sync');
    const want = disks.map((d) => `${volumeName(instance, d)}:/v/d${d}:${readOnly ? 'ro' : 'rw'}`).sort().join(',');
    const info = await this.maybe(c, `inspect helper ${name}`, (signal) => c.docker.getContainer(name).inspect({ abortSignal: signal }) as Promise<
      ContainerInfo & { Mounts?: { Name?: string; Destination: string; RW: boolean }[] }>);
    if (info && this.ours(labelsOf(info))) {
      const have = (info.Mounts ?? []).map((m) => `${m.Name ?? ''}:${m.Destination}:${m.RW ? 'rw' : 'ro'}`).sort().join(',');
      if (have === want && info.Config.Image === this.helperImage) {
        const h = c.docker.getContainer(info.Id);
        if (info.State.Running) return h;
        try {
          await this.call(c, `start helper ${name}`, (signal) => h.start({ abortSignal: signal }));
          return h;
        } catch { /* recreate below */ }
      }
    }
    const h = await this.createHelper(c, instance, 'sync', {
      cmd: ['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 3600; done"],
      mounts: disks.map((d) => ({ source: volumeName(instance, d), target: `/v/d${d}`, readOnly })),
    });
    try {
      await this.call(c, `start helper ${name}`, (signal) => h.start({ abortSignal: signal }));
    } catch (e) {
      await this.removeHelper(c, h);
      throw e;
    }
    return h;
  }

  /** Start a command in a running helper; `stdout` streams its output, `done` its exit code and stderr. */
  private async execStream(c: Conn, h: Docker.Container, what: string, cmd: string[]): Promise<{
    stdout: PassThrough; done: Promise<{ exitCode: number; stderr: string }>; abort: () => void;
  }> {
    const ex = await this.call(c, `${what}: create exec`, (signal) =>
      h.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false, abortSignal: signal } as Docker.ExecCreateOptions));
    const stream = await this.call(c, `${what}: start exec`, () => ex.start({ hijack: true, stdin: false }) as Promise<NodeJS.ReadableStream>);
    const stdout = new PassThrough();
    const err = new PassThrough();
    const errChunks: Buffer[] = [];
    err.on('data', (b: Buffer) => { if (errChunks.length < 64) errChunks.push(b); });
    c.docker.modem.demuxStream(stream, stdout, err);
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('end', () => { stdout.end(); resolve(); });
      stream.on('close', () => { stdout.end(); resolve(); });
      stream.on('error', (e: Error) => { stdout.destroy(e); reject(e); });
    });
    ended.catch(() => {});
    const done = (async () => {
      await ended;
      for (let i = 0; ; i++) {
        const st = await this.call(c, `${what}: inspect exec`, (signal) => loose<{ Running: boolean; ExitCode: number | null }>(ex, 'inspect', { abortSignal: signal }));
        if (!st.Running && st.ExitCode !== null) return { exitCode: st.ExitCode, stderr: Buffer.concat(errChunks).toString() };
        if (i > 100) throw new DriverError(`node ${c.name}: ${what}: the command's output ended but it still runs`, true, c.name);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    done.catch(() => {});
    const abort = (): void => { (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.(); };
    return { stdout, done, abort };
  }

  /** Run a command in a running helper to completion (timeout), collecting its output. */
  private async exec(c: Conn, h: Docker.Container, what: string, cmd: string[], timeoutMs = 300_000): Promise<RunResult> {
    const x = await this.execStream(c, h, what, cmd);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => { x.abort(); reject(new DriverError(`node ${c.name} (${c.endpoint}): ${what}: no answer within ${timeoutMs} ms`, true, c.name)); }, timeoutMs);
    });
    try {
      const [stdout, r] = await Promise.race([Promise.all([readAll(x.stdout), x.done]), expired]);
      return { exitCode: r.exitCode, stdout, stderr: r.stderr };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Put small files into a helper's root (list files for tar -T and the delete step). */
  private async putFiles(c: Conn, h: Docker.Container, what: string, files: Record<string, string>): Promise<void> {
    const body = tarOf(files);
    await this.call(c, what, (signal) => h.putArchive(body, { path: '/', abortSignal: signal }));
  }

  /**
   * The content manifest of a helper's disks: per disk, relative path → entry. Regular files are
   * compared by md5 (plus mode/owner), not by mtime: tar keeps whole seconds only, so a same-size rewrite
   * in the second of the last sync would be missed, and an md5 of 100 MB costs about what a stat does
   * (testbed.md §5). undefined when a name contains a newline (the lists are line based): copy everything.
   */
  private async manifest(c: Conn, h: Docker.Container, instance: string, disks: readonly number[]): Promise<Map<number, Map<string, ManifestEntry>> | undefined> {
    const script = [
      'cd /v || exit 3',
      `if [ -n "$(find . -name '*\n*' | head -n 1)" ]; then exit 4; fi`,
      "find . -mindepth 2 -exec stat -c '%f %s %u %g %n' {} + || exit 5",
      'echo --md5',
      'find . -mindepth 2 -type f -exec md5sum {} + || exit 6',
    ].join('\n');
    const r = await this.exec(c, h, `content manifest of ${instance}`, ['sh', '-c', script]);
    if (r.exitCode === 4) return undefined;
    if (r.exitCode !== 0) throw new DriverError(`node ${c.name}: content manifest of ${instance} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 300)}`, true, c.name);
    const out = new Map<number, Map<string, ManifestEntry>>();
    for (const d of disks) out.set(d, new Map());
    let md5 = false;
    for (const line of r.stdout.split('\n')) {
      if (line === '--md5') { md5 = true; continue; }
      if (!md5) {
        const m = /^([0-9a-f]+) (\d+) (\d+) (\d+) \.\/d(\d+)\/(.+)$/.exec(line);
        if (!m) continue;
        const mode = parseInt(m[1]!, 16);
        const fmt = mode & 0o170000;
        const type = fmt === 0o100000 ? 'f' : fmt === 0o040000 ? 'd' : fmt === 0o120000 ? 'l' : 'o';
        out.get(Number(m[5]))?.set(m[6]!, { type, size: Number(m[2]), meta: `${(mode & 0o7777).toString(8)}:${m[3]}:${m[4]}`, md5: '' });
      } else {
        const m = /^([0-9a-f]{32}) {2}\.\/d(\d+)\/(.+)$/.exec(line);
        const e = m ? out.get(Number(m[2]))?.get(m[3]!) : undefined;
        if (e) e.md5 = m![1]!;
      }
    }
    return out;
  }

  /** Sync prepared before the copy: kept helpers on both sides, the target's manifest, the expected total. */
  private async prepareSync(from: Conn, to: Conn, instance: string): Promise<SyncSession> {
    if (from.name === to.name) throw new DriverError(`syncDisks: ${instance}: source and target are the same node ${from.name}`, false, from.name);
    const disks = await this.diskIndexes(from, instance);
    if (disks.length === 0) throw new DriverError(`node ${from.name}: instance ${instance} has no disks to sync from`, false, from.name);
    // the target's volumes: create missing ones as replicas with the source's labels
    const targetHave = new Set((await this.diskIndexes(to, instance)).map((d) => d.index));
    for (const d of disks) {
      if (targetHave.has(d.index)) continue;
      const name = volumeName(instance, d.index);
      const existing = await this.inspectVolume(to, name);
      if (existing && !this.ours(labelsOf(existing))) throw this.foreign(to, 'volume', name);
      if (existing) continue;
      await this.call(to, `create volume ${name}`, (signal) => to.docker.createVolume({
        Name: name,
        Labels: { ...d.labels, [LABEL.role]: 'replica' },
        abortSignal: signal,
      } as Docker.VolumeCreateOptions));
    }
    const idx = disks.map((d) => d.index);
    const s = new SyncSession(idx);
    [s.src, s.dst] = await Promise.all([this.syncHelper(from, instance, idx, true), this.syncHelper(to, instance, idx, false)]);
    // what the target has (a replica: only syncs write it), so it can be taken before the source freezes
    const target = await this.manifest(to, s.dst, instance, idx).catch((e: unknown) => {
      if (e instanceof DriverError && /manifest/.test(e.message)) return undefined; // fall back to the whole copy
      throw e;
    });
    if (target) s.target = target;
    if (!target || this.opts.incrementalSync === false) s.incremental = false;
    return s;
  }

  /** Make the target's disks equal to the source's: incremental when both manifests work, else the whole copy. */
  private async runSync(from: Conn, to: Conn, instance: string, s: SyncSession, onProgress?: ProgressFn): Promise<number> {
    const targetEmpty = [...s.target.values()].every((m) => m.size === 0);
    if (s.incremental && !targetEmpty) {
      const source = await this.manifest(from, s.src!, instance, s.disks).catch(() => undefined);
      if (source) return this.runIncremental(from, to, instance, s, source, onProgress);
    }
    return this.runFull(from, to, instance, s, onProgress);
  }

  private async runIncremental(from: Conn, to: Conn, instance: string, s: SyncSession,
    source: Map<number, Map<string, ManifestEntry>>, onProgress?: ProgressFn): Promise<number> {
    const plans = s.disks.map((d) => {
      const src = source.get(d) ?? new Map<string, ManifestEntry>();
      const dst = s.target.get(d) ?? new Map<string, ManifestEntry>();
      const gone: string[] = [];
      for (const [p, e] of dst) { const x = src.get(p); if (!x || x.type !== e.type) gone.push(p); }
      const mkdir: string[] = [];
      const send: { name: string; size: number }[] = [];
      for (const [p, e] of src) {
        const x = dst.get(p);
        const same = x !== undefined && x.type === e.type &&
          (e.type === 'd' || (x.meta === e.meta && (e.type !== 'f' || (x.size === e.size && x.md5 === e.md5))));
        if (e.type === 'd') { if (!same) mkdir.push(p); continue; }
        if (e.type === 'l' || !same) send.push({ name: p, size: e.type === 'f' ? e.size : 0 }); // links: always (cheap)
      }
      gone.sort();
      const top: string[] = [];
      for (const p of gone) if (!top.some((t) => p.startsWith(`${t}/`))) top.push(p);
      return { d, top, mkdir: mkdir.sort(), send };
    });
    s.total = plans.reduce((n, p) => n + (p.send.length ? tarSize(p.send, 100_000) : 0), 0);
    s.files = plans.reduce((n, p) => n + p.send.length, 0);
    let done = 0;
    let lastReport = 0;
    const report = (force: boolean): void => {
      if (!onProgress) return;
      if (!force && done - lastReport < 1 << 20) return;
      lastReport = done;
      onProgress(Math.min(done, s.total), s.total);
    };
    report(true);
    const dst = s.dst!;
    const src = s.src!;
    for (const p of plans) {
      // deletions (and type changes) first, then the directories the source has and the target lacks
      if (p.top.length || p.mkdir.length) {
        await this.putFiles(to, dst, `sync lists of ${instance}`, { '.drover-rm': p.top.map((x) => `${x}\n`).join(''), '.drover-mkdir': p.mkdir.map((x) => `${x}\n`).join('') });
        const r = await this.exec(to, dst, `delete stale files of ${instance}`, ['sh', '-c',
          `cd /v/d${p.d} && while IFS= read -r p; do rm -rf -- "./$p"; done < /.drover-rm && while IFS= read -r p; do mkdir -p -- "./$p"; done < /.drover-mkdir`]);
        if (r.exitCode !== 0) throw new DriverError(`node ${to.name}: deleting ${p.top.length} stale files from the replica of ${instance} failed: ${r.stderr.trim().slice(0, 300)}`, true, to.name);
        s.deleted += p.top.length;
      }
      // busybox tar has no -T: the names go as arguments, in batches of about 100 kB (one tar each)
      for (let i = 0; i < p.send.length;) {
        const batch: string[] = [];
        let len = 0;
        while (i < p.send.length && (batch.length === 0 || len < 100_000)) { const n = `./${p.send[i]!.name}`; batch.push(n); len += n.length + 1; i++; }
        const base = done;
        const scanner = new TarScanner((bytes) => { done = base + bytes; report(false); });
        let run: Awaited<ReturnType<DockerDriver['execStream']>> | undefined;
        await this.transfer(from, to, `sync changed files of disk ${p.d} of ${instance}`,
          async () => {
            run = await this.execStream(from, src, `tar changed files of ${instance}`, ['tar', '-C', `/v/d${p.d}`, '-cf', '-', ...batch]);
            return run.stdout;
          },
          (body, signal) => dst.putArchive(body, { path: `/v/d${p.d}`, abortSignal: signal }),
          [scanner]).catch((e: unknown) => { run?.abort(); throw e; });
        const r = await run!.done;
        if (r.exitCode !== 0) throw new DriverError(`node ${from.name}: tar of ${batch.length} changed files of ${instance} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 300)}`, true, from.name);
        done = base + scanner.bytes;
      }
    }
    s.total = Math.max(s.total, done);
    done = s.total;
    report(true);
    return done;
  }

  /** Copy every disk whole (first sync, or no manifest) and delete what the source no longer has. Returns the bytes streamed. */
  private async runFull(from: Conn, to: Conn, instance: string, s: SyncSession, onProgress?: ProgressFn): Promise<number> {
    s.total = 0;
    try {
      // the total for progress: the engine's own accounting of the source volumes
      const df = await this.call(from, 'disk usage', (signal) => loose<{ Volumes?: { Name: string; UsageData?: { Size?: number } }[] }>(from.docker, 'df', { abortSignal: signal }), Math.max(this.timeout, 30_000));
      for (const v of df.Volumes ?? []) {
        const m = s.disks.find((d) => volumeName(instance, d) === v.Name);
        if (m !== undefined && (v.UsageData?.Size ?? -1) >= 0) s.total += v.UsageData!.Size!;
      }
    } catch { s.total = 0; }
    let done = 0;
    let lastReport = 0;
    const report = (force: boolean): void => {
      if (!onProgress) return;
      if (!force && done - lastReport < 1 << 20) return;
      lastReport = done;
      onProgress(done, Math.max(s.total, done));
    };
    report(true);
    const src = s.src!;
    const dst = s.dst!;
    for (const d of s.disks) {
      const base = done;
      const scanner = new TarScanner((bytes) => { done = base + bytes; report(false); });
      await this.transfer(from, to, `sync disk ${d} of ${instance}`,
        (signal) => src.getArchive({ path: `/v/d${d}/.`, abortSignal: signal }),
        (body, signal) => dst.putArchive(body, { path: `/v/d${d}`, abortSignal: signal }),
        [scanner]);
      done = base + scanner.bytes;
      s.files += [...scanner.names].length;
      // delete what the target had and the source did not send (top-most paths only)
      const sent = scanner.names;
      const gone = [...(s.target.get(d)?.keys() ?? [])].filter((p) => !sent.has(p)).sort();
      const top: string[] = [];
      for (const p of gone) if (!top.some((t) => p.startsWith(`${t}/`))) top.push(p);
      if (top.length) {
        await this.putFiles(to, dst, `sync lists of ${instance}`, { '.drover-rm': top.map((x) => `${x}\n`).join('') });
        const r = await this.exec(to, dst, `delete stale files of ${instance}`, ['sh', '-c',
          `cd /v/d${d} && while IFS= read -r p; do rm -rf -- "./$p"; done < /.drover-rm`]);
        if (r.exitCode !== 0) throw new DriverError(`node ${to.name}: deleting ${top.length} stale files from the replica of ${instance} failed: ${r.stderr.trim().slice(0, 300)}`, true, to.name);
      }
      s.deleted += top.length;
    }
    report(true);
    return done;
  }

  async syncDisks(from: string, to: string, instance: string, onProgress?: ProgressFn): Promise<number> {
    const a = this.conn(from);
    const b = this.conn(to);
    const s = await this.prepareSync(a, b, instance);
    return this.runSync(a, b, instance, s, onProgress);
  }

  // ---------------------------------------------------------------- instances

  private async networkFor(c: Conn, spec: InstanceSpec): Promise<Record<string, unknown>> {
    if (spec.ports.length === 0) return { NetworkMode: 'none' };
    const nets = await this.call(c, 'list networks', (signal) => loose<{ Name: string }[]>(c.docker, 'listNetworks', { filters: { name: ['bridge'] }, abortSignal: signal }));
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

  async createInstance(node: string, spec: InstanceSpec, generation: number): Promise<void> {
    const c = this.conn(node);
    const name = containerName(spec.name);
    const hash = specHash(spec);
    const have = await this.inspectContainer(c, name);
    if (have) {
      const l = labelsOf(have);
      if (!this.ours(l)) throw this.foreign(c, 'container', name);
      if (l[LABEL.spec] === hash && Number(l[LABEL.generation]) === generation) return;
      await this.removeContainerByName(c, name);
    }
    await this.ensureImage(c, spec.image);
    // the disks must be ours before the engine sees the mounts (it would create unlabelled volumes)
    for (let i = 0; i < spec.disks.length; i++) {
      const v = await this.inspectVolume(c, volumeName(spec.name, i));
      if (v && !this.ours(labelsOf(v))) throw this.foreign(c, 'volume', volumeName(spec.name, i));
      if (!v) { await this.createDisks(node, spec.name, spec.disks, 'primary', generation); break; }
    }
    const { ExposedPorts, ...net } = await this.networkFor(c, spec);
    const body = {
      name,
      Image: spec.image,
      ...(spec.command ? { Cmd: [...spec.command] } : {}),
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      Labels: {
        [LABEL.cluster]: this.opts.cluster, [LABEL.instance]: spec.name, [LABEL.role]: 'primary',
        [LABEL.generation]: String(generation), [LABEL.spec]: hash,
      },
      StopTimeout: this.stopTimeoutS,
      Hostname: spec.name.slice(0, 63),
      ...(ExposedPorts ? { ExposedPorts } : {}),
      HostConfig: {
        Memory: spec.memory,
        NanoCpus: Math.round(spec.vcpus * 1e9),
        RestartPolicy: { Name: 'no' },
        Mounts: spec.disks.map((d, i) => ({ Type: 'volume' as const, Source: volumeName(spec.name, i), Target: d.mount })),
        ...net,
      },
    };
    try {
      await this.call(c, `create container ${name}`, (signal) => c.docker.createContainer({ ...body, abortSignal: signal } as Docker.ContainerCreateOptions));
    } catch (e) {
      if (e instanceof DriverError && / 409: /.test(e.message)) {
        // created concurrently (or a retry after a lost answer): keep it if it is the one we want
        const again = await this.inspectContainer(c, name);
        const l = again ? labelsOf(again) : {};
        if (again && this.ours(l) && l[LABEL.spec] === hash && Number(l[LABEL.generation]) === generation) return;
      }
      throw e;
    }
  }

  async startInstance(node: string, instance: string): Promise<void> {
    const c = this.conn(node);
    const name = containerName(instance);
    const info = await this.inspectContainer(c, name);
    if (!info) throw new DriverError(`node ${node}: instance ${instance} has no container (${name}) to start`, false, node);
    if (!this.ours(labelsOf(info))) throw this.foreign(c, 'container', name);
    if (info.State.Running) return;
    await alreadyDone(this.call(c, `start container ${name}`, (signal) => c.docker.getContainer(info.Id).start({ abortSignal: signal }), Math.max(this.timeout, 60_000)));
  }

  async stopInstance(node: string, instance: string): Promise<void> {
    const c = this.conn(node);
    const name = containerName(instance);
    const info = await this.inspectContainer(c, name);
    if (!info) return; // nothing runs
    if (!this.ours(labelsOf(info))) throw this.foreign(c, 'container', name);
    if (!info.State.Running && info.State.Status !== 'paused' && info.State.Status !== 'restarting') return;
    await alreadyDone(this.maybe(c, `stop container ${name}`, (signal) => c.docker.getContainer(info.Id).stop({ t: this.stopTimeoutS, abortSignal: signal }),
      this.timeout + this.stopTimeoutS * 1000));
  }

  async removeInstance(node: string, instance: string): Promise<void> {
    const c = this.conn(node);
    const name = containerName(instance);
    // the kept sync helper goes with the instance (the next sync makes a new one)
    await this.removeContainerByName(c, helperName(instance, 'sync'));
    const info = await this.inspectContainer(c, name);
    if (!info) return;
    if (!this.ours(labelsOf(info))) throw this.foreign(c, 'container', name);
    await this.stopInstance(node, instance);
    await this.maybe(c, `remove container ${name}`, (signal) => c.docker.getContainer(info.Id).remove({ force: true, v: false, abortSignal: signal }),
      this.timeout + this.stopTimeoutS * 1000);
  }

  // ---------------------------------------------------------------- fencing

  async fence(node: string, endpoint: string | undefined): Promise<boolean> {
    const argv = this.opts.fenceCommand;
    if (!argv || argv.length === 0) return false;
    const ep = endpoint ?? this.opts.nodes.find((n) => n.name === node)?.endpoint ?? '';
    const r = await runFenceCommand(argv, node, ep, this.opts.fenceTimeoutMs ?? 30_000);
    return r.fenced;
  }

  // ---------------------------------------------------------------- live migration

  /** Whether the node can checkpoint: experimental engine and a CRIU that works (tried once, cached). */
  private supportsCheckpoint(c: Conn): Promise<boolean> {
    const have = this.criuCache.get(c.name);
    if (have) return have;
    const p = (async () => {
      const info = await this.call(c, 'info', (signal) => loose<{ ExperimentalBuild?: boolean; DockerRootDir?: string }>(c.docker, 'info', { abortSignal: signal }));
      if (!info.ExperimentalBuild) return false;
      const probe = `probe-${this.opts.cluster}`;
      let h: Docker.Container | undefined;
      try {
        h = await this.createHelper(c, probe, 'criu', { cmd: ['sleep', '600'] });
        const hc = h;
        await this.call(c, 'start CRIU probe', (signal) => hc.start({ abortSignal: signal }));
        await this.call(c, 'checkpoint CRIU probe', (signal) => loose<unknown>(hc, 'createCheckpoint', {
          CheckpointID: 'probe', CheckpointDir: `${info.DockerRootDir}/drover-checkpoints/probe-${hc.id}`, Exit: true, abortSignal: signal,
        }), Math.max(this.timeout, 60_000));
        return true;
      } catch (e) {
        if (e instanceof DriverError && e.transient && !/ 500: /.test(e.message)) throw e;
        return false;
      } finally {
        await this.removeHelper(c, h);
      }
    })();
    p.catch(() => this.criuCache.delete(c.name)); // unreachable: ask again next time
    this.criuCache.set(c.name, p);
    return p;
  }

  async liveMigrate(from: string, to: string, spec: InstanceSpec, generation: number, onProgress?: ProgressFn): Promise<LiveMigrateResult> {
    const a = this.conn(from);
    const b = this.conn(to);
    if (from === to) throw new DriverError(`liveMigrate: ${spec.name}: source and target are the same node ${from}`, false, from);
    if (spec.ports.length > 0) return { kind: 'cold', why: 'published ports cannot move with the process' };
    const name = containerName(spec.name);
    const src = await this.inspectContainer(a, name);
    if (!src || !this.ours(labelsOf(src)) || !src.State.Running) return { kind: 'cold', why: `${name} is not running on ${from}: no process state to keep` };
    const [okA, okB] = await Promise.all([this.supportsCheckpoint(a), this.supportsCheckpoint(b)]);
    if (!okA || !okB) return { kind: 'cold', why: `no working CRIU checkpoint on ${!okA ? from : to}` };

    // prepare everything that can be done while the instance runs
    await this.createInstance(to, spec, generation);
    const dstInfo = await this.inspectContainer(b, name);
    if (!dstInfo) throw new DriverError(`node ${to}: container ${name} vanished while preparing the migration`, true, to);
    const [infoA, infoB] = await Promise.all([
      this.call(a, 'info', (signal) => loose<{ DockerRootDir: string }>(a.docker, 'info', { abortSignal: signal })),
      this.call(b, 'info', (signal) => loose<{ DockerRootDir: string }>(b.docker, 'info', { abortSignal: signal })),
    ]);
    const ck = `drover-${Date.now().toString(36)}`;
    const ckDirA = `${infoA.DockerRootDir}/drover-checkpoints/${src.Id}`;
    const ckDirB = `${infoB.DockerRootDir}/containers/${dstInfo.Id}/checkpoints`;
    let ckA: Docker.Container | undefined;
    let ckB: Docker.Container | undefined;
    let sync: SyncSession | undefined;
    let frozen = false;
    let restored = false;
    try {
      if (spec.disks.length > 0) {
        // a first pass while running makes the final one cheaper only with incremental sync; the listing is what we need
        sync = await this.prepareSync(a, b, spec.name);
      }
      ckA = await this.createHelper(a, spec.name, 'ck-src', { binds: [`${ckDirA}:/ck`] });
      ckB = await this.createHelper(b, spec.name, 'ck-dst', { binds: [`${ckDirB}:/ck`] });
      const hA = ckA;
      const hB = ckB;
      const t0 = Date.now();
      frozen = true;
      await this.call(a, `checkpoint ${name}`, (signal) => loose<unknown>(a.docker.getContainer(src.Id), 'createCheckpoint', {
        CheckpointID: ck, CheckpointDir: ckDirA, Exit: true, abortSignal: signal,
      }), Math.max(this.timeout, 120_000));
      await Promise.all([
        sync ? this.runSync(a, b, spec.name, sync, onProgress) : Promise.resolve(0),
        this.transfer(a, b, `copy checkpoint of ${name}`,
          (signal) => hA.getArchive({ path: `/ck/${ck}`, abortSignal: signal }),
          (body, signal) => hB.putArchive(body, { path: '/ck', abortSignal: signal })),
      ]);
      await this.call(b, `restore ${name}`, (signal) => dial<unknown>(b.docker, {
        // the checkpoint goes in the query only: API >= 1.24 refuses a start with a host config in the body
        path: `/containers/${dstInfo.Id}/start?`, method: 'POST', options: { _query: { checkpoint: ck }, _body: {} }, abortSignal: signal,
        statusCodes: { 204: true, 304: 'container already started', 404: 'no such container', 500: 'server error' },
      }),
        Math.max(this.timeout, 120_000));
      restored = true;
      const downtimeMs = Date.now() - t0;
      // the instance runs on `to` only: roles swap, the old container goes
      await Promise.all([this.setMarker(b, spec.name, 'primary', generation), this.setMarker(a, spec.name, 'replica', generation)]);
      await this.removeContainerByName(a, name).catch(() => { /* a stopped leftover; plan removes it */ });
      return { kind: 'live', downtimeMs };
    } catch (e) {
      if (frozen && !restored) {
        // never leave the instance on no node: make sure nothing runs on `to`, start it again on `from` (cold)
        const why = e instanceof Error ? e.message : String(e);
        try { await this.stopInstance(to, spec.name); } catch { /* unreachable target: it cannot run it either */ }
        try {
          await this.startInstance(from, spec.name);
        } catch (e2) {
          throw new DriverError(`live migration of ${spec.name} failed (${why}), and restarting it on ${from} failed too: ${(e2 as Error).message}`, true, from);
        }
        throw new DriverError(`live migration of ${spec.name} from ${from} to ${to} failed: ${why}; the instance was restarted (cold) on ${from}`,
          e instanceof DriverError ? e.transient : true, from);
      }
      throw e;
    } finally {
      // the sync helpers are kept for the next sync (removed with the instance or its disks)
      await Promise.all([this.removeHelper(a, ckA), this.removeHelper(b, ckB)]);
      if (frozen) {
        await this.call(a, 'delete checkpoint', (signal) => loose<unknown>(a.docker.getContainer(src.Id), 'deleteCheckpoint', ck, { dir: ckDirA, abortSignal: signal }))
          .catch(() => { /* the directory is removed with the data root at worst */ });
      }
    }
  }

  async close(): Promise<void> {
    this.conns.clear();
  }
}

interface ManifestEntry {
  /** f file, d directory, l symlink, o other */
  readonly type: 'f' | 'd' | 'l' | 'o';
  readonly size: number;
  /** mode:uid:gid */
  readonly meta: string;
  md5: string;
}

class SyncSession {
  src: Docker.Container | undefined;
  dst: Docker.Container | undefined;
  total = 0;
  deleted = 0;
  files = 0;
  /** false when the target's manifest could not be made: copy everything */
  incremental = true;
  /** the target's content per disk (paths relative to the disk) */
  target = new Map<number, Map<string, ManifestEntry>>();
  constructor(readonly disks: readonly number[]) {
    for (const d of disks) this.target.set(d, new Map());
  }
}

export function createDockerDriver(opts: DockerDriverOptions): Driver {
  return new DockerDriver(opts);
}

export { engineMessage };
