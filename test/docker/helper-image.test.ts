/**
 * The helper image Drover brings itself: on a test bed of its own whose engines have never seen it, the
 * first probe loads it (built from this machine's busybox-static), and helpers work with it (df for the
 * capacity, the kept sync helpers). The test beds themselves only load drover/busybox:1.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createDockerDriver } from '../../src/drivers/docker/index.ts';
import { BUILTIN_HELPER_IMAGE } from '../../src/drivers/docker/helper-image.ts';
import type { InstanceSpec } from '../../src/model/operations.ts';
import { dockerDiskData, engineAt, startTestbed, type Testbed } from '../support/testbed.ts';

const test = suite<{ tb?: Testbed }>('built-in helper image', {});

test.before(async (ctx) => {
  // uvu reports nothing when a before hook throws: say why here
  ctx.tb = await startTestbed(2, 88, {}).catch((e: unknown) => { console.error(`    test bed did not start: ${String(e)}`); throw e; });
});

test.after(async (ctx) => {
  await ctx.tb?.down();
});

test('loaded at the first probe into engines that never saw it; sync helpers run on it', async (ctx) => {
  const tb = ctx.tb!;
  const cluster = `hi-${process.pid}`;
  const nodes = tb.nodes(cluster);
  const engines = new Map(nodes.map((n) => [n.name, engineAt(n.endpoint!)]));
  for (const e of engines.values()) {
    assert.is(await e.getImage(BUILTIN_HELPER_IMAGE).inspect().then(() => true, () => false), false, 'a fresh engine lacks it');
  }
  const driver = createDockerDriver({ cluster, nodes, timeoutMs: 5000, stopTimeoutS: 2 });
  for (const n of nodes) {
    const p = await driver.probe(n.name);
    assert.ok(p.capacity.disk > 0, `the df helper ran on ${n.name}`);
    assert.ok(await engines.get(n.name)!.getImage(BUILTIN_HELPER_IMAGE).inspect(), `${BUILTIN_HELPER_IMAGE} on ${n.name}`);
  }
  const sp: InstanceSpec = {
    name: 'hi', image: tb.image, memory: 32 << 20, vcpus: 0.2, diskTemplate: 'replicated',
    disks: [{ size: 16 << 20, mount: '/data' }], env: {}, command: ['sleep', '3600'], ports: [],
  };
  const [a, b] = [nodes[0]!.name, nodes[1]!.name];
  await driver.createDisks(a, 'hi', sp.disks, 'primary', 1);
  const data = dockerDiskData(tb.image, (node) => engines.get(node)!);
  await data.write(a, 'hi', 0, { 'x.txt': 'one', 'd/y.txt': 'two' });
  await driver.syncDisks(a, b, 'hi');
  await data.write(a, 'hi', 0, { 'x.txt': 'three', 'd/y.txt': null });
  await driver.syncDisks(a, b, 'hi'); // incremental: manifests (find, stat, md5sum) and tar in the built-in image
  assert.equal(await data.read(b, 'hi', 0), { 'x.txt': 'three' });
  const sync = await engines.get(b)!.getContainer('drover-hi-sync').inspect();
  assert.is(sync.Config.Image, BUILTIN_HELPER_IMAGE);
  await driver.removeDisks(a, 'hi');
  await driver.removeDisks(b, 'hi');
});

test.run();
