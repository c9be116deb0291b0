/**
 * A Docker engine on a unix socket that answers the few calls a test scripts, and whose execs of
 * `socat - UNIX-CONNECT:<socket>` reach a unix socket on this host: the driver's whole QMP path (exec, the
 * hijacked stream, its stdout framing) without an engine, in front of a scripted monitor or a host QEMU.
 */
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Answer { readonly status: number; readonly body?: unknown }

export interface FakeEngineOptions {
  /** The answer to a plain call (path without the API version), or undefined for a 404; a promise answers late. */
  answer(method: string, path: string): Answer | undefined | Promise<Answer | undefined>;
  /** The host socket an exec of `socat - UNIX-CONNECT:<socket>` in container `id` reaches. */
  socketOf(id: string, socket: string): string;
}

export interface FakeEngine {
  readonly endpoint: string;
  /** Every line the driver wrote into an exec's stdin (QMP commands), in order. */
  readonly stdin: string[];
  /** Every plain call, as `METHOD /path`. */
  readonly calls: string[];
  close(): Promise<void>;
}

export async function fakeEngine(opts: FakeEngineOptions): Promise<FakeEngine> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-engine-'));
  const sock = path.join(dir, 'docker.sock');
  const execs = new Map<string, { id: string; socket: string }>();
  const stdin: string[] = [];
  const calls: string[] = [];
  const open = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', async () => {
      const p = (req.url ?? '').replace(/^\/v[0-9.]+/, '').replace(/\?.*$/, '');
      const exec = /^\/containers\/([^/]+)\/exec$/.exec(p);
      calls.push(`${req.method} ${p}`);
      let a: Answer | undefined;
      if (req.method === 'POST' && exec) {
        const cmd = (JSON.parse(body) as { Cmd: string[] }).Cmd;
        const id = `exec${execs.size + 1}`;
        execs.set(id, { id: exec[1]!, socket: cmd.at(-1)!.replace(/^UNIX-CONNECT:/, '') });
        a = { status: 201, body: { Id: id } };
      } else a = await opts.answer(req.method ?? 'GET', p);
      a ??= { status: 404, body: { message: `no such object: ${p}` } };
      res.writeHead(a.status, { 'Content-Type': 'application/json' }).end(a.body === undefined ? '' : JSON.stringify(a.body));
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const id = /\/exec\/([^/]+)\/start/.exec(req.url ?? '')?.[1];
    const ex = id ? execs.get(id) : undefined;
    if (!ex) { client.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'); return; }
    client.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    const target = net.connect(opts.socketOf(ex.id, ex.socket));
    open.add(client); open.add(target);
    // stdout of a non-tty exec: frames of [1, 0, 0, 0, length (BE32)] + bytes
    target.on('data', (b: Buffer) => { const h = Buffer.alloc(8); h[0] = 1; h.writeUInt32BE(b.length, 4); client.write(Buffer.concat([h, b])); });
    // the start request's own body ({"Detach":false,…}, Content-Length bytes) comes first: skipped
    let skip = Number(req.headers['content-length'] ?? 0);
    let lines = '';
    const onData = (b: Buffer): void => {
      if (skip > 0) { const n = Math.min(skip, b.length); skip -= n; b = b.subarray(n); }
      if (!b.length) return;
      lines += b.toString();
      for (let nl; (nl = lines.indexOf('\n')) >= 0; lines = lines.slice(nl + 1)) stdin.push(lines.slice(0, nl).trim());
      target.write(b);
    };
    client.on('data', onData);
    if (head.length) onData(head);
    const end = (): void => { client.destroy(); target.destroy(); };
    client.on('close', end); target.on('close', end);
    client.on('error', end); target.on('error', end);
  });
  await new Promise<void>((r) => server.listen(sock, r));
  return {
    endpoint: `unix://${sock}`,
    stdin,
    calls,
    close: async () => {
      for (const s of open) s.destroy();
      server.closeAllConnections(); // a call still waiting for a late answer
      await new Promise<void>((r) => server.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
