/**
 * Causes: every kind renders to a sentence (the words users already know stay the same), and the
 * decisions that used to read sentences (drift, held disks) read causes only.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Cause, CauseKind, FailMode } from '../../src/model/causes.ts';
import { withCause, type Operation } from '../../src/model/operations.ts';
import { classifyDrift } from '../../src/plan/drift.ts';
import { plan, type Plan } from '../../src/plan/index.ts';
import { describeCause } from '../../src/plan/reasons.ts';
import * as F from '../support/fixtures.ts';

const T = Date.UTC(2026, 0, 2, 3, 4, 5);
const none: Record<FailMode, number> = { offline: 0, drained: 0, memory: 0, vcpus: 0, disk: 0, spindles: 0, 'anti-affinity': 0, 'n+1': 0, 'no-secondary': 0 };

/** One of each kind: a kind missing here is a compile error. */
const SAMPLES: { readonly [K in CauseKind]: Extract<Cause, { kind: K }> } = {
  'new-instance': { kind: 'new-instance' },
  'node-removed': { kind: 'node-removed', node: 'n1' },
  'node-offline': { kind: 'node-offline', node: 'n1' },
  'node-drained': { kind: 'node-drained', node: 'n1' },
  'node-dead': { kind: 'node-dead', node: 'n1', since: T },
  'failed-over': { kind: 'failed-over', node: 'n1' },
  pinned: { kind: 'pinned', role: 'secondary', node: 'n3' },
  balance: { kind: 'balance', note: 'rebalance: score 12.4100 → 9.8700' },
  'template-plain': { kind: 'template-plain' },
  'template-replicated': { kind: 'template-replicated' },
  'secondary-lost': { kind: 'secondary-lost' },
  'secondary-promoted': { kind: 'secondary-promoted' },
  'secondary-unusable': { kind: 'secondary-unusable', node: 'n2' },
  'container-missing': { kind: 'container-missing', node: 'n1' },
  'disks-missing': { kind: 'disks-missing', node: 'n1' },
  'spec-changed': { kind: 'spec-changed', node: 'n1' },
  'nics-changed': { kind: 'nics-changed', node: 'n1' },
  'state-changed': { kind: 'state-changed', want: 'running' },
  paused: { kind: 'paused', node: 'n1' },
  'replica-missing': { kind: 'replica-missing', node: 'n2' },
  'replica-unsynced': { kind: 'replica-unsynced', node: 'n2' },
  'replica-stale': { kind: 'replica-stale', node: 'n2', age: 300_000, interval: 60_000 },
  'mirror-stopped': { kind: 'mirror-stopped', node: 'n2', since: 0 },
  'mode-changed': { kind: 'mode-changed', node: 'n2', want: 'async' },
  'state-absent': { kind: 'state-absent' },
  'not-in-manifest': { kind: 'not-in-manifest' },
  'unknown-copy': { kind: 'unknown-copy' },
  'stale-copy': { kind: 'stale-copy' },
  renamed: { kind: 'renamed', from: 'db-old' },
  'rename-waits': { kind: 'rename-waits', node: 'n2', from: 'db-old' },
  'rename-unsupported': { kind: 'rename-unsupported', from: 'db-old', backend: 'docker' },
  'fenced-stale-copy': { kind: 'fenced-stale-copy', node: 'n1' },
  'no-secondary-wanted': { kind: 'no-secondary-wanted' },
  'secondary-changes': { kind: 'secondary-changes' },
  'node-down': { kind: 'node-down', node: 'n1', since: T, deadAt: T + 60_000, error: 'connect ECONNREFUSED' },
  'failover-blocked': { kind: 'failover-blocked', node: 'n1', block: { kind: 'no-fence', cluster: 'lab' } },
  'no-takeover': { kind: 'no-takeover', node: 'n1', secondary: 'n2' },
  'plain-lost': { kind: 'plain-lost', node: 'n1', instance: 'cache' },
  'partition-guard': { kind: 'partition-guard', node: 'n1', cluster: 'lab', unreachable: 2, nodes: 3, limit: 0.5 },
  'disruption-budget': { kind: 'disruption-budget', group: 'web', limit: 1, unavailable: ['web1'], wave: 2 },
  'pin-unusable': { kind: 'pin-unusable', role: 'primary', node: 'n4', unfit: { kind: 'drained' } },
  'no-placement': { kind: 'no-placement', instance: 'db', refusal: { kind: 'no-node', counts: { ...none, memory: 3, drained: 1 } } },
  'no-secondary': { kind: 'no-secondary', instance: 'db', refusal: { kind: 'no-node', counts: { ...none, 'n+1': 2 } } },
  'held-disks-missing-on-primary': { kind: 'held-disks-missing-on-primary', instance: 'db', node: 'n1', secondary: 'n2', syncedAt: T },
  'legacy-reason': { kind: 'legacy-reason', reason: 'spec changed' },
  'address-taken': { kind: 'address-taken', network: 'lan', address: '10.42.0.100', holder: 'web1', instance: 'db' },
  'pool-exhausted': { kind: 'pool-exhausted', network: 'lan', instances: ['web3', 'web4'], size: 2 },
  'link-missing': { kind: 'link-missing', node: 'n2', network: 'lan', link: 'br42', instance: 'web1' },
  'too-many-nics': { kind: 'too-many-nics', node: 'n2', instance: 'web1', count: 2, max: 1 },
  'duplicate-address': { kind: 'duplicate-address', network: 'lan', ip: '10.42.0.100', instances: ['web1', 'web2'] },
  'duplicate-mac': { kind: 'duplicate-mac', mac: '02:00:00:00:00:01', instances: ['web1', 'web2'] },
  'nic-mismatch': { kind: 'nic-mismatch', node: 'n1', instance: 'web1', nic: 0, assigned: { ip: '10.42.0.100', mac: '02:00:00:00:00:01' }, observed: { ip: '10.42.0.9', mac: '02:00:00:00:00:01' } },
  'pool-low': { kind: 'pool-low', network: 'lan', used: 4, size: 4 },
};

test('every cause kind renders to a sentence', () => {
  for (const [kind, cause] of Object.entries(SAMPLES)) {
    const text = describeCause(cause);
    assert.type(text, 'string', kind);
    assert.ok(text.length > 5, `${kind}: "${text}"`);
    assert.not.match(text, /undefined|\[object|NaN/, `${kind}: "${text}"`);
  }
});

test('the sentences are the ones plan has always printed', () => {
  const say = (k: CauseKind) => describeCause(SAMPLES[k]);
  assert.is(say('new-instance'), 'new instance');
  assert.is(say('container-missing'), 'container missing on n1');
  assert.is(say('disks-missing'), 'disks missing on n1');
  assert.is(say('spec-changed'), 'spec changed');
  assert.is(say('state-changed'), 'should be running');
  assert.is(say('paused'), 'paused on n1 with no backup holding it: thaw it');
  assert.is(describeCause({ kind: 'state-changed', want: 'stopped' }), 'state: stopped');
  assert.is(say('replica-missing'), 'replica missing on n2');
  assert.is(say('replica-unsynced'), 'replica on n2 never synced');
  assert.is(say('replica-stale'), 'replica on n2 is 5m0s old (replication.interval 1m0s)');
  assert.is(say('mirror-stopped'), 'the mirror into n2 stopped (last in sync 1970-01-01T00:00:00.000Z)');
  assert.is(say('mode-changed'), 'replication.mode is async: the synchronous mirror into n2 gives way to increments');
  assert.is(say('node-dead'), 'primary n1 down since 2026-01-02T03:04:05.000Z');
  assert.is(say('node-down'), 'primary n1 unreachable since 2026-01-02T03:04:05.000Z (connect ECONNREFUSED); failover at 2026-01-02T03:05:05.000Z if it stays down');
  assert.is(say('fenced-stale-copy'), 'stale copy (left on n1 when it was fenced)');
  assert.is(say('pinned'), 'pinned to secondary n3');
  assert.is(say('pin-unusable'), 'pinned primary n4 cannot take instances now: it is drained');
  assert.is(say('no-placement'), 'cannot place db: no node: 3 lack memory, 1 drained');
  assert.is(say('no-secondary'), 'no new secondary for db: no node: 2 would break N+1');
  assert.is(say('failover-blocked'), 'n1 is down: Cluster "lab" has no failover.fenceCommand, so the node cannot be fenced and nothing fails over');
  assert.is(say('partition-guard'), 'n1 is down, but automatic failover is stopped: 2 of 3 nodes of cluster "lab" are unreachable at once, '
    + 'more than failover.maxUnreachableShare (0.5); this master may be the one cut off (partition-guard). Bring the nodes back, or mark the dead ones offline to fail them over');
  assert.is(say('disruption-budget'), 'wave 2 of group "web": waits until web1 runs again (reconcile.maxUnavailable: 1 member of a group down at a time)');
  assert.is(say('held-disks-missing-on-primary'), 'disks of db are missing on its primary n1 but its replica on n2 holds them (synced 2026-01-02T03:04:05.000Z); '
    + 'not recreating them empty. To recover from the replica, mark n1 offline (the instance fails over to n2).');
});

test('an operation saved by an older master (a sentence, no cause) keeps its sentence', () => {
  const old = { type: 'StartInstance', instance: 'a', primary: 'n1', reason: 'should be running' } as unknown as Operation;
  const op = withCause(old);
  assert.equal(op.cause, { kind: 'legacy-reason', reason: 'should be running' });
  assert.is(describeCause(op.cause), 'should be running');
  const current: Operation = { type: 'StartInstance', instance: 'a', primary: 'n1', cause: { kind: 'state-changed', want: 'running' } };
  assert.is(withCause(current), current);
});

// ── drift reads causes ────────────────────────────────────────────────────────────────────────

const world = () => {
  const d = F.desired(['n1', 'n2', 'n3'].map((n) => F.node(n)), [F.instance('a'), F.instance('b')]);
  const applied = { specHash: F.hashOf(d.instances.get('a')!), running: true };
  const { store, observed } = F.settled(d, [{ ...F.placed('a', 'n1', 'n2'), applied }, { ...F.placed('b', 'n2', 'n3'), applied }]);
  return { d, store, observed };
};
const spec = { name: 'a', image: 'x', memory: 1, vcpus: 1, diskTemplate: 'replicated' as const, disks: [], env: {}, ports: [] };
const planOf = (operations: Operation[], pending: Plan['pending'] = []): Plan => ({ operations, deferred: [], waves: {}, pending, warnings: [], errors: [] });

test('drift: a recreate for a missing container or missing disks is drift; the cause decides, not the words', () => {
  const { store, observed } = world();
  const recreate = (cause: Cause): Operation => ({ type: 'RecreateInstance', instance: 'a', primary: 'n1', spec, generation: 2, start: true, cause, changes: [], disruption: 'recreate' });
  const kinds = (op: Operation) => classifyDrift(planOf([op]), observed, store).map((x) => [x.kind, x.node, x.action]);
  assert.equal(kinds(recreate({ kind: 'container-missing', node: 'n1' })), [['container-removed', 'n1', 'corrected']]);
  assert.equal(kinds(recreate({ kind: 'disks-missing', node: 'n1' })), [['volume-gone', 'n1', 'corrected']]);
  // the same words with no typed cause behind them decide nothing
  assert.equal(kinds(recreate({ kind: 'legacy-reason', reason: 'container missing on n1' })), []);
});

test('drift: a sync for a missing replica that was synced before is drift; a stale one is routine', () => {
  const { store, observed } = world();
  const sync = (cause: Cause): Operation => ({ type: 'SyncDisks', instance: 'a', primary: 'n1', secondary: 'n2', cause });
  const kinds = (op: Operation) => classifyDrift(planOf([op]), observed, store).map((x) => [x.kind, x.node]);
  assert.equal(kinds(sync({ kind: 'replica-missing', node: 'n2' })), [['replica-gone', 'n2']]);
  assert.equal(kinds(sync({ kind: 'replica-stale', node: 'n2', age: 120_000, interval: 60_000 })), []);
  assert.equal(kinds(sync({ kind: 'replica-unsynced', node: 'n2' })), []);
});

test('drift: disks held on the primary name the node from the cause', () => {
  const { store, observed } = world();
  const held = { instance: 'b', cause: SAMPLES['held-disks-missing-on-primary'] };
  const items = classifyDrift(planOf([], [{ ...held, cause: { ...held.cause, instance: 'b', node: 'n2', secondary: 'n3' } }]), observed, store);
  assert.equal(items.map((x) => [x.instance, x.node, x.kind, x.action]), [['b', 'n2', 'volume-gone', 'left']]);
  // other pending items are not drift
  assert.equal(classifyDrift(planOf([], [{ instance: 'b', cause: SAMPLES['node-down'] }]), observed, store), []);
});

test('drift end to end: a container removed by hand, and disks lost on a primary with a synced replica', () => {
  const { d, store, observed } = world();
  F.editable(observed, 'n1').containers.length = 0; // a's container removed on n1
  const n2 = F.editable(observed, 'n2');
  n2.volumes.splice(0, n2.volumes.length, ...n2.volumes.filter((v) => !(v.instance === 'b' && v.role === 'primary'))); // b's disks gone on n2
  const p = plan({ desired: d, observed, store, now: 1_000_000 });
  assert.equal(p.operations.map((o) => [o.type, o.instance, o.cause.kind]), [['RecreateInstance', 'a', 'container-missing']]);
  assert.equal(p.pending.map((x) => [x.instance, x.cause.kind]), [['b', 'held-disks-missing-on-primary']]);
  const items = classifyDrift(p, observed, store).map((x) => [x.instance, x.node, x.kind, x.action]);
  assert.equal(items, [['a', 'n1', 'container-removed', 'corrected'], ['b', 'n2', 'volume-gone', 'left']]);
});

test.run();
