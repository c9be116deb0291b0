/** net/: address arithmetic, MACs, and the assignment decisions (pure: manifests + store in, decisions out). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DesiredNetwork } from '../../src/model/desired.ts';
import { assignNics } from '../../src/net/assign.ts';
import { formatIp, hosts, overlaps, parseCidr, parseIp, parseRange } from '../../src/net/ipv4.ts';
import { defaultMacPrefix, generateMac, isLocalUnicast, normalizeMac } from '../../src/net/mac.ts';
import { linkOn, poolSize, viewOf } from '../../src/net/network.ts';
import * as F from '../support/fixtures.ts';

const lan = F.network;
const nets = (...n: DesiredNetwork[]) => new Map(n.map((x) => [x.name, x]));

test('IPv4: strict parsing, CIDR with host bits named, ranges, overlaps', () => {
  assert.is(parseIp('10.42.0.7'), 10 * 2 ** 24 + 42 * 2 ** 16 + 7);
  for (const bad of ['10.42.0', '10.42.0.256', '10.042.0.1', '1.2.3.4.5', 'a.b.c.d', '']) assert.is(parseIp(bad), undefined, bad);
  assert.is(formatIp(parseIp('192.168.255.1')!), '192.168.255.1');
  assert.equal(parseCidr('10.42.0.5/24'), { network: parseIp('10.42.0.0'), prefixLength: 24, hostBitsSet: true });
  assert.is(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(hosts(parseCidr('10.0.0.0/30')!), { first: parseIp('10.0.0.1'), last: parseIp('10.0.0.2') });
  assert.ok(overlaps(parseCidr('10.42.0.0/24')!, parseCidr('10.42.0.128/25')!));
  assert.not.ok(overlaps(parseCidr('10.42.0.0/24')!, parseCidr('10.42.1.0/24')!));
  assert.equal(parseRange('10.0.0.9 - 10.0.0.12'), { first: parseIp('10.0.0.9'), last: parseIp('10.0.0.12') });
  assert.is(parseRange('10.0.0.12-10.0.0.9'), undefined);
});

test('MACs: one spelling, locally administered prefixes, generation stable and clash-free', () => {
  assert.is(normalizeMac('02-AB-cd-00-00-01'), '02:ab:cd:00:00:01');
  assert.is(normalizeMac('02:ab:cd:00:00'), undefined);
  const prefix = defaultMacPrefix('lab');
  assert.ok(isLocalUnicast(prefix), prefix);
  assert.is(defaultMacPrefix('lab'), prefix, 'derived from the name: the same on every run');
  assert.is.not(defaultMacPrefix('prod'), prefix);
  const a = generateMac(prefix, 'web1', 0, new Set());
  assert.is(generateMac(prefix, 'web1', 0, new Set()), a, 'the same instance and NIC: the same MAC');
  assert.ok(a.startsWith(`${prefix}:`));
  assert.is.not(generateMac(prefix, 'web1', 0, new Set([a])), a, 'a MAC taken is passed over');
});

test('a network: pool size leaves out the gateway and reserved set; links by node, then group, then the default', () => {
  assert.is(poolSize(viewOf(lan())), 3);
  const n = lan({ nodeLinks: { n1: 'eth1' }, groupLinks: { rack2: 'br7' } });
  assert.is(linkOn(n, F.node('n1', { group: 'rack2' })), 'eth1');
  assert.is(linkOn(n, F.node('n2', { group: 'rack2' })), 'br7');
  assert.is(linkOn(n, F.node('n3')), 'br42');
});

test('assignment: statics as written, pooled ones the first free address, what the store holds is kept', () => {
  const c = F.cluster({ macPrefix: '02:d7:00' });
  const a = F.instance('a', { nics: [{ network: 'lan' }] });
  const b = F.instance('b', { nics: [{ network: 'lan', ip: '10.42.0.100', mac: '02:00:00:00:00:09' }] });
  const first = assignNics(c, nets(lan()), [a, b], []);
  assert.equal(first.assigned.get('b'), [{ network: 'lan', ip: '10.42.0.100', mac: '02:00:00:00:00:09' }]);
  const ga = first.assigned.get('a')![0]!;
  assert.is(ga.ip, '10.42.0.102', '.100 is b\'s, .101 reserved');
  assert.ok(ga.mac.startsWith('02:d7:00:'));
  // a new instance sorted before a: a keeps what the store holds, the newcomer takes the next free one
  const aa = F.instance('aa', { nics: [{ network: 'lan' }] });
  const second = assignNics(c, nets(lan()), [aa, a, b], [{ instance: 'a', nics: [ga] }, { instance: 'b', nics: first.assigned.get('b')! }]);
  assert.equal(second.assigned.get('a'), [ga]);
  assert.is(second.assigned.get('aa')![0]!.ip, '10.42.0.103');
});

test('assignment: a placement no manifest wants keeps its address until removed; an exhausted pool names who is left out', () => {
  const c = F.cluster();
  const gone = { instance: 'old', nics: [{ network: 'lan', ip: '10.42.0.100', mac: '02:00:00:00:00:01' }] };
  const wanted = ['x', 'y', 'z'].map((n) => F.instance(n, { nics: [{ network: 'lan' }] }));
  const r = assignNics(c, nets(lan()), wanted, [gone]);
  assert.equal([...r.assigned.keys()], ['x', 'y']);
  assert.is(r.assigned.get('x')![0]!.ip, '10.42.0.102');
  assert.is(r.assigned.get('y')![0]!.ip, '10.42.0.103');
  assert.equal(r.refused.get('z'), { kind: 'pool-exhausted', network: 'lan', instances: ['z'], size: 3 });
  const after = assignNics(c, nets(lan()), wanted, []); // old's placement removed: its address is free again
  assert.is(after.assigned.get('x')![0]!.ip, '10.42.0.100');
});

test('assignment: a static address newly written that another instance holds is refused, naming both', () => {
  const c = F.cluster();
  const held = { instance: 'web1', nics: [{ network: 'lan', ip: '10.42.0.100', mac: '02:00:00:00:00:01' }] };
  const db = F.instance('db', { nics: [{ network: 'lan', ip: '10.42.0.100' }] });
  const web1 = F.instance('web1', { nics: [{ network: 'lan' }] });
  const r = assignNics(c, nets(lan()), [db, web1], [held]);
  assert.equal(r.refused.get('db'), { kind: 'address-taken', network: 'lan', address: '10.42.0.100', holder: 'web1', instance: 'db' });
  assert.equal(r.assigned.get('web1'), held.nics);
  // the manifest moves a NIC to a static address: it takes it, and keeps its MAC
  const moved = assignNics(c, nets(lan()), [F.instance('web1', { nics: [{ network: 'lan', ip: '10.42.0.50' }] })], [held]);
  assert.equal(moved.assigned.get('web1'), [{ network: 'lan', ip: '10.42.0.50', mac: '02:00:00:00:00:01' }]);
});

test.run();
