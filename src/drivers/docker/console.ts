/**
 * `drover logs` and `drover console` on the docker backend: the container's own output (the
 * engine's log API, demultiplexed as it arrives so stdout and stderr keep their order), and a
 * shell (`sh`) exec'd inside the running container, with a TTY when the operator has one (resized
 * with the operator's terminal) and plain pipes otherwise. Only the setup calls have the engine
 * timeout: a session or a follow lasts as long as the operator wants.
 */
import type Docker from 'dockerode';
import { DriverError, type ConsoleEnds, type LogRequest, type LogWriter } from '../driver.ts';
import { loose } from './api.ts';
import type { Conn, Engine } from './engine.ts';
import { containerName } from './names.ts';
import { vmConsole, vmLogs } from './vm/console.ts';
import { isVmContainer } from './vm/lifecycle.ts';

export async function instanceLogs(e: Engine, node: string, instance: string, req: LogRequest, write: LogWriter): Promise<void> {
  const c = e.conn(node);
  const info = await e.ownContainer(c, containerName(instance));
  if (!info) throw new DriverError(`node ${node}: no container for ${instance}`, false, node);
  if (isVmContainer(info)) return vmLogs(e, c, info, req, write); // a VM's output is its serial console log
  const opts = { stdout: true, stderr: true, follow: req.follow, ...(req.since !== undefined && { since: Math.floor(req.since / 1000) }) };
  const h = c.docker.getContainer(info.Id);
  const out = await e.call(c, `logs of ${instance}`, (signal) => loose<Buffer | NodeJS.ReadableStream>(h, 'logs', { ...opts, abortSignal: signal }));
  const frames = new Frames(write);
  if (Buffer.isBuffer(out)) return frames.push(out);
  await pump(out, (b) => frames.push(b), req.signal);
}

export async function openConsole(e: Engine, node: string, instance: string, ends: ConsoleEnds): Promise<number> {
  const c = e.conn(node);
  const info = await e.ownContainer(c, containerName(instance));
  if (!info) throw new DriverError(`node ${node}: no container for ${instance}`, false, node);
  if (isVmContainer(info)) return vmConsole(e, c, info, ends); // a VM's console is its serial console
  if (!info.State.Running) throw new DriverError(`${instance} is not running on ${node} (${info.State.Status}): no console`, false, node);
  const tty = !!ends.tty;
  const h = c.docker.getContainer(info.Id);
  const ex = await e.call(c, `console of ${instance}: create exec`, (signal) => h.exec({
    Cmd: ['sh'], AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: tty, abortSignal: signal,
    ...(tty && { Env: ['TERM=' + (process.env.TERM ?? 'xterm')] }),
  } as Docker.ExecCreateOptions));
  const stream = await e.call(c, `console of ${instance}: start exec`, () => ex.start({ hijack: true, stdin: true, Tty: tty }) as Promise<NodeJS.ReadWriteStream>);
  // sized before the first keystroke goes in: a resize landing while a command runs sends it SIGWINCH
  // mid-way (busybox `stty size` then failed), and a command typed at once would see a 0×0 terminal
  const stopResize = ends.tty ? await keepSize(e, c, ex, ends.tty) : undefined;
  // Input ends (a pipe's EOF): half-close, so the shell sees its stdin end and exits by itself.
  ends.input.pipe(stream, { end: true });
  const done = new Promise<void>((resolve) => { stream.on('end', resolve); stream.on('close', resolve); stream.on('error', () => resolve()); });
  if (tty) stream.on('data', (b: Buffer) => ends.output.write(b));
  else {
    const frames = new Frames((b) => ends.output.write(b));
    stream.on('data', (b: Buffer) => frames.push(b));
  }
  await done;
  ends.input.unpipe(stream);
  stopResize?.();
  return exitCodeOf(e, c, ex);
}

/** Size the exec's terminal as the operator's now (resolves once the engine took it, or refused) and at each resize. */
async function keepSize(e: Engine, c: Conn, ex: Docker.Exec, tty: NonNullable<ConsoleEnds['tty']>): Promise<() => void> {
  const resize = (): Promise<void> => {
    const { columns, rows } = tty.size();
    return e.call(c, 'console: resize', (signal) => loose(ex, 'resize', { h: rows, w: columns, abortSignal: signal })).then(() => {}, () => { /* the next resize tries again */ });
  };
  await resize();
  return tty.onResize(() => { void resize(); });
}

async function exitCodeOf(e: Engine, c: Conn, ex: Docker.Exec): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const st = await e.call(c, 'console: inspect exec', (signal) => loose<{ Running: boolean; ExitCode: number | null }>(ex, 'inspect', { abortSignal: signal }));
    if (!st.Running && st.ExitCode !== null) return st.ExitCode;
    await new Promise((r) => setTimeout(r, 20));
  }
  return 0; // output and input closed while it still runs: the session is over for the operator
}

/** Copy a stream into `fn` until it ends or `signal` aborts (then the stream is destroyed). */
function pump(stream: NodeJS.ReadableStream, fn: (b: Buffer) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => { (stream as NodeJS.ReadableStream & { destroy(): void }).destroy(); resolve(); };
    if (signal.aborted) return stop();
    signal.addEventListener('abort', stop, { once: true });
    stream.on('data', (b: Buffer | string) => fn(typeof b === 'string' ? Buffer.from(b) : b));
    const end = () => { signal.removeEventListener('abort', stop); resolve(); };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  });
}

/**
 * The engine's multiplexed stream (a non-TTY container's logs and exec output): frames of an
 * 8-byte header (stream type, 3 zero bytes, big-endian length) and that many bytes, split across
 * chunks anyhow. Written out frame by frame, in order.
 */
class Frames {
  private pending: Buffer = Buffer.alloc(0);
  constructor(private readonly write: LogWriter) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const len = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + len) return;
      const type = this.pending[0];
      this.write(this.pending.subarray(8, 8 + len), type === 2 ? 'stderr' : 'stdout');
      this.pending = this.pending.subarray(8 + len);
    }
  }
}
