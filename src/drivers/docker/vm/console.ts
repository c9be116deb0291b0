/**
 * A VM's serial console. QEMU writes everything the guest prints to the console log in the run volume
 * (chardev logfile, appended across boots), so it is kept on the node and readable whether the VM runs or
 * not; the console itself is the chardev's unix socket, reached through the engine API (streams.ts).
 */
import type { Duplex } from 'node:stream';
import { DriverError } from '../../driver.ts';
import { VM_PATHS } from '../../qemu/argv.ts';
import { loose, readAllBuffer } from '../api.ts';
import type { Engine } from '../engine.ts';
import { containerName } from '../names.ts';
import { socketStream } from './streams.ts';

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
export async function openConsole(e: Engine, node: string, instance: string): Promise<Duplex> {
  const c = e.conn(node);
  const info = await e.ownContainer(c, containerName(instance));
  if (!info?.State.Running) throw new DriverError(`node ${node}: instance ${instance} has no running VM here`, false, node);
  return socketStream(e, c, info.Id, VM_PATHS.console, `console of ${instance}`);
}
