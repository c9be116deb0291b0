/**
 * The probe of a node with a running VM asks the engine's version once, and its QEMU's jobs only when
 * something changed: a second probe reads the connection's memory, and a job that ends (the replica server
 * killed under a sync mirror: QEMU's events, no command of ours) is seen by the next probe. A host QEMU
 * (test/vm-repl-host's guest) behind a scripted engine (fake-engine.ts); run under the Docker/QEMU lock.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { Engine } from '../../src/drivers/docker/engine.ts';
import { probe } from '../../src/drivers/docker/probe.ts';
import { closeAll, openQmp } from '../../src/drivers/docker/vm/monitor.ts';
import { startSyncMirror } from '../../src/drivers/qemu/replicate.ts';
import type { NbdAddress } from '../../src/drivers/qemu/nbd.ts';
import type { DesiredNode } from '../../src/model/desired.ts';
import type { ObservedReplication } from '../../src/model/observed.ts';
import { tempDir, cleanupTemps } from '../support/tmp.ts';
import { makeDisk, startStorageDaemon, startVm, unavailable, type Proc } from '../vm-repl-host/harness.ts';
import { fakeEngine } from './fake-engine.ts';

const CLUSTER = 'probemem';
const labels = { 'drover.cluster': CLUSTER, 'drover.instance': 'vm1', 'drover.vm': '1' };
const why = unavailable();
if (why) console.log(`SKIPPED probe-memory: ${why}`);

test('a second probe asks neither /version nor query-jobs again; a job that ends is seen through its events', async () => {
  if (why) return;
  const dir = tempDir('probe-memory-');
  const procs: Proc[] = [];
  makeDisk(path.join(dir, 'a.img')); makeDisk(path.join(dir, 'b.img'), 64, false);
  const vm = await startVm(path.join(dir, 'a'), path.join(dir, 'a.img')).then((p) => { procs.push(p); return p; });
  vm.qmp.close(); // QEMU serves one client: the driver's connection is the next
  await vm.qmp.closed;
  const listen: NbdAddress = { type: 'inet', host: '127.0.0.140', port: 10850 };
  const qsd = await startStorageDaemon(path.join(dir, 'qsd'), path.join(dir, 'b.img'), listen).then((p) => { procs.push(p); return p; });
  const engine = await fakeEngine({
    answer: (method, p) => {
      if (method !== 'GET') return undefined;
      if (p === '/info') return { status: 200, body: { MemTotal: 1 << 30, NCPU: 2, ServerVersion: '24.0.7' } };
      if (p === '/version') return { status: 200, body: { Version: '24.0.7', ApiVersion: '1.43' } };
      if (p === '/containers/json') return { status: 200, body: [{ Id: 'c0ffee', Labels: labels, State: 'running', NetworkSettings: { Networks: {} } }] };
      if (p === '/volumes') return { status: 200, body: { Volumes: [] } };
      if (p === '/containers/c0ffee/json') return { status: 200, body: { Id: 'c0ffee', State: { Running: true }, Config: { Labels: labels }, HostConfig: {} } };
      return undefined;
    },
    socketOf: () => vm.sock,
  });
  const node: DesiredNode = {
    name: 'n1', labels: {}, cluster: CLUSTER, endpoint: engine.endpoint, group: 'default', drained: false, offline: false,
    capacity: { disk: 1 << 30 }, source: { file: 'test', line: 1, column: 1 },
  };
  const e = new Engine({ cluster: CLUSTER, nodes: [node], helperImage: 'drover/helper:test', timeoutMs: 5000 });
  e.factsCache.set('n1', { at: Date.now(), links: [] }); // no helpers behind a scripted engine
  const count = (what: string): number => engine.stdin.filter((l) => l.includes(`"${what}"`)).length;
  const replication = async (): Promise<ObservedReplication | undefined> => (await probe(e, 'n1')).containers[0]?.replication;
  try {
    assert.equal(await replication(), { kind: 'stopped', detail: 'disk 0: no replication job on the primary' });
    assert.is(count('query-jobs'), 1);
    assert.equal(await replication(), { kind: 'stopped', detail: 'disk 0: no replication job on the primary' });
    assert.is(count('query-jobs'), 1, 'nothing changed: the second probe read the memory');
    assert.is(count('query-named-block-nodes'), 1);
    assert.is(engine.calls.filter((c) => c === 'GET /version').length, 1, 'the engine version asked once');
    assert.is(engine.calls.filter((c) => c === 'GET /info').length, 2);

    await startSyncMirror(await openQmp(e, e.conn('n1'), 'c0ffee'), listen, 1);
    assert.equal(await replication(), { kind: 'in-sync' });
    const asked = count('query-jobs');
    assert.equal(await replication(), { kind: 'in-sync' });
    assert.equal(await replication(), { kind: 'in-sync' });
    assert.is(count('query-jobs'), asked, 'in sync and nothing changed: no query-jobs');

    await qsd.kill(); // the guest's next write fails on the replica: QEMU ends the mirror and says so in events
    let seen: ObservedReplication | undefined;
    for (let i = 0; i < 100 && seen?.kind !== 'stopped'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      seen = await replication();
    }
    assert.is(seen?.kind, 'stopped', `the mirror's end is seen (last: ${JSON.stringify(seen)})`);
    assert.ok(count('query-jobs') > asked, 'read again on the events');
    const after = count('query-jobs');
    await new Promise((r) => setTimeout(r, 500)); // the job's last events are in
    await replication();
    const settled = count('query-jobs');
    assert.equal(await replication(), seen);
    assert.is(count('query-jobs'), settled, 'ended and nothing changed since: no query-jobs');
    assert.ok(settled - after <= 1);
  } finally {
    await closeAll(e);
    await engine.close();
    for (const p of procs) await p.kill();
    cleanupTemps();
  }
});

test.run();
