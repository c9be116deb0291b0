/**
 * NICs in plans: every operation's spec carries the instance's NICs as they attach on its target node,
 * with the address and MAC the store holds (so they follow moves, migrations and failovers); pools,
 * clashes with held addresses and links a node lacks are plan errors with their cause.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DesiredInstance } from '../../src/model/desired.ts';
import { specHash } from '../../src/model/hash.ts';
import type { NicAssignment } from '../../src/model/nics.ts';
import type { Operation } from '../../src/model/operations.ts';
import { plan } from '../../src/plan/index.ts';
import { classifyDrift } from '../../src/plan/drift.ts';
import { toSpec } from '../../src/plan/spec.ts';
import { bindingOf } from '../../src/net/network.ts';
import type { Placement } from '../../src/store/types.ts';
import * as F from '../support/fixtures.ts';

const NOW = 2_000_000;
const net = F.network({ groupLinks: { rack2: 'br42b' } });
const nodes = [F.node('n1'), F.node('n2', { group: 'rack2' }), F.node('n3')];
const web = (name: string, over: Partial<DesiredInstance> = {}) => F.instance(name, { nics: [{ network: 'lan' }], ...over });
const specOf = (op: Operation) => ('spec' in op ? op.spec : undefined);

/** The nodes as an apply of these placements leaves them, the containers made with their NICs on their primary. */
function settledWithNics(d: ReturnType<typeof F.desired>, placements: readonly Placement[], down: readonly string[] = []) {
  const s = F.settled(d, placements, { down });
  for (const p of placements) {
    const i = d.instances.get(p.instance)!;
    const nics = (p.nics ?? []).map((a) => bindingOf(net, a, d.nodes.get(p.primary)));
    const ctr = F.editable(s.observed, p.primary).containers.find((c) => c.instance === p.instance);
    if (ctr) Object.assign(ctr, { specHash: specHash(toSpec(i, nics)), nics: p.nics });
    s.store.placements.set(p.instance, { ...p, applied: { specHash: specHash(toSpec(i, nics)), running: true, spec: toSpec(i, nics) } });
  }
  return s;
}

test('a new instance: its spec carries the first free pool address, a generated MAC and the link of its primary', () => {
  const d = F.withNetworks(F.desired(nodes, [web('a'), web('b', { nics: [{ network: 'lan', ip: '10.42.0.100' }] })]), net);
  const p = plan({ desired: d, observed: F.observed(d), store: F.store(), now: NOW });
  assert.equal(p.errors, []);
  const a = p.operations.find((o) => o.instance === 'a' && o.type === 'CreateInstance')!;
  const nic = specOf(a)!.nics![0]!;
  assert.is(nic.ip, '10.42.0.102', '.100 is b\'s static address, .101 is reserved');
  assert.match(nic.mac, /^02:[0-9a-f]{2}(:[0-9a-f]{2}){4}$/);
  assert.equal({ ...nic, mac: '' }, { network: 'lan', ip: '10.42.0.102', mac: '', prefixLength: 24, subnet: '10.42.0.0/24', gateway: '10.42.0.1', link: (a as { primary: string }).primary === 'n2' ? 'br42b' : 'br42', mode: 'bridged' });
});

test('a placed instance keeps its address and MAC: nothing to do; after a failover the new primary gets them, with its own link', () => {
  const held: NicAssignment = { network: 'lan', ip: '10.42.0.103', mac: '02:00:00:00:00:07' };
  const d = F.withNetworks(F.desired(nodes, [web('a')]), net);
  const placements = [{ ...F.placed('a', 'n1', 'n2'), nics: [held] }];
  const calm = settledWithNics(d, placements);
  assert.equal(plan({ desired: d, ...calm, now: NOW }).operations, [], 'no change: the container has its NICs');
  const down = settledWithNics(d, placements, ['n1']);
  down.store.nodes.set('n1', { name: 'n1', nodeDownSince: NOW - 600_000 });
  const p = plan({ desired: d, ...down, now: NOW });
  const failover = p.operations.find((o) => o.type === 'FailoverInstance')!;
  assert.ok(failover, JSON.stringify(p));
  assert.equal(specOf(failover)!.nics, [bindingOf(net, held, nodes[1])]);
  assert.is(specOf(failover)!.nics![0]!.link, 'br42b');
});

test('a running container showing other NICs than assigned (changed on the node): recreated with the assigned ones, named as drift', () => {
  const held: NicAssignment = { network: 'lan', ip: '10.42.0.103', mac: '02:00:00:00:00:07' };
  const d = F.withNetworks(F.desired(nodes, [web('a')]), net);
  const placements = [{ ...F.placed('a', 'n1', 'n2'), nics: [held] }];
  const s = settledWithNics(d, placements);
  Object.assign(F.editable(s.observed, 'n1').containers[0]!, { nics: [{ ...held, ip: '10.42.0.9' }] });
  const p = plan({ desired: d, ...s, now: NOW });
  assert.equal(p.operations.map((o) => [o.type, o.cause]), [['RecreateInstance', { kind: 'nics-changed', node: 'n1' }]]);
  assert.equal(specOf(p.operations[0]!)!.nics!.map((n) => n.ip), ['10.42.0.103']);
  assert.equal(classifyDrift(p, s.observed, s.store).map((x) => x.kind), ['spec-changed']);
  Object.assign(F.editable(s.observed, 'n1').containers[0]!, { state: 'stopped' }); // a stopped one may show no address: not judged
  assert.equal(plan({ desired: d, ...s, now: NOW }).operations.map((o) => o.type), ['StartInstance']);
});

test('a NIC added in the manifest is a spec change (a field diff), not drift; the new NIC gets the next free address, the old one keeps its own', () => {
  const held: NicAssignment = { network: 'lan', ip: '10.42.0.103', mac: '02:00:00:00:00:07' };
  const d = F.withNetworks(F.desired(nodes, [web('a')]), net);
  const s = settledWithNics(d, [{ ...F.placed('a', 'n1', 'n2'), nics: [held] }]);
  const more = F.withInstances(d, web('a', { nics: [{ network: 'lan' }, { network: 'lan' }] }));
  const p = plan({ desired: more, ...s, now: NOW });
  const op = p.operations[0]!;
  assert.equal([op.type, op.cause.kind], ['RecreateInstance', 'spec-changed']);
  assert.equal(specOf(op)!.nics!.map((n) => n.ip), ['10.42.0.103', '10.42.0.100']);
  const changes = op.type === 'RecreateInstance' ? op.changes : [];
  assert.equal(changes.length, 1);
  assert.match(JSON.stringify(changes), /"path":"nics\[1\]","from":"\(none\)","to":"lan 10\.42\.0\.100 02:/);
  assert.equal(classifyDrift(p, s.observed, s.store), []);
});

test('an exhausted pool: one plan error naming the network and every instance left without an address', () => {
  const d = F.withNetworks(F.desired([...nodes, F.node('n4')], ['w1', 'w2', 'w3', 'w4', 'w5'].map((n) => web(n, { memory: 64 * F.MiB }))), net);
  const p = plan({ desired: d, observed: F.observed(d), store: F.store(), now: NOW });
  assert.is(p.operations.filter((o) => o.type === 'CreateInstance').length, 3);
  assert.is(p.errors.length, 1, JSON.stringify(p.errors));
  assert.equal(p.errors[0]!.cause, { kind: 'pool-exhausted', network: 'lan', instances: ['w4', 'w5'], size: 3 });
  assert.match(p.errors[0]!.message, 'network "lan": the pool (3 addresses) has no free address left; w4 and w5 get none');
  assert.equal(p.errors[0]!.source, F.src('manifests/instances/w4.yaml', 2, 1), 'at the instance (hand-built: no field places)');
});

test('a static address another instance holds: a plan error naming both; a node without the link: a plan error naming it', () => {
  const d = F.withNetworks(F.desired(nodes, [web('a'), web('b', { nics: [{ network: 'lan', ip: '10.42.0.100' }] })]), net);
  const placements = [{ ...F.placed('a', 'n1', 'n2'), nics: [{ network: 'lan', ip: '10.42.0.100', mac: '02:00:00:00:00:07' }] }];
  const p = plan({ desired: d, ...settledWithNics(d, placements), now: NOW });
  assert.equal(p.errors.map((e) => e.cause), [{ kind: 'address-taken', network: 'lan', address: '10.42.0.100', holder: 'a', instance: 'b' }]);
  assert.equal(p.operations, []);
  const pinned = F.withNetworks(F.desired(nodes, [web('c', { primary: 'n3', diskTemplate: 'plain' })]), net);
  const o = F.observed(pinned);
  Object.assign(o.nodes.get('n3')!, { links: ['eth0', 'docker0'] });
  const q = plan({ desired: pinned, observed: o, store: F.store(), now: NOW });
  assert.equal(q.errors.map((e) => e.cause), [{ kind: 'link-missing', node: 'n3', network: 'lan', link: 'br42', instance: 'c' }]);
  assert.match(q.errors[0]!.message, 'node n3 has no link "br42" for network "lan"');
});

test('more NICs than the engine of the target node sets up (its probe\'s maxNics): a plan error at the first NIC too many', () => {
  const lan2 = { ...net, name: 'lan2', subnet: '10.43.0.0/24', gateway: '10.43.0.1', pool: { first: '10.43.0.100', last: '10.43.0.199' } };
  const two = [{ network: 'lan' }, { network: 'lan2' }];
  const d = F.withNetworks(F.desired(nodes, [web('c', { primary: 'n3', diskTemplate: 'plain', nics: two })]), net, lan2);
  const o = F.observed(d);
  Object.assign(o.nodes.get('n3')!, { maxNics: 1 });
  const p = plan({ desired: d, observed: o, store: F.store(), now: NOW });
  assert.equal(p.errors.map((e) => e.cause), [{ kind: 'too-many-nics', node: 'n3', instance: 'c', count: 2, max: 1 }]);
  assert.match(p.errors[0]!.message, 'c: 2 NICs, but the engine of node n3 sets up 1 per instance');
  assert.equal(p.operations, []);
  Object.assign(o.nodes.get('n3')!, { maxNics: 2 });
  assert.equal(plan({ desired: d, observed: o, store: F.store(), now: NOW }).errors, [], 'an engine that allows two');
});

test('instances without NICs plan exactly as before (no nics field in their specs)', () => {
  const d = F.desired(nodes, [F.instance('plain1')]);
  const p = plan({ desired: d, observed: F.observed(d), store: F.store(), now: NOW });
  assert.is(specOf(p.operations[0]!)!.nics, undefined);
});

test.run();
