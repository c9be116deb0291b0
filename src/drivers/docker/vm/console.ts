/**
 * A VM's serial console. QEMU writes everything the guest prints to the console log in the run volume
 * (chardev logfile, appended across boots), so it is kept on the node and readable whether the VM runs or
 * not; the console itself is the chardev's unix socket, reached through the engine API (streams.ts).
 */
import type Docker from 'dockerode';
import { PassThrough, type Duplex } from 'node:stream';
import { DriverError } from '../../driver.ts';
import { VM_PATHS } from '../../qemu/argv.ts';
import { loose, readAllBuffer, type ContainerInfo } from '../api.ts';
import type { Conn, Engine } from '../engine.ts';
import { containerName } from '../names.ts';
import { socketStream } from './streams.ts';

/** What `drover logs` asks (the shape of the driver's LogRequest): `since` cannot apply, the console log has no times. */
export interface VmLogRequest { readonly follow: boolean; readonly signal: AbortSignal }
/** The operator's end of a console session (the shape of the driver's ConsoleEnds). */
export interface VmConsoleEnds { readonly input: NodeJS.ReadableStream; readonly output: NodeJS.WritableStream; readonly tty?: unknown }

/** Ctrl-] ends an interactive serial console session (as telnet and virsh console do): the guest may never close it. */
export const CONSOLE_ESCAPE = 0x1d;

/** The first file of a tar archive (the archive API wraps the one file asked for in a tar). */
export function firstTarFile(tar: Buffer): Buffer {
  if (tar.length < 512) return Buffer.alloc(0);
  const size = parseInt(tar.toString('latin1', 124, 136).replace(/\0.*$/, '').trim() || '0', 8);
  return tar.subarray(512, 512 + size);
}

/** The console log of the instance's VM on `node` ('' when it has printed nothing yet). */
export async function consoleLog(e: Engine, node: string, instance: string): Promise<string> {
  const c = e.conn(node);
  const info = await e.ownContainer(c, containerName(instance));
  if (!info) throw new DriverError(`node ${node}: instance ${instance} has no VM container here`, false, node);
  const tar = await e.maybe(c, `read console log of ${instance}`, async (signal) =>
    readAllBuffer(await loose<NodeJS.ReadableStream>(c.docker.getContainer(info.Id), 'getArchive', { path: VM_PATHS.consoleLog, abortSignal: signal })), 60_000);
  return tar ? firstTarFile(tar).toString() : '';
}

/** An interactive stream to the instance's serial console (the VM must run). */
export async function consoleStream(e: Engine, node: string, instance: string): Promise<Duplex> {
  const c = e.conn(node);
  const info = await e.ownContainer(c, containerName(instance));
  if (!info?.State.Running) throw new DriverError(`node ${node}: instance ${instance} has no running VM here`, false, node);
  return socketStream(e, c, info.Id, VM_PATHS.console, `console of ${instance}`);
}

/**
 * `drover logs` of a VM: its console log, all of it; following, what the guest prints from then on (a `tail -f`
 * in the VM's container, until `signal` aborts or QEMU exits). A stopped VM's log is read from its volume.
 */
export async function vmLogs(e: Engine, c: Conn, info: ContainerInfo, req: VmLogRequest, write: (chunk: Buffer, stream: 'stdout' | 'stderr') => void): Promise<void> {
  if (!req.follow || !info.State.Running) {
    const tar = await e.maybe(c, 'read console log', async (signal) =>
      readAllBuffer(await loose<NodeJS.ReadableStream>(c.docker.getContainer(info.Id), 'getArchive', { path: VM_PATHS.consoleLog, abortSignal: signal })), 60_000);
    if (tar) write(firstTarFile(tar), 'stdout');
    return;
  }
  const ex = await e.call(c, 'follow console log: create exec', (signal) => c.docker.getContainer(info.Id).exec({
    Cmd: ['tail', '-c', '+1', '-f', VM_PATHS.consoleLog], AttachStdout: true, AttachStderr: true, Tty: false, abortSignal: signal,
  } as Docker.ExecCreateOptions));
  const stream = await e.call(c, 'follow console log: start exec', () => ex.start({ hijack: true, stdin: false }) as Promise<NodeJS.ReadableStream & { destroy(): void }>);
  const out = new PassThrough();
  c.docker.modem.demuxStream(stream, out, new PassThrough());
  out.on('data', (b: Buffer) => write(b, 'stdout'));
  await new Promise<void>((resolve) => {
    const stop = (): void => { stream.destroy(); resolve(); };
    if (req.signal.aborted) return stop();
    req.signal.addEventListener('abort', stop, { once: true });
    for (const ev of ['end', 'close', 'error']) stream.on(ev, () => { req.signal.removeEventListener('abort', stop); resolve(); });
  });
}

/**
 * `drover console` of a VM: the serial console, both ways, until the operator's input ends or, on a TTY, they
 * type Ctrl-] (the guest never ends the session itself). Resolves 0; rejects when the VM does not run.
 */
export async function vmConsole(e: Engine, c: Conn, info: ContainerInfo, ends: VmConsoleEnds): Promise<number> {
  if (!info.State.Running) throw new DriverError(`node ${c.name}: the VM is not running (${info.State.Status}): no console`, false, c.name);
  const stream = await socketStream(e, c, info.Id, VM_PATHS.console, 'serial console');
  stream.on('data', (b: Buffer) => ends.output.write(b));
  const onInput = (b: Buffer | string): void => {
    const buf = typeof b === 'string' ? Buffer.from(b) : b;
    const esc = ends.tty ? buf.indexOf(CONSOLE_ESCAPE) : -1;
    if (esc >= 0) { if (esc > 0) stream.write(buf.subarray(0, esc)); stream.destroy(); return; }
    stream.write(buf);
  };
  ends.input.on('data', onInput);
  const inputEnded = (): void => { stream.end(); setTimeout(() => stream.destroy(), 500); };
  ends.input.on('end', inputEnded);
  await new Promise<void>((resolve) => { stream.on('close', resolve); stream.on('error', () => resolve()); });
  ends.input.off('data', onInput);
  ends.input.off('end', inputEnded);
  return 0;
}
