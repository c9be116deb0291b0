/**
 * Byte streams into a VM's container through the engine API, which is already mutual-TLS-capable: a
 * hijacked `exec` of `socat - UNIX-CONNECT:<socket>` gives the master a duplex stream to the QMP monitor or
 * the serial console, on any host, without a TCP port opened for either (both stay unix sockets in the
 * container's run volume). And files streamed into a container as a one-file tar (kernel, disk image).
 */
import type Docker from 'dockerode';
import { createReadStream, statSync } from 'node:fs';
import { Duplex, PassThrough, Readable } from 'node:stream';
import type { Conn, Engine } from '../engine.ts';
import { header } from '../tar.ts';

/** A duplex stream to the unix socket `socket` inside the running container `id` (stdin → socket → stdout). */
export async function socketStream(e: Engine, c: Conn, id: string, socket: string, what: string): Promise<Duplex> {
  const container = c.docker.getContainer(id);
  const ex = await e.call(c, `${what}: create exec`, (signal) => container.exec({
    Cmd: ['socat', '-', `UNIX-CONNECT:${socket}`], AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: false, abortSignal: signal,
  } as Docker.ExecCreateOptions));
  const sock = await e.call(c, `${what}: start exec`, () => ex.start({ hijack: true, stdin: true }) as Promise<Duplex>);
  const out = new PassThrough();
  c.docker.modem.demuxStream(sock, out, new PassThrough());
  const duplex = new Duplex({
    read() { out.resume(); },
    write(chunk: Buffer, _enc, cb) { sock.write(chunk, cb); },
    final(cb) { sock.end(); cb(); },
    destroy(err, cb) { sock.destroy(); cb(err); },
  });
  out.on('data', (b: Buffer) => { if (!duplex.push(b)) out.pause(); });
  const end = (): void => { duplex.push(null); };
  sock.on('end', end);
  sock.on('close', () => { end(); duplex.destroy(); });
  sock.on('error', (err: Error) => duplex.destroy(err));
  return duplex;
}

/**
 * A tar stream of the files `name → path on the master`, read as they go (a disk image may be large), in
 * this order; a Buffer is a file's content itself (a marker that comes last).
 */
export function tarOfFiles(files: Readonly<Record<string, string | Buffer>>): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    for (const [name, from] of Object.entries(files)) {
      const size = typeof from === 'string' ? statSync(from).size : from.length;
      yield header(name, '0', 0o644, size, Math.floor(Date.now() / 1000));
      if (typeof from !== 'string') yield from;
      else for await (const chunk of createReadStream(from)) yield chunk as Buffer;
      if (size % 512) yield Buffer.alloc(512 - (size % 512));
    }
    yield Buffer.alloc(1024);
  }
  return Readable.from(gen());
}
