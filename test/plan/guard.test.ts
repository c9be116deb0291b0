/**
 * The node-level failover budget, in the pure planner: one dead node's instances all fail over (one
 * event, however many); the partition guard stops automatic failover when more than
 * failover.maxUnreachableShare of a cluster's nodes is unreachable at once; a flapping (held) node
 * gets no new work, but its instances still fail over when it dies.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { plan } from '../../src/plan/index.ts';
import { partitionGuard } from '../../src/plan/facts.ts';
import * as F from '../support/fixtures.ts';

const NOW = 2_000_000;
const nodes = (n: number) => [...Array(n).keys()].map((i) => F.node(`n${i + 1}`, { capacity: { memory: 64 * F.GiB, vcpus: 64, disk: 1000 * F.GiB } }));
const dead = (...names: string[]) => names.map((name) => ({ name, nodeDownSince: NOW - 120_000 }));

/** `count` replicated instances with their primary on n1 and their replicas spread over the others. */
function onN1(count: number, size: number) {
  const instances = [...Array(count).keys()].map((i) => F.instance(`vm${String(i).padStart(2, '0')}`, { memory: 256 * F.MiB }));
  const placements = instances.map((x, i) => F.placed(x.name, 'n1', `n${2 + (i % (size - 1))}`));
  return { instances, placements };
}

test('one dead node: all of its 25 instances fail over in one plan (no per-instance budget)', () => {
  const { instances, placements } = onN1(25, 4);
  const d = F.desired(nodes(4), instances);
  const { store, observed } = F.settled(d, placements, { down: ['n1'], nodeRecords: dead('n1') });
  const p = plan({ desired: d, observed, store, now: NOW });
  assert.is(p.operations.filter((o) => o.type === 'FailoverInstance').length, 25);
  assert.equal(p.pending, []);
});

test('2 of 3 nodes unreachable: nothing fails over, every instance of a dead node pending with the partition-guard cause', () => {
  const { instances, placements } = onN1(6, 3);
  const d = F.desired(nodes(3), instances);
  const { store, observed } = F.settled(d, placements, { down: ['n1', 'n2'], nodeRecords: dead('n1', 'n2') });
  const p = plan({ desired: d, observed, store, now: NOW });
  assert.equal(p.operations.filter((o) => o.type === 'FailoverInstance'), []);
  assert.is(p.pending.length, 6);
  const causes = p.pending.filter((x) => x.cause.kind === 'partition-guard').map((x) => x.cause);
  assert.is(causes.length, 3, 'the others have their secondary on the other dead node: no-takeover');
  assert.equal(causes[0], { kind: 'partition-guard', node: 'n1', cluster: 'lab', unreachable: 2, nodes: 3, limit: 0.5 });
});

test('the share: 2 of 4 down is not more than half (fails over); 3 of 4 is; maxUnreachableShare 1 never stops', () => {
  const { instances, placements } = onN1(3, 4);
  const failovers = (down: string[], share?: number) => {
    const d = F.desired(nodes(4), instances, F.cluster(share === undefined ? {} : { failover: { maxUnreachableShare: share } }));
    const { store, observed } = F.settled(d, placements, { down, nodeRecords: dead(...down) });
    return plan({ desired: d, observed, store, now: NOW }).operations.filter((o) => o.type === 'FailoverInstance').length;
  };
  assert.is(failovers(['n1', 'n4']), 2, 'all but the one whose secondary is n4');
  assert.is(failovers(['n1', 'n3', 'n4']), 0);
  assert.is(failovers(['n1', 'n3', 'n4'], 1), 1, 'only the instances whose secondary answers');
  assert.is(failovers(['n1', 'n4'], 0.25), 0);
});

test('partitionGuard: one unreachable node never trips it; fenced and offline nodes are left out of both counts', () => {
  const c = F.cluster({ failover: { maxUnreachableShare: 0.1 } });
  const up = { up: true, settled: false };
  const down = { up: false, settled: false };
  const gone = { up: false, settled: true };
  assert.is(partitionGuard(c, [down, up, up]), undefined, 'one node is one event, whatever the share');
  assert.is(partitionGuard(F.cluster(), [gone, down, up]), undefined, 'a fenced node and a dead one: 1 of 2');
  assert.equal(partitionGuard(F.cluster(), [down, down, up]), { cluster: 'lab', unreachable: 2, nodes: 3, limit: 0.5 });
  assert.is(partitionGuard(F.cluster(), [gone, gone, down, up]), undefined);
});

test('a node fenced earlier does not count: the next dead node still fails over (two losses in a row, not a partition), even with no node left for new replicas', () => {
  const { instances, placements } = onN1(2, 3);
  const d = F.desired(nodes(3), instances);
  const records = [...dead('n1'), { name: 'n3', fencedAt: NOW - 600_000, nodeDownSince: NOW - 700_000 }];
  const { store, observed } = F.settled(d, placements.map((p) => ({ ...p, secondary: 'n2', lastSync: { at: NOW - 1000, node: 'n2' } })), { down: ['n1', 'n3'], nodeRecords: records });
  const p = plan({ desired: d, observed, store, now: NOW });
  assert.is(p.operations.filter((o) => o.type === 'FailoverInstance').length, 2, JSON.stringify(p.pending));
  assert.equal(p.pending.map((x) => x.cause.kind), ['no-secondary', 'no-secondary'], 'they run without a replica (no node left for one), reported as pending');
});

test('a flapping node (held) takes no new instances, but its own fail over when it dies', () => {
  const { instances, placements } = onN1(2, 3);
  const fresh = F.instance('new1', { memory: 256 * F.MiB });
  const d = F.desired(nodes(3), [...instances, fresh]);
  const held = { name: 'n1', holdUntil: NOW + 3_600_000, failures: [NOW - 3000, NOW - 2000, NOW - 120_000] };
  const alive = F.settled(d, placements, { nodeRecords: [held] });
  const create = plan({ desired: d, observed: alive.observed, store: alive.store, now: NOW }).operations.find((o) => o.type === 'CreateInstance');
  assert.ok(create && create.type === 'CreateInstance' && create.primary !== 'n1' && create.secondary !== 'n1', JSON.stringify(create));
  const gone = F.settled(d, placements, { down: ['n1'], nodeRecords: [{ ...held, nodeDownSince: NOW - 120_000 }] });
  const p = plan({ desired: d, observed: gone.observed, store: gone.store, now: NOW });
  assert.is(p.operations.filter((o) => o.type === 'FailoverInstance').length, 2);
});

test.run();
