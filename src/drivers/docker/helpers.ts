/**
 * Helper containers: short-lived or kept containers of the helper image (label drover.helper) that give
 * the archive API and `exec` access to volumes and host directories, and run small commands (df, find).
 */
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { DriverError } from '../driver.ts';
import { demuxLogs, loose, readAll, type RunResult } from './api.ts';
import type { Conn, Engine } from './engine.ts';
import { ensureImage } from './images.ts';
import { LABEL, helperName } from './names.ts';
import { tarOf } from './tar.ts';

export interface HelperMount { readonly source: string; readonly target: string; readonly readOnly?: boolean }

/** Create (never start) a helper container of ours, replacing a leftover of the same name. */
export async function createHelper(e: Engine, c: Conn, instance: string, what: string, opts: {
  cmd?: string[]; mounts?: readonly HelperMount[]; binds?: string[];
  /** in the host's PID namespace (the rescue of a hung checkpoint, criu.ts) */
  host?: boolean;
  /** its network (default none): `container:<id>` shares an instance's (a TCP health check, health.ts) */
  network?: string;
  /** its stdin open until the first client attached to it leaves (StdinOnce): a `cat` helper then ends with it */
  stdin?: boolean;
  /** another image than the helper image (the QEMU image prepares a VM's files), with this entrypoint */
  image?: { readonly name: string; readonly entrypoint: readonly string[] };
}): Promise<Docker.Container> {
  const name = helperName(instance, what);
  if (!opts.image) await ensureImage(e, c, e.helperImage);
  await e.removeContainerByName(c, name);
  const create = (): Promise<Docker.Container> => e.call(c, `create helper ${name}`, (signal) => c.docker.createContainer({
    name, Image: opts.image?.name ?? e.helperImage, Cmd: opts.cmd ?? ['true'], Entrypoint: [...(opts.image?.entrypoint ?? [])],
    Labels: { [LABEL.cluster]: e.cluster, [LABEL.instance]: instance, [LABEL.helper]: what },
    ...(opts.stdin && { OpenStdin: true, StdinOnce: true }),
    HostConfig: {
      NetworkMode: opts.network ?? 'none', RestartPolicy: { Name: 'no' },
      Mounts: (opts.mounts ?? []).map((m) => ({ Type: 'volume' as const, Source: m.source, Target: m.target, ReadOnly: m.readOnly ?? false })),
      ...(opts.binds ? { Binds: opts.binds } : {}),
      ...(opts.host ? { PidMode: 'host' } : {}),
    },
    abortSignal: signal,
  }));
  try {
    return await create();
  } catch (err) {
    if (!(err instanceof DriverError && err.status === 409)) throw err;
    await e.removeContainerByName(c, name); // a concurrent leftover: clear it once more
    return create();
  }
}

export async function removeHelper(e: Engine, c: Conn, h: Docker.Container | undefined): Promise<void> {
  if (!h) return;
  try {
    await e.maybe(c, `remove helper ${h.id}`, (signal) => h.remove({ force: true, v: false, abortSignal: signal }));
  } catch { /* a leftover is replaced by name next time */ }
}

/** Run a helper to completion and return its output. */
export async function runHelper(e: Engine, c: Conn, instance: string, what: string, cmd: string[],
  mounts: readonly HelperMount[] = [], timeoutMs = 120_000,
  place: { host?: boolean; network?: string; binds?: string[]; image?: { readonly name: string; readonly entrypoint: readonly string[] } } = {}): Promise<RunResult> {
  const h = await createHelper(e, c, instance, what, { cmd, mounts, ...place });
  try {
    await e.call(c, `start helper ${what}`, (signal) => h.start({ abortSignal: signal }), e.startTimeout);
    const res = await e.call(c, `wait for helper ${what}`, (signal) => loose<{ StatusCode: number }>(h, 'wait', { abortSignal: signal }), timeoutMs);
    const logs = await e.call(c, `read helper ${what} output`, (signal) =>
      loose<Buffer>(h, 'logs', { stdout: true, stderr: true, follow: false, abortSignal: signal }), Math.max(e.timeout, 60_000));
    return { exitCode: res.StatusCode, ...demuxLogs(Buffer.isBuffer(logs) ? logs : Buffer.from(String(logs))) };
  } finally {
    await removeHelper(e, c, h);
  }
}

export interface ExecRun {
  readonly stdout: PassThrough;
  readonly done: Promise<{ exitCode: number; stderr: string }>;
  abort(): void;
}

/** Start a command in a running helper; `stdout` streams its output, `done` its exit code and stderr. */
export async function execStream(e: Engine, c: Conn, h: Docker.Container, what: string, cmd: string[]): Promise<ExecRun> {
  const ex = await e.call(c, `${what}: create exec`, (signal) =>
    h.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false, abortSignal: signal } as Docker.ExecCreateOptions));
  const stream = await e.call(c, `${what}: start exec`, () => ex.start({ hijack: true, stdin: false }) as Promise<NodeJS.ReadableStream>);
  const stdout = new PassThrough();
  const err = new PassThrough();
  const errChunks: Buffer[] = [];
  err.on('data', (b: Buffer) => { if (errChunks.length < 64) errChunks.push(b); });
  c.docker.modem.demuxStream(stream, stdout, err);
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('end', () => { stdout.end(); resolve(); });
    stream.on('close', () => { stdout.end(); resolve(); });
    stream.on('error', (x: Error) => { stdout.destroy(x); reject(x); });
  });
  ended.catch(() => {});
  const done = (async () => {
    await ended;
    for (let i = 0; ; i++) {
      const st = await e.call(c, `${what}: inspect exec`, (signal) => loose<{ Running: boolean; ExitCode: number | null }>(ex, 'inspect', { abortSignal: signal }));
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
export async function exec(e: Engine, c: Conn, h: Docker.Container, what: string, cmd: string[], timeoutMs = 300_000): Promise<RunResult> {
  const x = await execStream(e, c, h, what, cmd);
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

/** Put small files into a helper's root (lists for the delete step). */
export async function putFiles(e: Engine, c: Conn, h: Docker.Container, what: string, files: Record<string, string>): Promise<void> {
  const body = tarOf(files);
  await e.call(c, what, (signal) => h.putArchive(body, { path: '/', abortSignal: signal }));
}
