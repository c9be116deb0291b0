/**
 * Spec changes on a kept primary, as pure planning: the least disruptive operation the backend can do,
 * the field diffs, grown and shrunk disks, placements applied by older versions, and hand-made resizes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import type { BackendCapabilities } from '../../src/drivers/backends.ts';
import { fieldChanges } from '../../src/model/changes.ts';
import type { InstanceSpec, Operation } from '../../src/model/operations.ts';
import { resizeBy } from '../../src/plan/changes.ts';
import { classifyDrift } from '../../src/plan/drift.ts';
import { plan, type Plan } from '../../src/plan/index.ts';
import { toSpec } from '../../src/plan/spec.ts';
import { changeLines, impactText } from '../../src/cli/render/plan.ts';
import type { Placement } from '../../src/store/types.ts';
import * as F from '../support/fixtures.ts';

const NOW = 2_000_000;
const three = () => ['n1', 'n2', 'n3'].map((n) => F.node(n));
const brief = (p: Plan) => p.operations.map((o) => `${o.type} ${o.instance}`);

/** A settled cluster (sim, unless said) with instance `a` (replicated n1 → n2) as Drover applied it, then the manifest changed. */
function changed(over: Parameters<typeof F.instance>[1], placement: (p: Placement) => Placement = (p) => p, backend: 'sim' | 'docker' = 'sim') {
  const base = F.desired(three(), [F.instance('a')], F.cluster({ backend }));
  const { store, observed } = F.settled(base, [F.placed('a', 'n1', 'n2')]);
  const p = store.placements.get('a')!;
  store.placements.set('a', placement({ ...p, applied: { specHash: F.hashOf(base.instances.get('a')!), running: true, spec: toSpec(base.instances.get('a')!) } }));
  const desired = F.withInstances(base, F.instance('a', over));
  return { desired, observed, store, plan: plan({ desired, observed, store, now: NOW }) };
}

test('fieldChanges: every differing field in the manifest\'s units, in a stable order', () => {
  const a: InstanceSpec = { ...toSpec(F.instance('a')), memory: F.GiB, env: { A: '1', B: '2' } };
  const b: InstanceSpec = { ...a, image: 'alpine', memory: 768 * F.MiB, disks: [{ size: 20 * F.GiB, mount: '/data' }, { size: F.GiB, mount: '/data1' }], env: { A: '1', C: '3' }, command: ['sleep', '1'] };
  assert.equal(fieldChanges(a, b).map((c) => `${c.path}: ${c.from} → ${c.to}`), [
    'image: busybox → alpine', 'memory: 1G → 768M', 'disks[0].size: 1G → 20G', 'disks[1]: (none) → 1G',
    'env.B: 2 → (unset)', 'env.C: (unset) → 3', 'command: (unset) → sleep 1',
  ]);
  assert.equal(fieldChanges(a, a), []);
});

test('memory or vcpus: ModifyInstance in place where the backend can (docker), RestartInstance where they need a boot (sim), with the diff', () => {
  const diff = [{ path: 'memory', from: '512M', to: '768M' }, { path: 'vcpus', from: '1', to: '2' }];
  const docker = changed({ memory: 768 * F.MiB, vcpus: 2 }, undefined, 'docker').plan;
  assert.equal(brief(docker), ['ModifyInstance a']);
  const m = docker.operations[0] as Extract<Operation, { type: 'ModifyInstance' }>;
  assert.equal([m.disruption, m.primary, m.changes], ['none', 'n1', diff]);
  const sim = changed({ memory: 768 * F.MiB, vcpus: 2 }).plan;
  assert.equal(brief(sim), ['RestartInstance a']);
  const r = sim.operations[0] as Extract<Operation, { type: 'RestartInstance' }>;
  assert.equal([r.disruption, r.primary, r.start, r.changes], ['restart', 'n1', true, diff]);
});

test('the operation follows the backend\'s capabilities: in place, restart, or recreate', () => {
  const caps = (inPlaceResize: BackendCapabilities['inPlaceResize'], restartResize: BackendCapabilities['restartResize']): BackendCapabilities =>
    ({ liveMigration: false, powerSwitch: false, images: false, rename: 'no', inPlaceResize, restartResize });
  const v2 = 'v2:000000000000';
  assert.is(resizeBy(caps(['memory', 'vcpus'], []), ['memory', 'vcpus'], v2), 'ModifyInstance');
  assert.is(resizeBy(caps(['memory'], ['vcpus']), ['memory', 'vcpus'], v2), 'RestartInstance');
  assert.is(resizeBy(caps(['memory'], []), ['vcpus'], v2), 'RecreateInstance');
  assert.is(resizeBy(caps(['memory', 'vcpus'], []), ['memory'], '0123456789ab'), 'RecreateInstance', 'a first-formula hash is recreated once');
});

test('image with memory: one RecreateInstance listing both, disks kept', () => {
  const { plan: p } = changed({ image: 'alpine', memory: F.GiB });
  assert.equal(brief(p), ['RecreateInstance a']);
  const op = p.operations[0] as Extract<Operation, { type: 'RecreateInstance' }>;
  assert.equal(op.changes.map((c) => c.path), ['image', 'memory']);
  assert.is(op.disruption, 'recreate');
  assert.is(op.fieldsUnknown, undefined);
});

test('a grown disk: GrowDisk on primary and secondary before anything else, never a recreate', () => {
  const grown = changed({ disks: [{ size: 2 * F.GiB, mount: '/data' }] }).plan;
  assert.equal(brief(grown), ['GrowDisk a']);
  const g = grown.operations[0] as Extract<Operation, { type: 'GrowDisk' }>;
  assert.equal([g.primary, g.secondary, g.changes, g.disks[0]!.size], ['n1', 'n2', [{ path: 'disks[0].size', from: '1G', to: '2G' }], 2 * F.GiB]);
  const both = changed({ disks: [{ size: 2 * F.GiB, mount: '/data' }], env: { X: '1' } }).plan;
  assert.equal(brief(both), ['GrowDisk a', 'RecreateInstance a']);
  assert.equal((both.operations[1] as Extract<Operation, { type: 'RecreateInstance' }>).changes.map((c) => c.path), ['env.X']);
});

test('a shrunk disk: a plan error at disks[N].size (from and to), no operation for it', () => {
  const source = F.src('manifests/instances/a.yaml', 9, 15);
  const p = changed({ disks: [{ size: 512 * F.MiB, mount: '/data' }], fieldSources: { 'disks[0].size': source } }).plan;
  assert.equal(p.operations, []);
  assert.equal(p.errors.map((e) => [e.instance, e.source, e.message]), [['a', source, 'Instance "a": spec.disks[0].size: cannot shrink a disk (1G → 512M): its data would not fit; keep 1G or more, or make a new disk']]);
});

test('applied by an older version (no fields kept): the recreate says the fields are unknown; limits are still read off the node', () => {
  const old = (p: Placement): Placement => ({ ...p, applied: { specHash: p.applied!.specHash, running: true } });
  const r = changed({ env: { X: '1' }, memory: F.GiB }, old).plan;
  const op = r.operations[0] as Extract<Operation, { type: 'RecreateInstance' }>;
  assert.equal(brief(r), ['RecreateInstance a']);
  assert.is(op.fieldsUnknown, true);
  assert.equal(changeLines(op), ['memory: 512M → 1G', 'spec changed (fields unknown: applied by an older version)']);
  assert.equal(brief(changed({ memory: F.GiB }, old, 'docker').plan), ['ModifyInstance a'], 'limits alone need no applied fields');
});

test('a container made by the first hash formula: unchanged is no change (an upgrade recreates nothing)', () => {
  const d = F.instance('a');
  const s = toSpec(d);
  const v1 = createHash('sha256').update(JSON.stringify([
    s.image, s.memory, s.vcpus, s.disks.map((x) => [x.size, x.mount]), [], null, [],
  ])).digest('hex').slice(0, 12);
  const base = F.desired(three(), [d]);
  const { store, observed } = F.settled(base, [F.placed('a', 'n1', 'n2')]);
  F.editable(observed, 'n1').containers[0] = { ...observed.nodes.get('n1')!.containers[0]!, specHash: v1 };
  assert.equal(brief(plan({ desired: base, observed, store, now: NOW })), []);
  const bigger = F.withInstances(base, F.instance('a', { memory: F.GiB }));
  assert.equal(brief(plan({ desired: bigger, observed, store, now: NOW })), ['RecreateInstance a'], 'its first change gives it a current hash');
});

test('limits changed on the node while the manifest still wants the applied ones: set back (here in place), drift resized-by-hand', () => {
  const base = F.desired(three(), [F.instance('a')], F.cluster({ backend: 'docker' }));
  const { store, observed } = F.settled(base, [F.placed('a', 'n1', 'n2')]);
  const p = store.placements.get('a')!;
  store.placements.set('a', { ...p, applied: { specHash: F.hashOf(base.instances.get('a')!), running: true, spec: toSpec(base.instances.get('a')!) } });
  F.editable(observed, 'n1').containers[0] = { ...observed.nodes.get('n1')!.containers[0]!, memory: 256 * F.MiB };
  const r = plan({ desired: base, observed, store, now: NOW });
  assert.equal(brief(r), ['ModifyInstance a']);
  const drift = classifyDrift(r, observed, store);
  assert.equal(drift.map((x) => [x.instance, x.kind, x.action]), [['a', 'resized-by-hand', 'corrected']]);
  assert.match(drift[0]!.detail, /memory 256M/);
  const edited = F.withInstances(base, F.instance('a', { memory: 256 * F.MiB }));
  assert.equal(brief(plan({ desired: edited, observed, store, now: NOW })), [], 'a manifest that follows the node: nothing to do');
});

test('moves say their downtime class and the recovery point of the data that moves', () => {
  const spec = toSpec(F.instance('a'));
  const base = { instance: 'a', from: 'n1', to: 'n2', spec, generation: 2, start: true, cause: { kind: 'node-drained', node: 'n1' } } as const;
  const say = (op: Operation) => impactText(op, 10_000);
  assert.is(say({ ...base, type: 'MigrateInstance', expected: { path: 'live' } }), 'paused for its final sync; recovery point: none lost (final sync while frozen)');
  assert.is(say({ ...base, type: 'MigrateInstance', expected: { path: 'cold', cause: 'ports' } }), 'down while it moves; recovery point: none lost (final sync while stopped)');
  assert.is(say({ ...base, type: 'MoveInstance' }), 'down while it moves; recovery point: none lost (final sync while stopped)');
  assert.is(say({ ...base, type: 'FailoverInstance', recoveryPoint: 4_000 }), 'down already (its node is gone); recovery point: 1970-01-01T00:00:04.000Z (6.0s of writes lost)');
  assert.is(say({ ...base, type: 'FailoverInstance' }), 'down already (its node is gone); recovery point: replica never synced: its disks start empty');
});

test.run();
