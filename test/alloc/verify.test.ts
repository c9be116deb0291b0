import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { verifyModel } from '../../src/alloc/index.ts';
import { GiB, cluster, inst, node } from './helpers.ts';

const codes = (xs: readonly { code: string }[]): string[] => xs.map((x) => x.code);

test('a clean cluster has no findings', () => {
  assert.equal(verifyModel(cluster([node('a'), node('b')], [inst('x', { primary: 'a', secondary: 'b' })])), []);
});

test('ENODEN1: Ganeti\'s rule, one finding per peer that could not be absorbed, stopped instances count', () => {
  const m = cluster([node('a'), node('b', { memory: 10 * GiB })], [
    inst('x', { memory: 6 * GiB, primary: 'a', secondary: 'b', running: false }),
    inst('y', { memory: 6 * GiB, primary: 'a', secondary: 'b' }),
    inst('z', { memory: 2 * GiB, primary: 'b', secondary: 'a' }),
  ]);
  const f = verifyModel(m);
  assert.equal(codes(f), ['ENODEN1']);
  assert.is(f[0]!.node, 'b');
  assert.match(f[0]!.message, /should node a fail \(needs 12\.0 GiB, has 8\.0 GiB free\)/);
  assert.equal(verifyModel({ ...m, policy: { ...m.policy, redundancy: 'none' } }), []);
});

test('policy, exclusion, group and placement findings', () => {
  const m = cluster([node('a', { vcpus: 1 }), node('b', { group: 'other' }), node('c', { drained: true }), node('d', { disk: 5 * GiB })], [
    inst('p1', { template: 'plain', memory: 70 * GiB, vcpus: 8, primary: 'a', antiAffinity: ['web'] }),
    inst('p2', { template: 'plain', memory: GiB, primary: 'a', antiAffinity: ['web'] }),
    inst('r1', { memory: GiB, primary: 'a', secondary: 'b' }),
    inst('r2', { memory: GiB, primary: 'c', secondary: 'd' }),
    inst('r3', { memory: GiB, primary: 'd', secondary: 'd' }),
    inst('r4', { memory: GiB, primary: 'd', secondary: 'zz' }),
    inst('r5', { memory: GiB, primary: 'd' }),
  ]);
  assert.equal(codes(verifyModel(m)), [
    'EEXCLUSION', 'EGROUP', 'ENOSECONDARY', 'EPOLICYCPU', 'EPOLICYDISK', 'EPOLICYMEM', 'ESAMENODE', 'EUNKNOWNNODE', 'WOFFLINEPRI',
  ]);
});

test.run();
