/**
 * plan(): pure rules, on inputs built by hand (test/support/fixtures.ts) and on a manifest fixture.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { plan, type Plan, type PlanInput } from '../../src/plan/index.ts';
import type { Operation } from '../../src/model/operations.ts';
import { describeCause } from '../../src/plan/reasons.ts';
import { loadManifests } from '../../src/manifest/index.ts';
import * as F from '../support/fixtures.ts';
import { fixture } from '../support/cli.ts';

const NOW = 2_000_000;
const ops = (p: Plan, type?: Operation['type']) => (type ? p.operations.filter((o) => o.type === type) : p.operations);
const only = <T extends Operation['type']>(p: Plan, type: T): Extract<Operation, { type: T }> => {
  const found = ops(p, type);
  assert.is(found.length, 1, `one ${type} in ${JSON.stringify(p.operations.map((o) => `${o.type} ${o.instance}`))}`);
  return found[0] as Extract<Operation, { type: T }>;
};
const brief = (p: Plan) => p.operations.map((o) => `${o.type} ${o.instance}`);
const three = () => ['n1', 'n2', 'n3'].map((n) => F.node(n));

function run(input: Omit<PlanInput, 'now'> & { now?: number }): Plan {
  const p = plan({ now: NOW, ...input });
  assert.equal(p.errors, [], `no plan errors expected: ${JSON.stringify(p.errors)}`);
  return p;
}

// ── placement of new instances ────────────────────────────────────────────────────────────────

test('new instances: distinct usable primary and secondary; drained, offline, unreachable and fenced nodes never chosen', () => {
  const nodes = [
    F.node('n1'), F.node('n2', { drained: true }), F.node('n3'), F.node('n4', { offline: true }),
    F.node('n5'), F.node('n6'), F.node('n7'),
  ];
  const instances = [...Array(12).keys()].map((i) => F.instance(`i${String(i).padStart(2, '0')}`, { memory: 256 * F.MiB, ...(i % 4 === 3 && { diskTemplate: 'plain' as const }) }));
  const d = F.desired(nodes, instances);
  const observed = F.observed(d, { n5: { health: 'unreachable' } });
  const store = F.store([], [{ name: 'n6', fencedAt: NOW - 1000 }]); // fenced, back up, not cleaned yet
  const p = run({ desired: d, observed, store });
  const creates = ops(p, 'CreateInstance') as Extract<Operation, { type: 'CreateInstance' }>[];
  assert.is(creates.length, 12);
  const forbidden = new Set(['n2', 'n4', 'n5', 'n6']);
  for (const c of creates) {
    assert.not.ok(forbidden.has(c.primary), `${c.instance}: primary ${c.primary}`);
    const i = d.instances.get(c.instance)!;
    if (i.diskTemplate === 'plain') assert.is(c.secondary, undefined, `${c.instance}: plain has no secondary`);
    else {
      assert.ok(c.secondary, `${c.instance}: replicated needs a secondary`);
      assert.is.not(c.secondary, c.primary, `${c.instance}: primary = secondary`);
      assert.not.ok(forbidden.has(c.secondary!), `${c.instance}: secondary ${c.secondary}`);
    }
    assert.is(c.generation, 1);
    assert.is(c.start, true);
    assert.equal(c.cause, { kind: 'new-instance' });
  }
  assert.ok(new Set(creates.map((c) => c.primary)).size >= 2, 'spread over more than one node');
});

test('new instances: antiAffinity keeps instances sharing a tag on different primaries', () => {
  const d = F.desired(three(), [
    F.instance('web1', { antiAffinity: ['web'] }), F.instance('web2', { antiAffinity: ['web'] }), F.instance('web3', { antiAffinity: ['web'] }),
    F.instance('db1', { antiAffinity: ['db'] }), F.instance('db2', { antiAffinity: ['db'] }),
  ]);
  const p = run({ desired: d, observed: F.observed(d), store: F.store() });
  const primary = (n: string) => (ops(p).find((o) => o.instance === n) as Extract<Operation, { type: 'CreateInstance' }>).primary;
  assert.is(new Set(['web1', 'web2', 'web3'].map(primary)).size, 3, 'three web primaries on three nodes');
  assert.is.not(primary('db1'), primary('db2'));
});

test('new instances: pinned primary and secondary are used as given', () => {
  const d = F.desired(three(), [F.instance('db', { primary: 'n3', secondary: 'n1' }), F.instance('half', { primary: 'n2' })]);
  const p = run({ desired: d, observed: F.observed(d), store: F.store() });
  const db = ops(p).find((o) => o.instance === 'db') as Extract<Operation, { type: 'CreateInstance' }>;
  assert.equal([db.primary, db.secondary], ['n3', 'n1']);
  const half = ops(p).find((o) => o.instance === 'half') as Extract<Operation, { type: 'CreateInstance' }>;
  assert.is(half.primary, 'n2');
  assert.ok(half.secondary && half.secondary !== 'n2');
});

test('new instances: a stopped instance is created, not started', () => {
  const d = F.desired(three(), [F.instance('batch', { state: 'stopped' })]);
  const c = only(run({ desired: d, observed: F.observed(d), store: F.store() }), 'CreateInstance');
  assert.is(c.start, false);
});

// ── stability ─────────────────────────────────────────────────────────────────────────────────

test('stable: re-planning after the creates are applied gives no operations, warnings or pending', () => {
  const d = F.desired([...three(), F.node('n4')], [
    ...[...Array(8).keys()].map((i) => F.instance(`r${i}`, { antiAffinity: i < 3 ? ['web'] : [] })),
    F.instance('plain1', { diskTemplate: 'plain' }), F.instance('stopped1', { state: 'stopped' }),
  ]);
  const first = run({ desired: d, observed: F.observed(d), store: F.store() });
  assert.is(ops(first, 'CreateInstance').length, 10);
  const { store, observed } = F.settled(d, F.placementsOf(first.operations));
  const again = run({ desired: d, observed, store });
  assert.equal(brief(again), [], 'no operations after apply');
  assert.equal(again.pending, []);
  // and the existing placements are kept even when a new node joins
  const more = F.withNodes(d, F.node('n5'));
  const withNewNode = run({ desired: more, observed: F.observed(more, Object.fromEntries([...observed.nodes].map(([k, v]) => [k, { containers: [...v.containers], volumes: [...v.volumes] }]))), store });
  assert.equal(brief(withNewNode), [], 'a new empty node moves nothing');
});

// ── moves, spec and state changes ─────────────────────────────────────────────────────────────

test('pinned primary equal to the current secondary is a migrate (roles swap)', () => {
  const base = F.desired(three(), [F.instance('db')]);
  const { store, observed } = F.settled(base, [F.placed('db', 'n1', 'n2')]);
  const d = F.withInstances(base, F.instance('db', { primary: 'n2' }));
  const p = run({ desired: d, observed, store });
  const m = only(p, 'MigrateInstance');
  assert.equal([m.from, m.to, m.generation, m.start], ['n1', 'n2', 2, true]);
  assert.equal(m.cause, { kind: 'pinned', role: 'primary', node: 'n2' });
  assert.is(ops(p, 'MoveInstance').length, 0);
  assert.is(ops(p, 'ReplaceSecondary').length, 0, 'the old primary becomes the secondary: nothing to replace');
});

test('pinned primary on a node holding no copy is a move (the secondary stays)', () => {
  const base = F.desired(three(), [F.instance('db')]);
  const { store, observed } = F.settled(base, [F.placed('db', 'n1', 'n2')]);
  const d = F.withInstances(base, F.instance('db', { primary: 'n3' }));
  const m = only(run({ desired: d, observed, store }), 'MoveInstance');
  assert.equal([m.from, m.to, m.secondary], ['n1', 'n3', 'n2']);
  assert.is(m.generation, 2);
});

test('spec changes that need it are a recreate on the same primary: image, env', () => {
  const base = F.desired(three(), [F.instance('a')]);
  const { store, observed } = F.settled(base, [F.placed('a', 'n1', 'n2', 3)]);
  for (const change of [{ image: 'alpine' }, { env: { X: '1' } }]) {
    const d = F.withInstances(base, F.instance('a', change));
    const p = run({ desired: d, observed, store });
    const r = only(p, 'RecreateInstance');
    assert.is(r.primary, 'n1', JSON.stringify(change));
    assert.is(r.generation, 4);
    assert.is(r.start, true);
    assert.equal(r.spec, { ...r.spec, ...change });
    assert.is(p.operations.length, 1, `${JSON.stringify(change)}: only the recreate (${brief(p)})`);
  }
});

test('state: running → stopped is a StopInstance, stopped → running a StartInstance', () => {
  const base = F.desired(three(), [F.instance('a')]);
  const running = F.settled(base, [F.placed('a', 'n1', 'n2')]);
  const stop = only(run({ desired: F.withInstances(base, F.instance('a', { state: 'stopped' })), observed: running.observed, store: running.store }), 'StopInstance');
  assert.is(stop.primary, 'n1');
  const stoppedDesired = F.withInstances(base, F.instance('a', { state: 'stopped' }));
  const stopped = F.settled(stoppedDesired, [F.placed('a', 'n1', 'n2')]);
  const p = run({ desired: base, observed: stopped.observed, store: stopped.store });
  assert.is(only(p, 'StartInstance').primary, 'n1');
  assert.is(p.operations.length, 1);
});

test('a container left paused is thawed by a StartInstance (cause paused); one a backup holds now is left alone', () => {
  const base = F.desired(three(), [F.instance('a')]);
  const settled = F.settled(base, [F.placed('a', 'n1', 'n2')]);
  const pausedAs = (paused: 'left' | 'backup') => {
    const nodes = new Map(settled.observed.nodes);
    const n1 = nodes.get('n1')!;
    nodes.set('n1', { ...n1, containers: n1.containers.map((c) => ({ ...c, paused })) });
    return run({ desired: base, observed: { ...settled.observed, nodes }, store: settled.store });
  };
  const left = pausedAs('left');
  const start = only(left, 'StartInstance');
  assert.equal(start.cause, { kind: 'paused', node: 'n1' });
  assert.is(describeCause(start.cause), 'paused on n1 with no backup holding it: thaw it');
  assert.is(left.operations.length, 1);
  assert.equal(brief(pausedAs('backup')), [], 'a backup thaws it itself in a moment');
});

test('state: absent removes the instance from its primary and secondary', () => {
  const base = F.desired(three(), [F.instance('a'), F.instance('b')]);
  const { store, observed } = F.settled(base, [F.placed('a', 'n1', 'n2'), F.placed('b', 'n2', 'n3')]);
  const p = run({ desired: F.withInstances(base, F.instance('a', { state: 'absent' })), observed, store });
  const r = only(p, 'RemoveInstance');
  assert.equal([r.instance, r.primary, r.secondary], ['a', 'n1', 'n2']);
  assert.is(p.operations.length, 1);
  // absent and never placed: nothing to do
  const never = F.desired(three(), [F.instance('ghost', { state: 'absent' })]);
  assert.equal(brief(run({ desired: never, observed: F.observed(never), store: F.store() })), []);
});

// ── node loss ─────────────────────────────────────────────────────────────────────────────────

const lossCluster = F.cluster({ failover: { nodeDownAfterMs: 60_000 } });
const loss = () => F.desired(three(), [F.instance('a'), F.instance('b', { state: 'stopped' }), F.instance('p', { diskTemplate: 'plain' })], lossCluster);
const lossPlacements = [F.placed('a', 'n1', 'n2', 1, 1_500_000), F.placed('b', 'n1', 'n3', 1, 1_600_000), F.placed('p', 'n1')];

test('node down within failover.nodeDownAfter: no failover, pending with retryAt at the end of the grace', () => {
  const since = NOW - 10_000;
  const { store, observed } = F.settled(loss(), lossPlacements, { down: ['n1'], nodeRecords: [{ name: 'n1', nodeDownSince: since }] });
  const p = run({ desired: loss(), observed, store });
  assert.equal(brief(p), [], 'nothing moves within the grace');
  assert.equal(p.pending.map((x) => x.instance).sort(), ['a', 'b', 'p']);
  for (const x of p.pending) {
    assert.is(x.retryAt, since + 60_000);
    assert.equal([x.cause.kind, 'node' in x.cause && x.cause.node], ['node-down', 'n1']);
    assert.match(describeCause(x.cause), 'primary n1 unreachable since');
  }
  // a node seen down for the first time (no record yet) counts from now
  const fresh = F.settled(loss(), lossPlacements, { down: ['n1'] });
  const q = run({ desired: loss(), observed: fresh.observed, store: fresh.store });
  assert.equal(brief(q), []);
  assert.ok(q.pending.every((x) => x.retryAt === NOW + 60_000));
});

test('node down past the grace: failover to the secondary (with its recovery point), then a new secondary; plain instances are lost', () => {
  const { store, observed } = F.settled(loss(), lossPlacements, { down: ['n1'], nodeRecords: [{ name: 'n1', nodeDownSince: NOW - 61_000 }] });
  const p = run({ desired: loss(), observed, store });
  const a = p.operations.filter((o) => o.instance === 'a');
  assert.equal(a.map((o) => o.type), ['FailoverInstance', 'ReplaceSecondary']);
  const f = a[0] as Extract<Operation, { type: 'FailoverInstance' }>;
  assert.equal([f.from, f.to, f.generation, f.start, f.recoveryPoint], ['n1', 'n2', 2, true, 1_500_000]);
  const rs = a[1] as Extract<Operation, { type: 'ReplaceSecondary' }>;
  assert.equal([rs.primary, rs.to], ['n2', 'n3']);
  assert.is(rs.from, undefined, 'the dead old primary is not asked to remove anything');
  const b = p.operations.filter((o) => o.instance === 'b');
  assert.equal(b.map((o) => o.type), ['FailoverInstance', 'ReplaceSecondary']);
  assert.equal([(b[0] as Extract<Operation, { type: 'FailoverInstance' }>).to, (b[0] as Extract<Operation, { type: 'FailoverInstance' }>).start], ['n3', false], 'a stopped instance stays stopped');
  assert.is((b[1] as Extract<Operation, { type: 'ReplaceSecondary' }>).to, 'n2');
  assert.is(p.operations.some((o) => o.instance === 'p'), false, 'nothing to do for the plain one');
  const lost = p.pending.find((x) => x.instance === 'p');
  assert.ok(lost, 'the plain instance is reported');
  assert.equal(lost!.cause, { kind: 'plain-lost', node: 'n1', instance: 'p' });
  assert.match(describeCause(lost!.cause), 'lost until n1 returns');
  // failovers come before everything else
  assert.is(p.operations[0]!.type, 'FailoverInstance');
});

test('an offline node is dead at once: its instances fail over without waiting', () => {
  const d = F.withNodes(loss(), F.node('n1', { offline: true }));
  const { store, observed } = F.settled(d, lossPlacements, { down: ['n1'] });
  const p = run({ desired: d, observed, store });
  assert.equal(ops(p, 'FailoverInstance').map((o) => o.instance), ['a', 'b']);
  assert.is(p.pending.find((x) => x.instance === 'p')?.retryAt, undefined, 'the plain one is lost, with nothing to wait for');
});

test('automatic failover off: a dead node\'s instances are pending, never failed over', () => {
  const d = F.desired(three(), [F.instance('a')], F.cluster({ failover: { automatic: false, nodeDownAfterMs: 1000 } }));
  const { store, observed } = F.settled(d, [F.placed('a', 'n1', 'n2')], { down: ['n1'], nodeRecords: [{ name: 'n1', nodeDownSince: NOW - 60_000 }] });
  const p = run({ desired: d, observed, store });
  assert.equal(brief(p), []);
  const blocked = p.pending[0]!.cause;
  assert.ok(blocked.kind === 'failover-blocked' && blocked.block.kind === 'automatic-off', JSON.stringify(blocked));
  assert.match(describeCause(blocked), 'automatic failover is off');
});

test('a secondary down past the grace is replaced; within the grace it is left alone', () => {
  const d = F.desired(three(), [F.instance('a')], lossCluster);
  const past = F.settled(d, [F.placed('a', 'n1', 'n2')], { down: ['n2'], nodeRecords: [{ name: 'n2', nodeDownSince: NOW - 61_000 }] });
  const rs = only(run({ desired: d, observed: past.observed, store: past.store }), 'ReplaceSecondary');
  assert.equal([rs.primary, rs.to], ['n1', 'n3']);
  const within = F.settled(d, [F.placed('a', 'n1', 'n2')], { down: ['n2'], nodeRecords: [{ name: 'n2', nodeDownSince: NOW - 1000 }] });
  assert.equal(brief(run({ desired: d, observed: within.observed, store: within.store })), []);
});

test('a fenced node that is back: its stale copies are removed first in the plan', () => {
  const d = F.desired([...three(), F.node('n4')], [F.instance('a'), F.instance('b'), F.instance('c', { state: 'stopped' }), F.instance('new1')], lossCluster);
  // a failed over from n1 to n2 earlier (generation 2); n1 was fenced and is back with the old copy.
  const placements = [F.placed('a', 'n2', 'n3', 2), F.placed('b', 'n4', 'n3'), F.placed('c', 'n2', 'n3')];
  const { store, observed } = F.settled(d, placements, { down: ['n4'], nodeRecords: [{ name: 'n1', fencedAt: NOW - 5000 }, { name: 'n4', nodeDownSince: NOW - 120_000 }] });
  const n1 = F.editable(observed, 'n1');
  n1.containers.push({ instance: 'a', state: 'stopped', specHash: F.hashOf(d.instances.get('a')!), generation: 1 });
  n1.volumes.push({ instance: 'a', disk: 0, role: 'primary', size: F.GiB, generation: 1 });
  const c = observed.nodes.get('n2')!.containers.find((x) => x.instance === 'c') as { state: string };
  c.state = 'running'; // c needs a stop too
  const p = run({ desired: d, observed, store });
  assert.equal(p.operations[0], { type: 'RemoveOrphan', instance: 'a', node: 'n1', containers: true, volumes: true, cause: { kind: 'fenced-stale-copy', node: 'n1' } });
  assert.match(describeCause(p.operations[0]!.cause), 'stale copy (left on n1 when it was fenced)');
  const types = p.operations.map((o) => o.type);
  assert.ok(types.includes('FailoverInstance') && types.includes('CreateInstance') && types.includes('StopInstance'), `other work in the same plan: ${brief(p)}`);
  // the fenced node takes no new work in this plan
  for (const o of ops(p, 'CreateInstance') as Extract<Operation, { type: 'CreateInstance' }>[]) assert.not.ok([o.primary, o.secondary].includes('n1'), 'no new work on the fenced node');
});

test('drained node: its primaries migrate to their secondaries, its secondaries are replaced, plain ones move', () => {
  const d = F.desired([F.node('n1', { drained: true }), F.node('n2'), F.node('n3')], [F.instance('a'), F.instance('b'), F.instance('p', { diskTemplate: 'plain' })]);
  const { store, observed } = F.settled(d, [F.placed('a', 'n1', 'n2'), F.placed('b', 'n3', 'n1'), F.placed('p', 'n1')]);
  const p = run({ desired: d, observed, store });
  const a = p.operations.filter((o) => o.instance === 'a');
  assert.equal(a.map((o) => o.type), ['MigrateInstance', 'ReplaceSecondary']);
  assert.equal([(a[0] as Extract<Operation, { type: 'MigrateInstance' }>).from, (a[0] as Extract<Operation, { type: 'MigrateInstance' }>).to], ['n1', 'n2']);
  assert.equal([(a[1] as Extract<Operation, { type: 'ReplaceSecondary' }>).from, (a[1] as Extract<Operation, { type: 'ReplaceSecondary' }>).to], ['n1', 'n3']);
  const b = p.operations.filter((o) => o.instance === 'b');
  assert.equal(b.map((o) => o.type), ['ReplaceSecondary']);
  assert.equal([(b[0] as Extract<Operation, { type: 'ReplaceSecondary' }>).primary, (b[0] as Extract<Operation, { type: 'ReplaceSecondary' }>).from, (b[0] as Extract<Operation, { type: 'ReplaceSecondary' }>).to], ['n3', 'n1', 'n2']);
  const mv = p.operations.filter((o) => o.instance === 'p');
  assert.equal(mv.map((o) => o.type), ['MoveInstance']);
  assert.is((mv[0] as Extract<Operation, { type: 'MoveInstance' }>).from, 'n1');
  assert.is.not((mv[0] as Extract<Operation, { type: 'MoveInstance' }>).to, 'n1');
  for (const o of p.operations) assert.match(describeCause(o.cause), /drained|cannot hold/);
  assert.equal(a[0]!.cause, { kind: 'node-drained', node: 'n1' });
});

// ── what no manifest wants ────────────────────────────────────────────────────────────────────

test('copies no manifest wants: a warning without prune, RemoveOrphan with prune', () => {
  const d = F.desired(three(), [F.instance('a')]);
  const { store, observed } = F.settled(d, [F.placed('a', 'n1', 'n2')]);
  F.editable(observed, 'n3').containers.push({ instance: 'ghost', state: 'running', specHash: 'x', generation: 1 });
  F.editable(observed, 'n3').volumes.push({ instance: 'ghost', disk: 0, role: 'primary', size: F.GiB, generation: 1 });
  const keep = run({ desired: d, observed, store });
  assert.equal(brief(keep), []);
  assert.ok(keep.warnings.some((w) => w.includes('ghost') && w.includes('n3') && w.includes('--prune')), keep.warnings.join('\n'));
  const prune = run({ desired: d, observed, store, prune: true });
  assert.equal(prune.operations, [{ type: 'RemoveOrphan', instance: 'ghost', node: 'n3', containers: true, volumes: true, cause: { kind: 'unknown-copy' } }]);
});

test('an instance placed by Drover but gone from the manifests: warned and kept, removed with prune', () => {
  const full = F.desired(three(), [F.instance('a'), F.instance('old')]);
  const { store, observed } = F.settled(full, [F.placed('a', 'n1', 'n2'), F.placed('old', 'n2', 'n3')]);
  const d = F.desired(three(), [F.instance('a')]);
  const keep = run({ desired: d, observed, store });
  assert.equal(brief(keep), []);
  assert.ok(keep.warnings.some((w) => w.includes('old') && w.includes('--prune')));
  const r = only(run({ desired: d, observed, store, prune: true }), 'RemoveInstance');
  assert.equal([r.instance, r.primary, r.secondary], ['old', 'n2', 'n3']);
});

// ── errors ────────────────────────────────────────────────────────────────────────────────────

test('an impossible placement is a plan error naming the instance and its source location', () => {
  const d = F.desired([F.node('n1'), F.node('n2')], [
    F.instance('big1', { memory: 6 * F.GiB, diskTemplate: 'plain' }),
    F.instance('big2', { memory: 6 * F.GiB, diskTemplate: 'plain' }),
    F.instance('big3', { memory: 6 * F.GiB, diskTemplate: 'plain', source: F.src('clusters/x/big3.yaml', 7, 3) }),
  ]);
  const p = plan({ desired: d, observed: F.observed(d), store: F.store(), now: NOW });
  assert.is(p.errors.length, 1, JSON.stringify(p.errors));
  assert.is(p.errors[0]!.instance, 'big3');
  assert.match(p.errors[0]!.message, 'big3');
  assert.equal(p.errors[0]!.source, { file: 'clusters/x/big3.yaml', line: 7, column: 3 });
});

test('an impossible placement from manifests on disk carries the file, line and column of the instance', async () => {
  const r = await loadManifests([fixture('impossible')]);
  if (!r.ok) throw new Error(`fixture should validate: ${JSON.stringify(r.diagnostics)}`);
  const p = plan({ desired: r.desired, observed: F.observed(r.desired), store: F.store(), now: NOW });
  assert.is(p.errors.length, 1, JSON.stringify(p.errors));
  const e = p.errors[0]!;
  assert.is(e.instance, 'big3');
  assert.ok(e.source!.file.endsWith('impossible/instances.yaml'), e.source!.file);
  assert.is(e.source!.line, 13, 'the line where the big3 document starts');
  assert.ok(e.source!.column >= 1);
});

// ── purity ────────────────────────────────────────────────────────────────────────────────────

test('deterministic and pure: same input → same plan; the input is not modified', () => {
  const d = F.desired([...three(), F.node('n4'), F.node('n5', { drained: true })],
    [...Array(30).keys()].map((i) => F.instance(`i${i}`, { memory: (256 + (i % 5) * 128) * F.MiB, antiAffinity: i % 10 ? [] : ['g'] })), lossCluster);
  const placements = [F.placed('i0', 'n1', 'n2'), F.placed('i1', 'n5', 'n3'), F.placed('i2', 'n2', 'n1')];
  const mk = () => F.settled(d, placements, { down: ['n2'], nodeRecords: [{ name: 'n2', nodeDownSince: NOW - 61_000 }] });
  const a = mk();
  const before = JSON.stringify([[...a.store.placements], [...a.store.nodes], [...a.observed.nodes]]);
  const p1 = plan({ desired: d, observed: a.observed, store: a.store, now: NOW });
  const p2 = plan({ desired: d, observed: a.observed, store: a.store, now: NOW });
  const b = mk();
  const p3 = plan({ desired: d, observed: b.observed, store: b.store, now: NOW });
  assert.equal(p1, p2);
  assert.equal(p1, p3);
  assert.equal(p1.errors, []);
  assert.ok(p1.operations.length > 30, `a plan with work in it (${p1.operations.length})`);
  assert.is(JSON.stringify([[...a.store.placements], [...a.store.nodes], [...a.observed.nodes]]), before, 'inputs untouched');
});

test('deterministic: the order instances are listed in does not change the plan', () => {
  const instances = [...Array(20).keys()].map((i) => F.instance(`i${i}`, { memory: (256 + (i % 4) * 256) * F.MiB, antiAffinity: i % 2 ? ['odd'] : [] }));
  const d1 = F.desired([...three(), F.node('n4')], instances);
  const d2 = F.desired([F.node('n4'), ...three().reverse()], [...instances].reverse());
  const p1 = plan({ desired: d1, observed: F.observed(d1), store: F.store(), now: NOW });
  const p2 = plan({ desired: d2, observed: F.observed(d2), store: F.store(), now: NOW });
  assert.equal(p1.operations, p2.operations);
});

test.run();
