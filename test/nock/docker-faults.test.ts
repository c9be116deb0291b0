/**
 * Faults a real engine will not produce on demand, against the docker driver: 500s, 404s, 409s, resets,
 * refused and hanging connections, bad TLS files. Each must end in a DriverError with the right `transient`
 * and a message naming the node and the step, never a crash or an unhandled rejection.
 * nock and real engines do not mix (hijacked streams break): keep this directory in its own process.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import nock from 'nock';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerDriver } from '../../src/drivers/docker/index.ts';
import { DriverError } from '../../src/drivers/driver.ts';
import type { DesiredNode, TlsFiles } from '../../src/model/desired.ts';
import type { InstanceSpec } from '../../src/model/operations.ts';

const ENGINE = 'http://127.0.0.99:2375';
const CLUSTER = 'faults';
const ours = { 'drover.cluster': CLUSTER, 'drover.instance': 'web' };

const node = (name: string, endpoint: string, tls?: TlsFiles): DesiredNode => ({
  name, labels: {}, cluster: CLUSTER, endpoint, group: 'default', drained: false, offline: false,
  source: { file: 'test', line: 1, column: 1 }, ...(tls ? { tls } : {}),
});
const driverFor = (endpoint = 'tcp://127.0.0.99:2375', timeoutMs = 2000, tls?: TlsFiles) =>
  createDockerDriver({ cluster: CLUSTER, nodes: [node('n1', endpoint, tls)], timeoutMs, stopTimeoutS: 1 });

const spec: InstanceSpec = {
  name: 'web', image: 'drover/busybox:1', memory: 32 << 20, vcpus: 1, diskTemplate: 'plain',
  disks: [{ size: 1 << 20, mount: '/data' }], env: {}, command: ['sleep', '1000'], ports: [],
};

async function failure(p: Promise<unknown>): Promise<DriverError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, DriverError, `expected a DriverError, got ${String(e)}`);
    return e as DriverError;
  }
  assert.unreachable('expected a rejection');
  throw new Error('unreachable');
}

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => { unhandled.push(e); };

const test = suite('docker driver faults (nock)');

test.before(() => {
  process.on('unhandledRejection', onUnhandled);
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost)/); // only the local fake servers below (unix sockets show as localhost)
});
test.after.each(() => {
  nock.cleanAll();
});
test.after(() => {
  process.off('unhandledRejection', onUnhandled);
  nock.enableNetConnect();
  nock.restore();
});

test('500 from the engine is transient and names node, step and engine message', async () => {
  nock(ENGINE).get('/info').reply(500, { message: 'engine exploded' });
  nock(ENGINE).get('/containers/json').query(true).reply(200, []);
  nock(ENGINE).get('/volumes').query(true).reply(200, { Volumes: [] });
  const e = await failure(driverFor().probe('n1'));
  assert.is(e.transient, true);
  assert.is(e.node, 'n1');
  assert.match(e.message, 'node n1');
  assert.match(e.message, 'info');
  assert.match(e.message, '500');
  assert.match(e.message, 'engine exploded');
});

test('connection reset is transient', async () => {
  nock(ENGINE).get('/info').replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
  nock(ENGINE).get('/containers/json').query(true).reply(200, []);
  nock(ENGINE).get('/volumes').query(true).reply(200, { Volumes: [] });
  const e = await failure(driverFor().probe('n1'));
  assert.is(e.transient, true);
  assert.match(e.message, /connection reset/);
});

test('404 no such image, on no other node either: non-transient, names the image', async () => {
  nock(ENGINE).get('/containers/drover-web/json').reply(404, { message: 'No such container: drover-web' });
  nock(ENGINE).get('/images/drover/busybox:1/json').reply(404, { message: 'No such image: drover/busybox:1' });
  const e = await failure(driverFor().createInstance('n1', spec, 1));
  assert.is(e.transient, false);
  assert.match(e.message, 'drover/busybox:1');
  assert.match(e.message, 'no other node');
});

test('404 no such container on start: non-transient', async () => {
  nock(ENGINE).get('/containers/drover-web/json').reply(404, { message: 'No such container: drover-web' });
  const e = await failure(driverFor().startInstance('n1', 'web'));
  assert.is(e.transient, false);
  assert.match(e.message, 'no container');
});

test('404 on removing a volume that vanished meanwhile is fine (idempotent)', async () => {
  nock(ENGINE).get('/containers/json').query(true).reply(200, []);
  nock(ENGINE).get('/volumes').query(true).reply(200, { Volumes: [{ Name: 'drover-web-d0', Labels: { ...ours, 'drover.disk': '0' } }] });
  nock(ENGINE).delete('/volumes/drover-web-d0').reply(404, { message: 'get drover-web-d0: no such volume' });
  await driverFor().removeDisks('n1', 'web');
});

test('409 volume in use on removeDisks: non-transient, says why', async () => {
  nock(ENGINE).get('/containers/json').query(true).reply(200, []);
  nock(ENGINE).get('/volumes').query(true).reply(200, { Volumes: [{ Name: 'drover-web-d0', Labels: { ...ours, 'drover.disk': '0' } }] });
  nock(ENGINE).delete('/volumes/drover-web-d0').reply(409, { message: 'remove drover-web-d0: volume is in use - [abc]' });
  const e = await failure(driverFor().removeDisks('n1', 'web'));
  assert.is(e.transient, false);
  assert.match(e.message, 'in use');
});

test('409 name conflict on create with a different container: non-transient', async () => {
  nock(ENGINE).get('/containers/drover-web/json').reply(404, { message: 'No such container' });
  nock(ENGINE).get('/images/drover/busybox:1/json').reply(200, { Id: 'sha256:1' });
  nock(ENGINE).get('/volumes/drover-web-d0').reply(200, { Name: 'drover-web-d0', Labels: { ...ours, 'drover.disk': '0' } });
  nock(ENGINE).post('/containers/create').query(true).reply(409, { message: 'Conflict. The container name "/drover-web" is already in use' });
  nock(ENGINE).get('/containers/drover-web/json').reply(200, {
    Id: 'abc', Config: { Labels: { ...ours, 'drover.spec': 'other', 'drover.generation': '1' } }, State: { Running: false, Status: 'created' },
  });
  const e = await failure(driverFor().createInstance('n1', spec, 1));
  assert.is(e.transient, false);
  assert.match(e.message, '409');
  assert.match(e.message, 'Conflict');
});

test('an object without our cluster label is never touched', async () => {
  nock(ENGINE).get('/containers/drover-web-sync/json').reply(404, { message: 'No such container' }); // no kept sync helper
  nock(ENGINE).get('/containers/drover-web/json').reply(200, {
    Id: 'abc', Config: { Labels: { 'drover.cluster': 'someone-else' } }, State: { Running: true, Status: 'running' },
  });
  const e = await failure(driverFor().removeInstance('n1', 'web'));
  assert.is(e.transient, false);
  assert.match(e.message, 'not Drover');
  assert.ok(nock.isDone(), 'no delete was sent');
});

test('500 while creating a volume is transient', async () => {
  nock(ENGINE).get('/volumes/drover-web-d0').reply(404, { message: 'no such volume' });
  nock(ENGINE).post('/volumes/create').query(true).reply(500, { message: 'disk full' });
  const e = await failure(driverFor().createDisks('n1', 'web', spec.disks, 'primary', 1));
  assert.is(e.transient, true);
  assert.match(e.message, 'disk full');
});

test('an answer that never comes: transient timeout (tcp and unix socket)', async () => {
  const sockets: net.Socket[] = [];
  const hold = (s: net.Socket): void => { sockets.push(s); s.on('error', () => {}); };
  const tcp = net.createServer(hold);
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const port = (tcp.address() as net.AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'drover-nock-'));
  const unix = net.createServer(hold);
  await new Promise<void>((r) => unix.listen(join(dir, 'hang.sock'), r));
  try {
    for (const endpoint of [`tcp://127.0.0.1:${port}`, `unix://${join(dir, 'hang.sock')}`]) {
      const t0 = Date.now();
      const e = await failure(driverFor(endpoint, 300).probe('n1'));
      assert.is(e.transient, true);
      assert.match(e.message, 'no answer within 300 ms', e.message);
      assert.ok(Date.now() - t0 < 5000, 'gave up in time');
    }
  } finally {
    sockets.forEach((s) => s.destroy());
    await new Promise((r) => tcp.close(r));
    await new Promise((r) => unix.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('connection refused and missing socket: transient, says so', async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r)); // nothing listens there now
  let e = await failure(driverFor(`tcp://127.0.0.1:${port}`).probe('n1'));
  assert.is(e.transient, true);
  assert.match(e.message, 'connection refused');
  e = await failure(driverFor('unix:///nonexistent/drover.sock').probe('n1'));
  assert.is(e.transient, true);
  assert.match(e.message, 'socket not found', e.message);
});

test('unreadable TLS files and bad endpoints: non-transient, name the file', async () => {
  const tls = { ca: '/nonexistent/ca.pem', cert: '/nonexistent/cert.pem', key: '/nonexistent/key.pem' };
  let e = await failure(driverFor('tcp://127.0.0.99:2376', 2000, tls).probe('n1'));
  assert.is(e.transient, false);
  assert.match(e.message, '/nonexistent/ca.pem');
  e = await failure(driverFor('ftp://x').probe('n1'));
  assert.is(e.transient, false);
  assert.match(e.message, 'unsupported endpoint');
});

test('unknown node: non-transient', async () => {
  const e = await failure(driverFor().probe('n9'));
  assert.is(e.transient, false);
  assert.match(e.message, 'unknown node "n9"');
});

test('no unhandled rejections', async () => {
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(unhandled.map(String), []);
});

test.run();
