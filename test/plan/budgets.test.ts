/**
 * Disruption budgets (plan/budgets.ts): waves within a group's maxUnavailable, members already down
 * counting against it, failovers never held, and a level-triggered hand-over between rounds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { plan, type Plan } from '../../src/plan/index.ts';
import { budgetLimit, chainDisruption, disruptionOf } from '../../src/plan/budgets.ts';
import type { Budget, DesiredInstance } from '../../src/model/desired.ts';
import type { MigrateInstance, Operation } from '../../src/model/operations.ts';
import { toSpec } from '../../src/plan/spec.ts';
import * as F from '../support/fixtures.ts';

const NOW = 2_000_000;
const brief = (ops: readonly Operation[]) => ops.map((o) => `${o.type} ${o.instance}`);
const nodes = () => ['n1', 'n2', 'n3', 'n4'].map((n) => F.node(n));
const web = (name: string, over: Partial<DesiredInstance> = {}) => F.instance(name, { antiAffinity: ['web'], ...over });
const PLACED = [F.placed('web1', 'n1', 'n2'), F.placed('web2', 'n2', 'n3'), F.placed('web3', 'n3', 'n4'), F.placed('web4', 'n4', 'n1')];

/** `names` settled as placed above, then their memory changed in the manifests. */
function changed(names: readonly string[], budget?: Budget, others: readonly DesiredInstance[] = []) {
  const before = F.desired(nodes(), [...names.map((n) => web(n)), ...others], F.cluster(budget ? { reconcile: { maxUnavailable: budget } } : {}));
  const settled = F.settled(before, PLACED.filter((p) => before.instances.has(p.instance)));
  const after = F.withInstances(before, ...names.map((n) => web(n, { memory: 768 * F.MiB })));
  return { desired: after, ...settled };
}

const run = (input: ReturnType<typeof changed>): Plan => {
  const p = plan({ ...input, now: NOW });
  assert.equal(p.errors, []);
  return p;
};

test('two members of a group changed: wave 1 runs now, wave 2 is shown and waits for it (pending, typed cause)', () => {
  const p = run(changed(['web1', 'web2']));
  assert.equal(brief(p.operations), ['RecreateInstance web1']);
  assert.equal(brief(p.deferred), ['RecreateInstance web2']);
  assert.equal(p.waves, { web1: 1, web2: 2 });
  assert.equal(p.pending.map((x) => x.cause), [{ kind: 'disruption-budget', group: 'web', limit: 1, unavailable: ['web1'], wave: 2 }]);
});

test('maxUnavailable as a count or a share (rounded up) sets the size of each wave', () => {
  const four = ['web1', 'web2', 'web3', 'web4'];
  assert.equal(run(changed(four, { count: 2 })).waves, { web1: 1, web2: 1, web3: 2, web4: 2 });
  assert.equal(run(changed(four, { percent: 50 })).waves, { web1: 1, web2: 1, web3: 2, web4: 2 });
  assert.equal(run(changed(four, { percent: 10 })).waves, { web1: 1, web2: 2, web3: 3, web4: 4 });
  assert.equal(run(changed(four, { percent: 100 })).deferred, []);
  assert.is(budgetLimit({ percent: 30 }, 4), 2);
  assert.is(budgetLimit(undefined, 9), 1);
  assert.is(budgetLimit({ count: 0 }, 3), 1, 'a model built by hand never deadlocks (manifests refuse 0)');
});

test('next round, from what the nodes show: wave 2 runs once wave 1 runs again with its new spec', () => {
  const input = changed(['web1', 'web2']);
  const n1 = F.editable(input.observed, 'n1');
  const i = n1.containers.findIndex((c) => c.instance === 'web1');
  n1.containers[i] = { ...n1.containers[i]!, specHash: F.hashOf(input.desired.instances.get('web1')!), generation: 2 };
  const p = run(input);
  assert.equal(brief(p.operations), ['RecreateInstance web2']);
  assert.equal(p.waves, { web2: 1 });
  assert.equal(p.pending, []);
});

test('a member already down counts against the budget: its repair runs, the others wait', () => {
  const input = changed(['web1', 'web2']);
  const n1 = F.editable(input.observed, 'n1');
  n1.containers.splice(n1.containers.findIndex((c) => c.instance === 'web1'), 1);
  const p = run(input);
  assert.equal(brief(p.operations), ['RecreateInstance web1'], 'the missing container is recreated: it takes nothing more down');
  assert.equal(p.waves, { web2: 2 });
  assert.equal(brief(p.deferred), ['RecreateInstance web2']);
});

test('an unhealthy member counts as down: the next member waits, the unhealthy one is not touched', () => {
  const before = F.desired(nodes(), [web('web1'), web('web2')]);
  const settled = F.settled(before, PLACED.slice(0, 2));
  const n1 = F.editable(settled.observed, 'n1');
  n1.containers[0] = { ...n1.containers[0]!, health: { ok: false, output: 'connection refused' } };
  const p = run({ ...settled, desired: F.withInstances(before, web('web2', { memory: 768 * F.MiB })) });
  assert.equal(p.operations, []);
  assert.equal(brief(p.deferred), ['RecreateInstance web2']);
  assert.equal(p.pending.map((x) => x.cause.kind), ['disruption-budget']);
});

test('a machine in flight (a master killed mid-update) counts as down: no second member starts', () => {
  const input = changed(['web1', 'web2']);
  const d1 = input.desired.instances.get('web1')!;
  input.store.machines.set('7', { id: '7', op: { type: 'RecreateInstance', instance: 'web1', primary: 'n1', spec: toSpec(d1), generation: 2, start: true, cause: { kind: 'spec-changed', node: 'n1' } }, snapshot: {}, startedAt: 1 });
  const p = run(input);
  assert.equal(p.operations, [], 'web1 is resumed first, web2 waits for it');
  assert.equal(p.waves, { web2: 2 });
});

test('a dead node\'s members fail over together, whatever the budget; a member in two groups respects both', () => {
  const d = F.desired(nodes(), [web('web1'), web('web2'), web('api1', { antiAffinity: ['web', 'api'] }), F.instance('api2', { antiAffinity: ['api'] })]);
  // both web members on n1 (placed by hand): losing n1 takes both down, and both come back at once
  const placements = [F.placed('web1', 'n1', 'n2'), F.placed('web2', 'n1', 'n3'), F.placed('api1', 'n3', 'n4'), F.placed('api2', 'n4', 'n2')];
  const { store, observed } = F.settled(d, placements, { down: ['n1'], nodeRecords: [{ name: 'n1', nodeDownSince: NOW - 120_000 }] });
  const changedApi = F.withInstances(d, web('api1', { antiAffinity: ['web', 'api'], memory: 768 * F.MiB }), F.instance('api2', { antiAffinity: ['api'], memory: 768 * F.MiB }));
  const p = plan({ desired: changedApi, observed, store, now: NOW });
  assert.equal(brief(p.operations.filter((o) => o.type === 'FailoverInstance')), ['FailoverInstance web1', 'FailoverInstance web2']);
  assert.ok(!('web1' in p.waves) && !('web2' in p.waves));
  // api1 is in "web" too, whose two members are down: it waits even though "api" has room
  assert.equal(p.waves, { api1: 2, api2: 1 });
});

test('which operations take a member down', () => {
  const spec = toSpec(F.instance('a'));
  const migrate = (expected?: MigrateInstance['expected'], start = true): MigrateInstance =>
    ({ type: 'MigrateInstance', instance: 'a', from: 'n1', to: 'n2', spec, generation: 2, start, cause: { kind: 'node-drained', node: 'n1' }, ...(expected && { expected }) });
  assert.is(disruptionOf(migrate({ path: 'live' })), 'none');
  assert.is(disruptionOf(migrate({ path: 'cold', cause: 'ports' })), 'restart');
  assert.is(disruptionOf(migrate(undefined, false)), 'none', 'a stopped instance is not serving anyway');
  const stop: Operation = { type: 'StopInstance', instance: 'a', primary: 'n1', cause: { kind: 'state-changed', want: 'stopped' } };
  const start: Operation = { type: 'StartInstance', instance: 'a', primary: 'n1', cause: { kind: 'state-changed', want: 'running' } };
  assert.is(chainDisruption([stop]), 'none', 'stopping is the manifest\'s own wish');
  assert.is(chainDisruption([stop, start]), 'restart');
});

test.run();
