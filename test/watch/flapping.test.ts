/** A node that keeps falling is held out of new placements (recorded by observeAndRecord, read by the pure planner). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { observeAndRecord } from '../../src/apply/converge.ts';
import type { Driver, NodeProbe } from '../../src/drivers/driver.ts';
import { loadManifests } from '../../src/manifest/index.ts';
import type { Desired } from '../../src/model/desired.ts';
import { plan } from '../../src/plan/index.ts';
import { Store } from '../../src/store/store.ts';
import { sandbox } from '../support/watch.ts';

/** Only probe() is used by observe; every node empty, `down` ones unreachable. */
function fakeDriver(down: ReadonlySet<string>): Driver {
  const probe = async (node: string): Promise<NodeProbe> => {
    if (down.has(node)) throw new Error('unreachable');
    return { capacity: { memory: 8 * 2 ** 30, vcpus: 8, disk: 100 * 2 ** 30 }, containers: [], volumes: [] };
  };
  return { backend: 'sim', probe } as unknown as Driver;
}

async function setup(holdAfter?: number): Promise<{ desired: Desired; store: Store }> {
  const sb = sandbox();
  if (holdAfter !== undefined) {
    const f = path.join(sb.manifests, 'cluster.yaml');
    fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('nodeDownAfter: 1s', `nodeDownAfter: 1s\n    holdAfterFailures: ${holdAfter}`));
  }
  const r = await loadManifests([sb.manifests]);
  if (!r.ok) throw new Error('manifests');
  return { desired: r.desired, store: new Store(sb.state, { fsync: false }) };
}

async function flap(desired: Desired, store: Store, node: string, times: number): Promise<void> {
  const nodes = [...desired.nodes.values()];
  const limits = new Map(nodes.map((n) => [n.name, desired.clusters.get(n.cluster)!.failover.holdAfterFailures ?? 3]));
  for (let i = 0; i < times; i++) {
    await observeAndRecord(fakeDriver(new Set([node])), nodes, store, 1000, { record: true, holdAfter: limits });
    await observeAndRecord(fakeDriver(new Set()), nodes, store, 1000, { record: true, holdAfter: limits });
  }
}

const primaries = async (desired: Desired, store: Store): Promise<string[]> => {
  const observed = await observeAndRecord(fakeDriver(new Set()), [...desired.nodes.values()], store, 1000, { record: false });
  const p = plan({ desired, observed, store, now: Date.now() });
  return p.operations.flatMap((o) => (o.type === 'CreateInstance' ? [o.primary, ...(o.secondary ? [o.secondary] : [])] : []));
};

test('two falls: still placed on; three falls within the hour: held for an hour', async () => {
  const { desired, store } = await setup();
  await flap(desired, store, 'node3', 2);
  assert.is(store.nodes.get('node3')?.failures?.length, 2);
  assert.is(store.nodes.get('node3')?.holdUntil, undefined);
  assert.ok((await primaries(desired, store)).includes('node3'));
  await flap(desired, store, 'node3', 1);
  const rec = store.nodes.get('node3')!;
  assert.ok(rec.holdUntil! > Date.now() + 59 * 60_000);
  const used = await primaries(desired, store);
  assert.ok(used.length > 0 && !used.includes('node3'), used.join(','));
  await store.close();
});

test('holdAfterFailures: 0 never holds a node', async () => {
  const { desired, store } = await setup(0);
  await flap(desired, store, 'node3', 4);
  assert.is(store.nodes.get('node3')?.holdUntil, undefined);
  await store.close();
});

test('falls older than an hour are forgotten', async () => {
  const { desired, store } = await setup();
  await store.putNode({ name: 'node3', failures: [Date.now() - 2 * 3_600_000, Date.now() - 90 * 60_000] });
  await flap(desired, store, 'node3', 1);
  assert.is(store.nodes.get('node3')?.failures?.length, 1);
  assert.is(store.nodes.get('node3')?.holdUntil, undefined);
  await store.close();
});

test('a fall is dated from the cheap probe that first saw it (seenDownAt), once a run\'s look confirms it', async () => {
  const { desired, store } = await setup();
  const nodes = [...desired.nodes.values()];
  const probedAt = Date.now() - 700;
  // the run's look finds node3 up again: the cheap probe's sighting records nothing
  await observeAndRecord(fakeDriver(new Set()), nodes, store, 1000, { record: true, seenDownAt: new Map([['node3', probedAt]]) });
  assert.is(store.nodes.get('node3')?.nodeDownSince, undefined);
  const before = Date.now();
  await observeAndRecord(fakeDriver(new Set(['node3'])), nodes, store, 1000, { record: true, seenDownAt: new Map([['node3', probedAt]]) });
  assert.is(store.nodes.get('node3')?.nodeDownSince, probedAt, 'the grace runs from the probe');
  assert.equal(store.nodes.get('node3')?.failures, [probedAt], 'one fall');
  await observeAndRecord(fakeDriver(new Set(['node2'])), nodes, store, 1000, { record: true, seenDownAt: new Map([['node3', probedAt]]) });
  assert.ok(store.nodes.get('node2')!.nodeDownSince! >= before, 'a node the probe did not see down: from this look');
  await store.close();
});

test.run();
