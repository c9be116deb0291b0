/** Ganeti's instance policy (instMatchesPolicy): bounds inclusive, any min/max pair, allowed templates. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { policyFor, policyViolation, violationText, type InstancePolicy } from '../../src/alloc/index.ts';
import { GiB, inst } from './helpers.ts';

const spec = (memory: number, vcpus: number, diskSize: number, diskCount = 1, spindleUse = 1) => ({ memory, vcpus, diskSize, diskCount, nicCount: 1, spindleUse });
const pol: InstancePolicy = {
  minMax: [{ min: spec(GiB / 8, 1, GiB), max: spec(32 * GiB, 8, 1024 * GiB, 16, 12) }, { min: spec(64 * GiB, 16, GiB), max: spec(128 * GiB, 32, 1024 * GiB, 16, 12) }],
  std: spec(GiB / 8, 1, GiB), diskTemplates: ['drbd', 'diskless'], vcpuRatio: 4, spindleRatio: 32,
};

test('within a pair (bounds inclusive) complies; between the pairs does not', () => {
  assert.is(policyViolation(inst('a', { memory: 32 * GiB, vcpus: 8 }), pol), undefined);
  assert.is(policyViolation(inst('b', { memory: 96 * GiB, vcpus: 16 }), pol), undefined, 'the second pair');
  const v = policyViolation(inst('c', { memory: 48 * GiB, vcpus: 8 }), pol)!;
  assert.equal([v.field, v.side], ['memory', 'min'], 'the last pair tried names the breach, as htools');
  assert.is(violationText(v), "memory 48 GiB below the policy's 64 GiB");
});

test('each disk against the size bounds, the disk count, spindle use, the template', () => {
  const one = { ...pol, minMax: [pol.minMax[0]!] };
  assert.is(policyViolation(inst('d', { disk: 1500 * GiB, diskCount: 2 }), one), undefined, '2 disks of 750 GiB');
  assert.equal(policyViolation(inst('e', { disk: 1500 * GiB }), one)?.field, 'diskSize');
  assert.equal(policyViolation(inst('f', { spindleUse: 13 }), one)?.field, 'spindleUse');
  const t = policyViolation(inst('g', { template: 'plain' }), one)!;
  assert.is(violationText(t), "disk template plain not among the policy's drbd, diskless");
  assert.is(policyViolation(inst('h', { template: 'plain', diskless: true, disk: 0 }), one), undefined, 'diskless: no disk bounds');
});

test('a group\'s own policy wins over the cluster\'s', () => {
  const strict = { ...pol, diskTemplates: ['diskless' as const] };
  const p = { vcpuRatio: 4, memoryOvercommit: 1, redundancy: 'n+1' as const, instancePolicy: pol, groupPolicies: { g2: strict } };
  assert.is(policyFor(p, 'g2'), strict);
  assert.is(policyFor(p, 'g1'), pol);
});

test.run();
