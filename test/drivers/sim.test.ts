/**
 * The sim driver: the shared driver contract (test/support/contract.ts), then what only the sim does
 * (node failure and fencing as flags other processes can set, data versions, injected faults, its
 * world kept in the state directory).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { DriverError } from '../../src/drivers/driver.ts';
import { SimDriver } from '../../src/drivers/sim/index.ts';
import type { InstanceSpec } from '../../src/model/operations.ts';
import { driverContract } from '../support/contract.ts';
import * as F from '../support/fixtures.ts';
import { drover } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';

const spec = (name: string): InstanceSpec => ({
  name, image: 'busybox', memory: 64 * F.MiB, vcpus: 1, diskTemplate: 'replicated',
  disks: [{ size: 64 * F.MiB, mount: '/data' }, { size: 32 * F.MiB, mount: '/logs' }], env: { I: name }, command: ['sleep', '1000'], ports: [],
});
const nodes = [F.node('s1'), F.node('s2'), F.node('s3')];

driverContract('sim', async () => {
  const dir = tempDir();
  return { driver: new SimDriver({ stateDir: dir, nodes, fsync: false }), nodes: ['s1', 's2'], spec, teardown: async () => {} };
});

const test = suite('sim driver');
test.after(cleanupTemps);

async function rejectsWith(p: Promise<unknown>, check: (e: DriverError) => void): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, DriverError, String(e));
    check(e as DriverError);
    return;
  }
  assert.unreachable('should have rejected');
}

async function placed(driver: SimDriver, node: string, name: string, running = true) {
  await driver.createDisks(node, name, spec(name).disks, 'primary', 1);
  await driver.createInstance(node, spec(name), 1);
  if (running) await driver.startInstance(node, name);
}

test('fail-node (from another process, through the CLI) makes probe and every step reject with a transient DriverError; restore-node ends it', async () => {
  const dir = tempDir();
  const driver = new SimDriver({ stateDir: dir, nodes, fsync: false });
  await placed(driver, 's1', 'a');
  const r = await drover(['sim', 'fail-node', 's1', '--state-dir', dir]);
  assert.is(r.code, 0, r.stderr);
  await new Promise((res) => setTimeout(res, 150)); // the driver re-reads the flags file at most every 100 ms
  const transient = (e: DriverError) => { assert.is(e.transient, true); assert.match(e.message, 's1'); };
  await rejectsWith(driver.probe('s1'), transient);
  await rejectsWith(driver.startInstance('s1', 'a'), transient);
  await rejectsWith(driver.syncDisks('s2', 's1', 'a'), transient);
  assert.ok((await driver.probe('s2')).capacity.memory > 0, 'other nodes answer');
  assert.is((await drover(['sim', 'restore-node', 's1', '--state-dir', dir])).code, 0);
  await new Promise((res) => setTimeout(res, 150));
  const p = await driver.probe('s1');
  assert.equal(p.containers.map((c) => [c.instance, c.state]), [['a', 'running']], 'a failed (not fenced) node keeps running what it ran');
  await driver.close();
});

test('the power switch turns a node off: its containers stop, it answers nothing until restored, and comes back with them stopped', async () => {
  const dir = tempDir();
  const driver = new SimDriver({ stateDir: dir, nodes, fsync: false });
  await placed(driver, 's1', 'a');
  await placed(driver, 's1', 'b');
  driver.world.setFlags('s1', { failed: true, fenced: false });
  await driver.powerOff('s1'); // the sim can always power a node off, even unreachable
  assert.ok([...driver.world.node('s1').containers.values()].every((c) => c.state === 'stopped'), 'containers stopped by the fence');
  assert.equal(driver.world.flagsOf('s1'), { failed: true, fenced: true });
  await rejectsWith(driver.probe('s1'), (e) => assert.is(e.transient, true));
  driver.world.setFlags('s1', { failed: false, fenced: true }); // network back, power still off
  await rejectsWith(driver.probe('s1'), (e) => { assert.is(e.transient, true); assert.match(e.message, /fenc|powered off/); });
  await rejectsWith(driver.startInstance('s1', 'a'), (e) => assert.is(e.transient, true));
  driver.world.setFlags('s1', { failed: false, fenced: false }); // what drover sim restore-node does
  const p = await driver.probe('s1');
  assert.equal(p.containers.map((c) => [c.instance, c.state]), [['a', 'stopped'], ['b', 'stopped']]);
  assert.is(p.volumes.length, 4, 'its disks are still there');
  await driver.close();
});

test('data versions: writes bump the primary, a sync copies the version, an unsynced replica stays behind', async () => {
  const dir = tempDir();
  const driver = new SimDriver({ stateDir: dir, nodes, fsync: false });
  await placed(driver, 's1', 'a');
  await driver.createDisks('s2', 'a', spec('a').disks, 'replica', 1);
  assert.is(driver.dataVersion('s1', 'a'), 0);
  assert.is(await driver.writeData('s1', 'a'), 1);
  assert.is(await driver.writeData('s1', 'a'), 2);
  assert.is(driver.dataVersion('s2', 'a'), 0, 'not synced yet');
  const bytes = await driver.syncDisks('s1', 's2', 'a');
  assert.is(bytes, 96 * F.MiB);
  assert.is(driver.dataVersion('s2', 'a'), 2, 'the replica has what the primary had');
  await driver.writeData('s1', 'a');
  assert.is(driver.dataVersion('s1', 'a'), 3);
  assert.is(driver.dataVersion('s2', 'a'), 2, 'writes after the sync are not on the replica');
  assert.is(driver.dataVersion('s3', 'a'), undefined, 'no copy');
  // createDisks on existing volumes keeps the data (a former primary becoming a replica)
  await driver.createDisks('s1', 'a', spec('a').disks, 'replica', 2);
  assert.is(driver.dataVersion('s1', 'a'), 3);
  await driver.close();
});

test('sync into a node without the replica volumes is a permanent error', async () => {
  const dir = tempDir();
  const driver = new SimDriver({ stateDir: dir, nodes, fsync: false });
  await placed(driver, 's1', 'a', false);
  await rejectsWith(driver.syncDisks('s1', 's3', 'a'), (e) => { assert.is(e.transient, false); assert.match(e.message, 's3'); });
  await driver.close();
});

test('createInstance refuses to replace a running container with another spec', async () => {
  const dir = tempDir();
  const driver = new SimDriver({ stateDir: dir, nodes, fsync: false });
  await placed(driver, 's1', 'a');
  await rejectsWith(driver.createInstance('s1', { ...spec('a'), image: 'alpine' }, 1), (e) => assert.is(e.transient, false));
  await driver.createInstance('s1', spec('a'), 1); // same spec and generation: kept
  assert.is(driver.world.node('s1').containers.get('a')!.state, 'running');
  await driver.close();
});

test('the faults hook sees every step with its node and instance, and its DriverError fails the step', async () => {
  const dir = tempDir();
  const seen: string[] = [];
  let fail = true;
  const driver = new SimDriver({
    stateDir: dir, nodes, fsync: false,
    faults: (step, node, instance) => {
      seen.push(`${step} ${node} ${instance ?? '-'}`);
      if (step === 'startInstance' && fail) { fail = false; throw new DriverError(`${node}: injected`, true, node); }
    },
  });
  await placed(driver, 's1', 'a', false);
  await rejectsWith(driver.startInstance('s1', 'a'), (e) => { assert.is(e.transient, true); assert.match(e.message, 'injected'); });
  assert.is(driver.world.node('s1').containers.get('a')!.state, 'stopped', 'a failed step changes nothing');
  await driver.startInstance('s1', 'a');
  await driver.probe('s2');
  assert.equal(seen, ['createDisks s1 a', 'createInstance s1 a', 'startInstance s1 a', 'startInstance s1 a', 'probe s2 -']);
  await driver.close();
});

test('with latency, a sync reports monotonic byte progress ending at the total', async () => {
  const dir = tempDir();
  const driver = new SimDriver({ stateDir: dir, nodes, fsync: false, latencyMs: 10 });
  await placed(driver, 's1', 'a', false);
  await driver.createDisks('s2', 'a', spec('a').disks, 'replica', 1);
  const seen: [number, number][] = [];
  await driver.syncDisks('s1', 's2', 'a', (d, t) => seen.push([d, t]));
  assert.ok(seen.length >= 2, `several ticks (${seen.length})`);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]![0] >= seen[i - 1]![0]);
  assert.equal(seen[seen.length - 1], [96 * F.MiB, 96 * F.MiB]);
  await driver.close();
});

test('the world is kept in the state dir: a new driver (a restarted master) sees the same containers and volumes', async () => {
  const dir = tempDir();
  const d1 = new SimDriver({ stateDir: dir, nodes, fsync: false });
  await placed(d1, 's1', 'a');
  await d1.createDisks('s2', 'a', spec('a').disks, 'replica', 1);
  await d1.writeData('s1', 'a');
  await d1.syncDisks('s1', 's2', 'a');
  await d1.close();
  const d2 = new SimDriver({ stateDir: dir, nodes, fsync: false });
  const [p1, p2] = [await d2.probe('s1'), await d2.probe('s2')];
  assert.equal(p1.containers.map((c) => [c.instance, c.state, c.generation]), [['a', 'running', 1]]);
  assert.equal(p2.volumes.map((v) => [v.instance, v.disk, v.role]), [['a', 0, 'replica'], ['a', 1, 'replica']]);
  assert.is(d2.dataVersion('s2', 'a'), 1);
  await d2.close();
  // a read-only driver (status, plan) sees it too and writes nothing
  const before = fs.readFileSync(`${dir}/sim/world.log`, 'utf8');
  const ro = new SimDriver({ stateDir: dir, nodes, readOnly: true });
  assert.is((await ro.probe('s1')).containers.length, 1);
  await ro.close();
  assert.is(fs.readFileSync(`${dir}/sim/world.log`, 'utf8'), before);
});

test('an unknown node is a permanent DriverError naming it', async () => {
  const driver = new SimDriver({ stateDir: tempDir(), nodes, fsync: false });
  await rejectsWith(driver.probe('nope'), (e) => { assert.is(e.transient, false); assert.match(e.message, 'nope'); });
  await rejectsWith(driver.powerOff('nope'), (e) => assert.is(e.transient, false));
  await driver.close();
});

test('NICs: a container keeps the addresses and MACs it was made with (probes show them); an address another running instance holds cannot be taken', async () => {
  const dir = tempDir();
  const driver = new SimDriver({ stateDir: dir, nodes, fsync: false });
  const nic = (ip: string, mac: string) => ({ network: 'lan', ip, mac, prefixLength: 24, subnet: '10.42.0.0/24', link: 'br42', mode: 'bridged' as const });
  const a = { ...spec('a'), nics: [nic('10.42.0.100', '02:00:00:00:00:01')] };
  await driver.createInstance('s1', a, 1);
  await driver.startInstance('s1', 'a');
  assert.equal((await driver.probe('s1')).containers[0]!.nics, [{ network: 'lan', ip: '10.42.0.100', mac: '02:00:00:00:00:01' }]);
  await driver.createInstance('s2', { ...spec('b'), nics: [nic('10.42.0.100', '02:00:00:00:00:02')] }, 1);
  await rejectsWith(driver.startInstance('s2', 'b'), (e) => {
    assert.is(e.transient, false);
    assert.match(e.message, '10.42.0.100 / 02:00:00:00:00:02 is in use by a on s1');
  });
  await driver.createInstance('s3', { ...spec('c'), nics: [nic('10.42.0.102', '02:00:00:00:00:01')] }, 1);
  await rejectsWith(driver.startInstance('s3', 'c'), (e) => assert.match(e.message, 'in use by a on s1'));
  await driver.stopInstance('s1', 'a'); // the same instance elsewhere, or the address freed: fine
  await driver.startInstance('s2', 'b');
  await driver.close();
});

test.run();
