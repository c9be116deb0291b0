/** The QMP client against a scripted monitor on a unix socket (the real QEMU is exercised by test/vm). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { connectQmp, QmpError } from '../../src/drivers/qemu/qmp.ts';

/** A monitor that greets, then answers each command by `reply` and may emit events before the reply. */
function fakeMonitor(reply: (cmd: string, args: unknown, send: (o: object) => void) => object): Promise<{ sock: string; close(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qmp-'));
  const sock = path.join(dir, 'qmp.sock');
  const server = net.createServer((c) => {
    const send = (o: object) => c.write(JSON.stringify(o) + '\r\n');
    send({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 } }, capabilities: ['oob'] } });
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const m = JSON.parse(buf.slice(0, nl)) as { execute: string; arguments?: unknown; id: number };
        buf = buf.slice(nl + 1);
        send({ ...reply(m.execute, m.arguments, send), id: m.id });
      }
    });
  });
  return new Promise((resolve) => server.listen(sock, () => resolve({ sock, close: () => { server.close(); fs.rmSync(dir, { recursive: true, force: true }); } })));
}

/** The message a rejected promise carries. */
const rejection = (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: unknown) => String(e));

test('handshake, replies matched by id, events delivered before the reply that caused them', async () => {
  const m = await fakeMonitor((cmd, _args, send) => {
    if (cmd === 'query-status') return { return: { status: 'running', running: true } };
    if (cmd === 'stop') { send({ event: 'STOP', data: {}, timestamp: { seconds: 10, microseconds: 500_000 } }); return { return: {} }; }
    if (cmd === 'qmp_capabilities') return { return: {} };
    return { error: { class: 'CommandNotFound', desc: `The command ${cmd} has not been found` } };
  });
  const qmp = await connectQmp(net.connect(m.sock));
  const stop = qmp.waitEvent('STOP', 2000);
  assert.equal(await qmp.execute('query-status'), { status: 'running', running: true });
  await qmp.execute('stop');
  assert.is((await stop).atMs, 10_500);
  const err = await qmp.execute('nope').catch((e: unknown) => e);
  assert.ok(err instanceof QmpError);
  assert.is((err as QmpError).errorClass, 'CommandNotFound');
  qmp.close();
  await qmp.closed;
  assert.match(String(await qmp.execute('query-status').catch((e: unknown) => e)), /closed/);
  m.close();
});

test('a wait for an event that never comes rejects after its timeout, and on close', async () => {
  const m = await fakeMonitor(() => ({ return: {} }));
  const qmp = await connectQmp(net.connect(m.sock));
  assert.match(await rejection(qmp.waitEvent('RESUME', 50)), /no RESUME event within 50 ms/);
  const w = qmp.waitEvent('RESUME', 60_000);
  qmp.close();
  assert.match(await rejection(w), /closed/);
  m.close();
});

test('no greeting: rejects within its bound instead of hanging', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qmp-'));
  const sock = path.join(dir, 's');
  const server = net.createServer(() => {}); // accepts and stays silent, like a monitor taken by another client
  await new Promise<void>((r) => server.listen(sock, r));
  const s = net.connect(sock);
  assert.match(await rejection(connectQmp(s, 100)), /no greeting within 100 ms/);
  s.destroy(); server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test.run();
