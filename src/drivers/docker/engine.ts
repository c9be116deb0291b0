/**
 * The engine context every concern module shares: the driver's options, one connection per node
 * (unix socket, tcp, or tcp with mutual TLS), and the wrappers that give each engine call a timeout
 * and turn its failure into a DriverError naming the node and the step (errors.ts). Per-node caches
 * (disk capacity, CRIU probe, images being copied) live here too, so that they go with the driver.
 */
import Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { DriverError } from '../driver.ts';
import type { DesiredNode } from '../../model/desired.ts';
import { labelsOf, loose, type ContainerInfo, type VolumeInfo } from './api.ts';
import { statusOf, toDriverError } from './errors.ts';
import { BUILTIN_HELPER_IMAGE } from './helper-image.ts';
import type { NodeFacts } from './facts.ts';
import { LABEL } from './names.ts';

export interface DockerDriverOptions {
  readonly cluster: string;
  readonly nodes: readonly DesiredNode[];
  /** Timeout of one engine call, ms (default 10000). Streams use it as an idle timeout. */
  readonly timeoutMs?: number;
  /**
   * Image with a busybox-like sh, find, stat, md5sum, tar, rm, df, sleep for helpers (Cluster spec.docker.helperImage);
   * default: the one Drover builds from this machine's busybox-static and loads into each node (helper-image.ts).
   */
  readonly helperImage?: string;
  /** Seconds a container gets between SIGTERM and SIGKILL on stop (default 10). */
  readonly stopTimeoutS?: number;
  /** Re-sync only what changed (content manifests on both sides; default true). false: always copy whole volumes. */
  readonly incrementalSync?: boolean;
  /** Bound of a real checkpoint in a live migration (default 30000): past it the attempt is aborted, the move done cold. */
  readonly checkpointTimeoutMs?: number;
  /** Pull an image from its registry when no node of the cluster has it (default false: no registry here). */
  readonly pullImages?: boolean;
}

export interface CriuProbe {
  readonly result: Promise<boolean>;
  /** set once the probe has settled */
  known?: boolean;
  /** id of the container started with the probe: the engine restarted when it no longer runs */
  sentinel?: string;
}

export interface Conn {
  readonly name: string;
  readonly endpoint: string;
  readonly desired: DesiredNode;
  readonly docker: Docker;
  /** the IP of a tcp endpoint, for port bindings */
  readonly address?: string;
}

export type Work<T> = (signal: AbortSignal) => Promise<T>;

/** An engine call that got no answer within its time: the engine is hung, partitioned, or the work itself hangs. */
export class EngineTimeout extends DriverError {}


export function parseEndpoint(endpoint: string): { socketPath: string } | { host: string; port: number } {
  const unix = /^unix:\/\/(\/.+)$/.exec(endpoint);
  if (unix) return { socketPath: unix[1]! };
  const tcp = /^(?:tcp|http|https):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(endpoint);
  if (tcp) return { host: tcp[1]!.replace(/^\[|\]$/g, ''), port: tcp[2] ? Number(tcp[2]) : 2375 };
  throw new Error(`unsupported endpoint "${endpoint}" (expected unix:///path or tcp://host:port)`);
}

/** A dockerode client for a node's endpoint; configuration faults are non-transient DriverErrors. */
function connect(node: string, desired: DesiredNode): Conn {
  if (!desired.endpoint) throw new DriverError(`node ${node}: no endpoint in its manifest (the docker backend needs one)`, false, node);
  let target: ReturnType<typeof parseEndpoint>;
  try {
    target = parseEndpoint(desired.endpoint);
  } catch (e) {
    throw new DriverError(`node ${node}: ${(e as Error).message}`, false, node);
  }
  const base = { name: node, endpoint: desired.endpoint, desired };
  if ('socketPath' in target) return { ...base, docker: new Docker({ socketPath: target.socketPath }) };
  const address = isIP(target.host) ? target.host : undefined;
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new DriverError(`node ${node}: cannot read TLS ${what} file ${file}: ${(e as Error).message}`, false, node);
    }
  };
  const tls = desired.tls;
  const docker = tls
    ? new Docker({ host: target.host, port: target.port, protocol: 'https', ca: read('ca', tls.ca), cert: read('cert', tls.cert), key: read('key', tls.key) })
    : new Docker({ host: target.host, port: target.port, protocol: 'http' });
  return { ...base, docker, ...(address ? { address } : {}) };
}

export class Engine {
  readonly cluster: string;
  readonly timeout: number;
  readonly stopTimeoutS: number;
  readonly helperImage: string;
  /** node → its data root's size and its links as this process last knew them (facts.ts) */
  readonly factsCache = new Map<string, NodeFacts>();
  /** node → the measurement of its facts under way (facts.ts: one at a time) */
  readonly factsInFlight = new Map<string, Promise<NodeFacts>>();
  /** node → CRIU probe (a real checkpoint), valid while its sentinel container runs (criu.ts) */
  readonly criuCache = new Map<string, CriuProbe>();
  /** node + network → the making sure of its Docker network under way (networks.ts: one at a time) */
  readonly networkInFlight = new Map<string, Promise<string>>();
  /**
   * node → its engine's version (/version), with the server version it was read from: asked again after a
   * transient failure of a call (the engine may have restarted) or when /info shows another server version.
   */
  readonly versionCache = new Map<string, { readonly server: string; readonly api?: string }>();
  /** nodes whose helper image was made sure of at their first probe */
  readonly helperChecked = new Set<string>();
  /** node + image → the copy of that image under way */
  readonly imageInFlight = new Map<string, Promise<void>>();
  private readonly conns = new Map<string, Conn>();

  constructor(readonly opts: DockerDriverOptions) {
    this.cluster = opts.cluster;
    this.timeout = opts.timeoutMs ?? 10_000;
    this.stopTimeoutS = opts.stopTimeoutS ?? 10;
    this.helperImage = opts.helperImage ?? BUILTIN_HELPER_IMAGE;
  }

  /**
   * The bound on starting a container (a helper's, a replica server's): it sets up namespaces, mounts and
   * cgroups, far slower than an API answer, and slower still while several start at once on a busy node
   * (over 3 s seen on 2 cores with ten sync helpers). Probes keep the short bound that tells a hung engine.
   */
  get startTimeout(): number { return Math.max(this.timeout, 60_000); }

  conn(node: string): Conn {
    const have = this.conns.get(node);
    if (have) return have;
    const desired = this.opts.nodes.find((n) => n.name === node);
    if (!desired) {
      const known = this.opts.nodes.map((n) => n.name).join(', ') || 'none';
      throw new DriverError(`unknown node "${node}": not a node of cluster ${this.cluster} (nodes: ${known})`, false, node);
    }
    const c = connect(node, desired);
    this.conns.set(node, c);
    return c;
  }

  /** One engine call with a timeout; every failure becomes a DriverError naming the node and the step. */
  async call<T>(c: Conn, what: string, fn: Work<T>, timeoutMs = this.timeout): Promise<T> {
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const work = (async () => fn(ac.signal))();
    work.catch(() => { /* reported through the race below */ });
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        reject(new EngineTimeout(`node ${c.name} (${c.endpoint}): ${what}: no answer within ${timeoutMs} ms (engine hung, partitioned or overloaded)`, true, c.name));
      }, timeoutMs);
    });
    try {
      return await Promise.race([work, expired]);
    } catch (e) {
      const err = toDriverError(c.name, c.endpoint, what, e);
      if (err.transient) this.versionCache.delete(c.name);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Like call(), but a 404 resolves to undefined. */
  maybe<T>(c: Conn, what: string, fn: Work<T>, timeoutMs?: number): Promise<T | undefined> {
    return this.call(c, what, async (signal) => {
      try {
        return await fn(signal);
      } catch (e) {
        if (statusOf(e) === 404) return undefined;
        throw e;
      }
    }, timeoutMs);
  }

  /** Time for a call that may first stop a container. */
  get stopCallMs(): number {
    return this.timeout + this.stopTimeoutS * 1000;
  }

  ours(labels: Record<string, string>): boolean {
    return labels[LABEL.cluster] === this.cluster;
  }

  foreign(c: Conn, kind: string, name: string): DriverError {
    return new DriverError(
      `node ${c.name}: a ${kind} named ${name} exists but is not Drover's for cluster ${this.cluster} ` +
      `(no label ${LABEL.cluster}=${this.cluster}); Drover does not touch it: remove or rename it`, false, c.name);
  }

  inspectContainer(c: Conn, name: string): Promise<ContainerInfo | undefined> {
    return this.maybe(c, `inspect container ${name}`, (signal) =>
      c.docker.getContainer(name).inspect({ abortSignal: signal }) as Promise<ContainerInfo>);
  }

  inspectVolume(c: Conn, name: string): Promise<VolumeInfo | undefined> {
    return this.maybe(c, `inspect volume ${name}`, (signal) =>
      c.docker.getVolume(name).inspect({ abortSignal: signal }) as Promise<VolumeInfo>);
  }

  /** A container of ours by name: undefined when absent, an error when someone else's. */
  async ownContainer(c: Conn, name: string): Promise<ContainerInfo | undefined> {
    const info = await this.inspectContainer(c, name);
    if (info && !this.ours(labelsOf(info))) throw this.foreign(c, 'container', name);
    return info;
  }

  /** Remove a container of ours by name (force); absent is fine; someone else's is an error. */
  async removeContainerByName(c: Conn, name: string): Promise<void> {
    const info = await this.ownContainer(c, name);
    if (!info) return;
    await this.maybe(c, `remove container ${name}`, (signal) =>
      c.docker.getContainer(info.Id).remove({ force: true, v: false, abortSignal: signal }), this.stopCallMs);
  }

  /** The engine's answer to many calls, e.g. its data root and whether it is experimental. */
  info<T>(c: Conn): Promise<T> {
    return this.call(c, 'info', (signal) => loose<T>(c.docker, 'info', { abortSignal: signal }));
  }

  forget(): void {
    this.conns.clear();
  }
}

/** The engine's 304 (already started / already stopped) means the step is done: steps are idempotent. */
export async function alreadyDone(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof DriverError && e.status === 304)) throw e;
  }
}
