/**
 * A VM's monitor that closes under a driver call (QEMU quit, the container or the engine's stream went
 * away) surfaces as a transient DriverError naming the node, whichever entry point was talking QMP; an
 * error QEMU answers stays a non-transient one. Engine and monitor are scripted (fake-engine.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDockerDriver } from '../../src/drivers/docker/index.ts';
import { DriverError, type Driver } from '../../src/drivers/driver.ts';
import type { DesiredNode } from '../../src/model/desired.ts';
import { fakeEngine, type FakeEngine } from './fake-engine.ts';

const CLUSTER = 'qmpclosed';
const VM = { Id: 'c0ffee', Name: '/drover-vm1', State: { Running: true, Status: 'running' }, Config: { Labels: { 'drover.cluster': CLUSTER, 'drover.instance': 'vm1', 'drover.vm': '1' } } };
const DISK0 = { Name: 'drover-vm1-d0', Labels: { 'drover.cluster': CLUSTER, 'drover.instance': 'vm1', 'drover.disk': '0' } };

/** A monitor that greets, answers qmp_capabilities, then meets `next` command by `onCommand`. */
function monitor(onCommand: (cmd: string, conn: net.Socket, id: unknown) => void): Promise<{ sock: string; close(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qmp-'));
  const sock = path.join(dir, 'qmp.sock');
  const server = net.createServer((c) => {
    c.write(JSON.stringify({ QMP: { version: {}, capabilities: [] } }) + '\r\n');
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString();
      for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1)) {
        const m = JSON.parse(buf.slice(0, nl)) as { execute: string; id: unknown };
        if (m.execute === 'qmp_capabilities') c.write(JSON.stringify({ return: {}, id: m.id }) + '\r\n');
        else onCommand(m.execute, c, m.id);
      }
    });
    c.on('error', () => {});
  });
  return new Promise((r) => server.listen(sock, () => r({ sock, close: () => { server.close(); fs.rmSync(dir, { recursive: true, force: true }); } })));
}

async function bed(onCommand: (cmd: string, conn: net.Socket, id: unknown) => void): Promise<{ driver: Driver; engine: FakeEngine; done(): Promise<void> }> {
  const m = await monitor(onCommand);
  const engine = await fakeEngine({
    answer: (method, p) => {
      if (method === 'GET' && p === '/containers/drover-vm1/json') return { status: 200, body: VM };
      if (method === 'GET' && p === '/volumes/drover-vm1-d0') return { status: 200, body: DISK0 };
      return undefined;
    },
    socketOf: () => m.sock,
  });
  const node = (name: string): DesiredNode => ({ name, labels: {}, cluster: CLUSTER, endpoint: engine.endpoint, group: 'default', drained: false, offline: false, source: { file: 'test', line: 1, column: 1 } });
  const driver = createDockerDriver({ cluster: CLUSTER, nodes: [node('n1'), node('n2')], timeoutMs: 3000 });
  return { driver, engine, done: async () => { await driver.close(); await engine.close(); m.close(); } };
}

test('the monitor closes under syncDisks: a transient DriverError naming the node', async () => {
  const b = await bed((_cmd, c) => c.destroy());
  try {
    const err = await b.driver.syncDisks('n1', 'n2', 'vm1').then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof DriverError, `a DriverError, not ${String(err)}`);
    assert.is(err.transient, true);
    assert.is(err.node, 'n1');
    assert.match(err.message, /^node n1: QMP of c0ffee: QMP connection closed/);
    assert.ok(b.engine.stdin.some((l) => l.includes('query-named-block-nodes')), 'the driver was talking QMP when it closed');
  } finally { await b.done(); }
});

test('QEMU answers an error: passed on, not transient', async () => {
  const b = await bed((cmd, c, id) => c.write(JSON.stringify({ error: { class: 'GenericError', desc: `no ${cmd} here` }, id }) + '\r\n'));
  try {
    const err = await b.driver.syncDisks('n1', 'n2', 'vm1').then(() => undefined, (e: unknown) => e);
    assert.not.ok(err instanceof DriverError && err.transient, `not a transient DriverError: ${String(err)}`);
    assert.match(String(err), /GenericError: no query-named-block-nodes here/);
  } finally { await b.done(); }
});

test.run();
