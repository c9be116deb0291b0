/**
 * The driver contract: one uvu suite that every backend must pass. Backend-neutral: it uses the Driver
 * interface only, plus optional hooks (`data`) a backend can pass to write and read files on a disk, so
 * that sync is checked for content too.
 *
 *   driverContract('docker', async () => ({ driver, nodes: ['n1', 'n2'], spec: (name) => ({...}), teardown, data }))
 *
 * `nodes` needs at least two nodes; `spec(name)` must give an instance with at least one disk and a command
 * that keeps running. Instance names used here start with "ct".
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DriverError, type Driver, type NodeProbe } from '../../src/drivers/driver.ts';
import { capabilitiesOf } from '../../src/drivers/backends.ts';
import type { InstanceSpec } from '../../src/model/operations.ts';
import { specHash } from '../../src/model/hash.ts';

export interface DiskData {
  /** Write (string) or delete (null) files, paths relative to the disk's root. */
  write(node: string, instance: string, disk: number, files: Readonly<Record<string, string | null>>): Promise<void>;
  /** Every regular file on the disk: relative path → content. */
  read(node: string, instance: string, disk: number): Promise<Record<string, string>>;
}

export interface ContractSetup {
  readonly driver: Driver;
  readonly nodes: readonly string[];
  readonly spec: (name: string) => InstanceSpec;
  teardown(): Promise<void>;
  readonly data?: DiskData;
}

async function rejects(p: Promise<unknown>, check: (e: DriverError) => void, what: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, DriverError, `${what}: should reject with a DriverError, got ${String(e)}`);
    check(e as DriverError);
    return;
  }
  assert.unreachable(`${what}: should have rejected`);
}

const containersOf = (p: NodeProbe, instance: string) => p.containers.filter((c) => c.instance === instance);
const volumesOf = (p: NodeProbe, instance: string) => p.volumes.filter((v) => v.instance === instance);

export function driverContract(name: string, setup: () => Promise<ContractSetup>): void {
  const test = suite<{ s?: ContractSetup }>(`driver contract: ${name}`, {});
  const S = (ctx: { s?: ContractSetup }): ContractSetup => {
    if (!ctx.s) throw new Error('setup failed');
    return ctx.s;
  };

  test.before(async (ctx) => {
    ctx.s = await setup();
    assert.ok(ctx.s.nodes.length >= 2, 'the contract needs at least two nodes');
  });

  test.after(async (ctx) => {
    if (!ctx.s) return;
    const { driver, nodes } = ctx.s;
    // remove what the tests made, even after failures
    for (const n of nodes) {
      try {
        const p = await driver.probe(n);
        const names = new Set([...p.containers, ...p.volumes].map((x) => x.instance).filter((i) => i.startsWith('ct')));
        for (const i of names) {
          await driver.removeInstance(n, i).catch(() => {});
          await driver.removeDisks(n, i).catch(() => {});
        }
      } catch { /* node gone */ }
    }
    await driver.close();
    await ctx.s.teardown();
  });

  test('probe reports capacity and lists', async (ctx) => {
    const { driver, nodes } = S(ctx);
    for (const n of nodes) {
      const p = await driver.probe(n);
      assert.ok(p.capacity.memory > 0, `${n}: memory > 0`);
      assert.ok(p.capacity.vcpus > 0, `${n}: vcpus > 0`);
      assert.ok(p.capacity.disk >= 0, `${n}: disk >= 0`);
      assert.ok(Array.isArray(p.containers) && Array.isArray(p.volumes));
    }
  });

  test('unknown node is a non-transient DriverError', async (ctx) => {
    const { driver, spec } = S(ctx);
    const bad = 'no-such-node-xyz';
    const check = (e: DriverError): void => {
      assert.is(e.transient, false);
      assert.match(e.message, bad);
    };
    await rejects(driver.probe(bad), check, 'probe');
    await rejects(driver.createDisks(bad, 'ct-unknown', spec('ct-unknown').disks, 'primary', 1), check, 'createDisks');
    await rejects(driver.createInstance(bad, spec('ct-unknown'), 1), check, 'createInstance');
    await rejects(driver.startInstance(bad, 'ct-unknown'), check, 'startInstance');
  });

  test('createDisks / removeDisks are idempotent and visible in probe', async (ctx) => {
    const { driver, nodes, spec } = S(ctx);
    const [a] = nodes as [string];
    const sp = spec('ct-disks');
    await driver.createDisks(a, sp.name, sp.disks, 'primary', 3);
    await driver.createDisks(a, sp.name, sp.disks, 'primary', 3);
    let vols = volumesOf(await driver.probe(a), sp.name);
    assert.is(vols.length, sp.disks.length, 'one volume per disk');
    vols.forEach((v, i) => {
      assert.is(v.disk, i);
      assert.is(v.role, 'primary');
      assert.is(v.generation, 3);
      assert.is(v.size, sp.disks[i]!.size);
    });
    await driver.removeDisks(a, sp.name);
    await driver.removeDisks(a, sp.name);
    vols = volumesOf(await driver.probe(a), sp.name);
    assert.is(vols.length, 0, 'removed');
  });

  test('create/start/stop/remove instance are idempotent; spec hash and generation visible', async (ctx) => {
    const { driver, nodes, spec } = S(ctx);
    const [a] = nodes as [string];
    const sp = spec('ct-life');
    await driver.createDisks(a, sp.name, sp.disks, 'primary', 1);
    await driver.createInstance(a, sp, 1);
    await driver.createInstance(a, sp, 1);
    let cs = containersOf(await driver.probe(a), sp.name);
    assert.is(cs.length, 1, 'one container');
    assert.is(cs[0]!.state, 'stopped', 'created stopped');
    assert.is(cs[0]!.specHash, specHash(sp));
    assert.is(cs[0]!.generation, 1);

    await driver.startInstance(a, sp.name);
    await driver.startInstance(a, sp.name);
    cs = containersOf(await driver.probe(a), sp.name);
    assert.is(cs[0]!.state, 'running');

    await driver.stopInstance(a, sp.name);
    await driver.stopInstance(a, sp.name);
    cs = containersOf(await driver.probe(a), sp.name);
    assert.is(cs[0]!.state, 'stopped');

    // a changed spec or a new generation replaces the container
    const changed: InstanceSpec = { ...sp, env: { ...sp.env, CONTRACT_CHANGED: '1' } };
    await driver.createInstance(a, changed, 1);
    cs = containersOf(await driver.probe(a), sp.name);
    assert.is(cs.length, 1);
    assert.is(cs[0]!.specHash, specHash(changed));
    await driver.createInstance(a, changed, 2);
    cs = containersOf(await driver.probe(a), sp.name);
    assert.is(cs.length, 1);
    assert.is(cs[0]!.generation, 2);

    await driver.removeInstance(a, sp.name);
    await driver.removeInstance(a, sp.name);
    const p = await driver.probe(a);
    assert.is(containersOf(p, sp.name).length, 0, 'container removed');
    assert.is(volumesOf(p, sp.name).length, sp.disks.length, 'disks survive removeInstance');
    await driver.removeDisks(a, sp.name);
  });

  test('updateInstance changes limits in place: it keeps running, same container, probe shows them; idempotent', async (ctx) => {
    const { driver, nodes, spec } = S(ctx);
    const [a] = nodes as [string];
    const sp = spec('ct-limits');
    await driver.createDisks(a, sp.name, sp.disks, 'primary', 1);
    await driver.createInstance(a, sp, 1);
    await driver.startInstance(a, sp.name);
    const limits = { memory: sp.memory * 2, vcpus: sp.vcpus + 1 };
    await driver.updateInstance(a, sp.name, limits);
    await driver.updateInstance(a, sp.name, limits);
    const [c] = containersOf(await driver.probe(a), sp.name);
    assert.equal([c!.state, c!.generation, c!.specHash, c!.memory, c!.vcpus], ['running', 1, specHash(sp), limits.memory, limits.vcpus]);
    await driver.updateInstance(a, sp.name, { memory: sp.memory }); // smaller again
    assert.is(containersOf(await driver.probe(a), sp.name)[0]!.memory, sp.memory);
    await rejects(driver.updateInstance(a, 'ct-absent', limits), (e) => assert.is(e.transient, false), 'updateInstance of an absent instance');
    await driver.removeInstance(a, sp.name);
    await driver.removeDisks(a, sp.name);
  });

  test('growDisk grows a disk and keeps its contents, on a primary or a replica; never shrinks', async (ctx) => {
    const { driver, nodes, spec, data } = S(ctx);
    const [a, b] = nodes as [string, string];
    const sp = spec('ct-grow');
    await driver.createDisks(a, sp.name, sp.disks, 'primary', 1);
    await driver.createDisks(b, sp.name, sp.disks, 'replica', 1);
    if (data) await data.write(a, sp.name, 0, { 'marker.txt': 'kept\n' });
    const bigger = sp.disks[0]!.size * 2;
    for (const n of [b, a]) {
      await driver.growDisk(n, sp.name, 0, bigger);
      await driver.growDisk(n, sp.name, 0, bigger);
      await driver.growDisk(n, sp.name, 0, sp.disks[0]!.size); // smaller: left alone
      const sizes = volumesOf(await driver.probe(n), sp.name).map((v) => [v.disk, v.size]);
      assert.equal(sizes, sp.disks.map((d, i) => [i, i === 0 ? bigger : d.size]), `${n}: disk 0 grown, the others as they were`);
    }
    if (data) assert.is((await data.read(a, sp.name, 0))['marker.txt'], 'kept\n');
    await rejects(driver.growDisk(a, 'ct-absent', 0, bigger), (e) => assert.is(e.transient, false), 'growDisk of an absent disk');
    await driver.removeDisks(a, sp.name);
    await driver.removeDisks(b, sp.name);
  });

  test('starting an instance that does not exist is a non-transient DriverError', async (ctx) => {
    const { driver, nodes } = S(ctx);
    await rejects(driver.startInstance(nodes[0]!, 'ct-absent'), (e) => assert.is(e.transient, false), 'startInstance');
    await driver.removeInstance(nodes[0]!, 'ct-absent'); // absent is fine
    await driver.removeDisks(nodes[0]!, 'ct-absent');
  });

  test('syncDisks copies content with progress, deletes what the source lost, and promoteDisks swaps the role', async (ctx) => {
    const { driver, nodes, spec, data } = S(ctx);
    const [a, b] = nodes as [string, string];
    const sp = spec('ct-sync');
    await driver.createDisks(a, sp.name, sp.disks, 'primary', 1);
    await driver.createDisks(b, sp.name, sp.disks, 'replica', 1);
    if (data) {
      await data.write(a, sp.name, 0, { 'hello.txt': 'hello\n', 'dir/nested.txt': 'x'.repeat(50_000), 'old.txt': 'to be deleted' });
    }
    const seen: [number, number][] = [];
    const bytes = await driver.syncDisks(a, b, sp.name, (done, total) => seen.push([done, total]));
    assert.ok(bytes >= 0, 'returns bytes copied');
    assert.ok(seen.length > 0, 'progress reported');
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]![0] >= seen[i - 1]![0], 'progress is monotonic');
    const last = seen[seen.length - 1]!;
    assert.is(last[0], last[1], 'last progress is complete');
    if (data) {
      assert.ok(bytes >= 50_000, 'at least the data was copied');
      assert.equal(await data.read(b, sp.name, 0), await data.read(a, sp.name, 0), 'replica equals primary');
      await data.write(a, sp.name, 0, { 'old.txt': null, 'new.txt': 'new', 'hello.txt': 'changed\n' });
      await driver.syncDisks(a, b, sp.name);
      const got = await data.read(b, sp.name, 0);
      assert.equal(got, await data.read(a, sp.name, 0), 'replica equals primary after the second sync');
      assert.not.ok('old.txt' in got, 'deleted file is gone on the replica');
      assert.is(got['hello.txt'], 'changed\n');
      // a re-sync after small changes: a same-size rewrite, a name with spaces, a new nested file, a deletion
      await data.write(a, sp.name, 0, { 'hello.txt': 'CHANGED\n', 'with space.txt': 'spaced', 'dir/deep/er.txt': 'deeper', 'dir/nested.txt': null });
      const seen2: [number, number][] = [];
      const bytes2 = await driver.syncDisks(a, b, sp.name, (done, total) => seen2.push([done, total]));
      assert.ok(bytes2 < 50_000, `a re-sync sends what changed, not everything (${bytes2} bytes)`);
      assert.is(seen2[seen2.length - 1]![0], seen2[seen2.length - 1]![1], 're-sync progress completes');
      const got2 = await data.read(b, sp.name, 0);
      assert.equal(got2, await data.read(a, sp.name, 0), 'replica equals primary after the re-sync');
      assert.is(got2['hello.txt'], 'CHANGED\n', 'a same-size rewrite is seen');
    }
    let vb = volumesOf(await driver.probe(b), sp.name);
    assert.is(vb.length, sp.disks.length);
    assert.ok(vb.every((v) => v.role === 'replica'));
    await driver.promoteDisks(b, sp.name, 2);
    await driver.promoteDisks(b, sp.name, 2);
    vb = volumesOf(await driver.probe(b), sp.name);
    assert.ok(vb.every((v) => v.role === 'primary' && v.generation === 2), 'promoted');
    await driver.removeDisks(a, sp.name);
    await driver.removeDisks(b, sp.name);
  });

  test('liveMigrate, where supported, leaves the instance running on the target only', async (ctx) => {
    const { driver, nodes, spec, data } = S(ctx);
    if (!driver.liveMigrate) return;
    const [a, b] = nodes as [string, string];
    const sp = spec('ct-mig');
    await driver.createDisks(a, sp.name, sp.disks, 'primary', 1);
    await driver.createDisks(b, sp.name, sp.disks, 'replica', 1);
    if (data) await data.write(a, sp.name, 0, { 'state.txt': 'before migration' });
    await driver.createInstance(a, sp, 1);
    await driver.startInstance(a, sp.name);
    const r = await driver.liveMigrate(a, b, sp, 2);
    const [pa, pb] = [await driver.probe(a), await driver.probe(b)];
    if (r.kind === 'cold') {
      // unsupported: nothing moved
      assert.is(containersOf(pa, sp.name)[0]?.state, 'running', 'still running on the source');
      assert.not.ok(containersOf(pb, sp.name).some((c) => c.state === 'running'), 'not running on the target');
    } else {
      assert.ok(r.downtimeMs >= 0);
      assert.not.ok(containersOf(pa, sp.name).some((c) => c.state === 'running'), 'not running on the source');
      assert.is(containersOf(pb, sp.name)[0]?.state, 'running', 'running on the target');
      if (data) assert.is((await data.read(b, sp.name, 0))['state.txt'], 'before migration');
      await driver.removeInstance(b, sp.name);
    }
    await driver.removeInstance(a, sp.name);
    await driver.removeDisks(a, sp.name);
    await driver.removeDisks(b, sp.name);
  });

  test('renameInstance, where supported, moves container and disks to the new name on that node: contents, role, generation kept; idempotent', async (ctx) => {
    const { driver, nodes, spec, data } = S(ctx);
    if (!driver.renameInstance) return;
    const [a, b] = nodes as [string, string];
    const sp = spec('ct-old');
    const to = 'ct-new';
    await driver.createDisks(a, sp.name, sp.disks, 'primary', 3);
    await driver.createDisks(b, sp.name, sp.disks, 'replica', 3);
    await driver.createInstance(a, sp, 3);
    await driver.startInstance(a, sp.name);
    if (data) await data.write(a, sp.name, 0, { 'marker.txt': 'kept\n' });
    const restarts = capabilitiesOf(driver.backend).rename === 'restart';
    for (const n of [a, b, a, b]) await driver.renameInstance(n, sp.name, to); // twice each: idempotent
    const pa = await driver.probe(a);
    const pb = await driver.probe(b);
    for (const p of [pa, pb]) assert.equal([...containersOf(p, sp.name), ...volumesOf(p, sp.name)], [], 'nothing left under the old name');
    const [c] = containersOf(pa, to);
    assert.equal([c?.generation, c?.specHash], [3, specHash({ ...sp, name: to })]);
    if (!restarts) assert.is(c?.state, 'running', 'renamed in place, still running');
    assert.equal(volumesOf(pa, to).map((v) => [v.disk, v.role, v.generation]), sp.disks.map((_, i) => [i, 'primary', 3]));
    assert.equal(volumesOf(pb, to).map((v) => [v.disk, v.role, v.generation]), sp.disks.map((_, i) => [i, 'replica', 3]));
    if (data) assert.is((await data.read(a, to, 0))['marker.txt'], 'kept\n');
    await driver.renameInstance(a, 'ct-absent', 'ct-absent2'); // nothing under either name: fine
    await driver.removeInstance(a, to);
    await driver.removeDisks(a, to);
    await driver.removeDisks(b, to);
  });

  test('checkHealth: a running instance passes a check that succeeds; a stopped one fails it, with why', async (ctx) => {
    const { driver, nodes, spec } = S(ctx);
    const n = nodes[0]!;
    const sp = spec('ct-health');
    await driver.createDisks(n, sp.name, sp.disks, 'primary', 1);
    await driver.createInstance(n, sp, 1);
    await driver.startInstance(n, sp.name);
    assert.is((await driver.checkHealth(n, sp.name, { exec: ['true'] }, 5000)).ok, true);
    await driver.stopInstance(n, sp.name);
    const stopped = await driver.checkHealth(n, sp.name, { exec: ['true'] }, 5000);
    assert.is(stopped.ok, false);
    assert.ok(stopped.output.length > 0, 'says why');
    await driver.removeInstance(n, sp.name);
    await driver.removeDisks(n, sp.name);
  });

  test('the driver has the methods its registered capabilities promise, and no others', (ctx) => {
    const { driver } = S(ctx);
    const caps = capabilitiesOf(driver.backend);
    assert.is(typeof driver.renameInstance === 'function', caps.rename !== 'no', 'renameInstance ⇔ rename');
    assert.is(typeof driver.powerOff === 'function', caps.powerSwitch, 'powerOff ⇔ powerSwitch');
    assert.is(typeof driver.liveMigrate === 'function', caps.liveMigration || caps.vm?.liveMigration === true, 'liveMigrate ⇔ liveMigration (of containers or of VMs)');
    assert.is(typeof driver.imagesPresent === 'function', caps.images, 'imagesPresent ⇔ images');
  });

  // Last: it leaves the node off.
  test('powerOff, where the backend has a power switch, leaves the node running nothing', async (ctx) => {
    const { driver, nodes, spec } = S(ctx);
    if (!driver.powerOff) return;
    const n = nodes[1]!;
    const sp = spec('ct-power');
    await driver.createDisks(n, sp.name, sp.disks, 'primary', 1);
    await driver.createInstance(n, sp, 1);
    await driver.startInstance(n, sp.name);
    await driver.powerOff(n);
    const probe = await driver.probe(n).catch((e: unknown) => e);
    if (probe instanceof Error) assert.instance(probe, DriverError, 'an off node answers with a DriverError');
    else assert.not.ok((probe as NodeProbe).containers.some((c) => c.state === 'running'), 'nothing runs on it');
  });

  test.run();
}
