/**
 * Small pieces of the Engine API that dockerode's typings lack or return raw: the shapes the driver
 * reads, untyped method calls, raw requests, log demuxing and JSON-lines stream errors.
 */
import type Docker from 'dockerode';

export interface ContainerInfo {
  readonly Id: string;
  readonly Config: { readonly Labels?: Record<string, string> | null; readonly Image?: string; readonly MacAddress?: string };
  readonly NetworkSettings?: { readonly Networks?: Readonly<Record<string, EndpointInfo>> | null };
  readonly State: { readonly Running: boolean; readonly Paused?: boolean; readonly Status: string; readonly StartedAt?: string };
}

/** A container's endpoint on one network, as listing and inspect show it (IPAMConfig: what it was created with). */
export interface EndpointInfo {
  /** empty once the engine released the endpoint (a stopped container) */
  readonly EndpointID?: string;
  readonly IPAddress?: string;
  readonly MacAddress?: string;
  readonly IPAMConfig?: { readonly IPv4Address?: string } | null;
}

export interface VolumeInfo {
  readonly Name: string;
  readonly Labels?: Record<string, string> | null;
}

export interface RunResult { readonly exitCode: number; readonly stdout: string; readonly stderr: string }

/** Call a dockerode method whose typings lack options the engine API takes (abortSignal, checkpoint, dir). */
export function loose<T>(target: object, method: string, ...args: unknown[]): Promise<T> {
  const fn = (target as Record<string, unknown>)[method];
  return (fn as (...a: unknown[]) => Promise<T>).apply(target, args);
}

/** A raw Engine API request through dockerode's modem. */
export function dial<T>(docker: Docker, opts: Record<string, unknown>): Promise<T> {
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

export function labelsOf(x: { Labels?: Record<string, string> | null } | { Config: { Labels?: Record<string, string> | null } }): Record<string, string> {
  const l = 'Config' in x ? x.Config.Labels : x.Labels;
  return l ?? {};
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return (await readAllBuffer(stream)).toString();
}

export async function readAllBuffer(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer | string>) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

/** The error reported inside a 200 JSON-lines stream (image load, pull), if any. */
export function streamError(text: string): string | undefined {
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
