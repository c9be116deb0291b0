/** verify's NIC checks, on hand-built inputs: duplicates seen on the nodes, ENICMISMATCH, pool usage. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NicAssignment } from '../../src/model/nics.ts';
import { verify } from '../../src/plan/verify.ts';
import * as F from '../support/fixtures.ts';

const nodes = [F.node('n1'), F.node('n2'), F.node('n3')];
const nic = (ip: string, mac: string): NicAssignment => ({ network: 'lan', ip, mac });
const a0 = nic('10.42.0.100', '02:00:00:00:00:01');
const b0 = nic('10.42.0.102', '02:00:00:00:00:02');

function world(seen: Record<string, readonly NicAssignment[] | undefined>) {
  const d = F.withNetworks(F.desired(nodes, [F.instance('a', { nics: [{ network: 'lan' }] }), F.instance('b', { nics: [{ network: 'lan' }] })]), F.network());
  const s = F.settled(d, [{ ...F.placed('a', 'n1', 'n2'), nics: [a0] }, { ...F.placed('b', 'n2', 'n3'), nics: [b0] }]);
  for (const [name, node] of [['a', 'n1'], ['b', 'n2']] as const) {
    const ctr = F.editable(s.observed, node).containers.find((c) => c.instance === name)!;
    if (seen[name]) Object.assign(ctr, { nics: seen[name] });
  }
  return verify({ desired: d, ...s, now: 2_000_000 }).filter((f) => f.code.startsWith('EDUP') || f.code === 'ENICMISMATCH' || f.code === 'ENETPOOL');
}

test('the nodes show what was assigned: no NIC finding; a driver that cannot tell is not judged', () => {
  assert.equal(world({ a: [a0], b: [b0] }), []);
  assert.equal(world({}), []);
});

test('an instance answering on another address: ENICMISMATCH on its primary; the same address on two instances: EDUPADDRESS', () => {
  const f = world({ a: [a0], b: [nic('10.42.0.100', '02:00:00:00:00:02')] });
  assert.equal(f.map((x) => x.code).sort(), ['EDUPADDRESS', 'ENICMISMATCH']);
  const mismatch = f.find((x) => x.code === 'ENICMISMATCH')!;
  assert.is(mismatch.node, 'n2');
  assert.is(mismatch.message, 'b: nic0 on n2 has 10.42.0.100 02:00:00:00:00:02, but Drover assigned 10.42.0.102 02:00:00:00:00:02');
  assert.is(f.find((x) => x.code === 'EDUPADDRESS')!.message, 'address 10.42.0.100 on network "lan" is used by a and b');
});

test('one MAC on two instances: EDUPMAC; a NIC missing: ENICMISMATCH saying so', () => {
  const f = world({ a: [a0], b: [nic('10.42.0.102', '02:00:00:00:00:01')] });
  assert.ok(f.some((x) => x.code === 'EDUPMAC' && x.message === 'MAC 02:00:00:00:00:01 is used by a and b'));
  const g = world({ a: [], b: [b0] });
  assert.equal(g.map((x) => x.message), ['a: nic0 on n1 is missing, but Drover assigned 10.42.0.100 02:00:00:00:00:01']);
});

test('a pool 90% used or more: ENETPOOL (an error once nothing is left)', () => {
  const d = F.withNetworks(F.desired(nodes, []), F.network());
  const s = F.store([{ ...F.placed('x', 'n1'), nics: [a0] }, { ...F.placed('y', 'n1'), nics: [b0] }, { ...F.placed('z', 'n1'), nics: [nic('10.42.0.103', '02:00:00:00:00:03')] }]);
  const f = verify({ desired: d, observed: F.observed(d), store: s, now: 1 }).filter((x) => x.code === 'ENETPOOL');
  assert.equal(f.map((x) => [x.severity, x.message]), [['error', 'network "lan": 3 of the pool\'s 3 addresses are held; the next instance without a static address gets none']]);
});

test.run();
