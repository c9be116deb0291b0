import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Allocator, capacityStandard, capacityTiered, failModes, refusalText, verifyModel, type ClusterModel, type CapacityRun } from '../../src/alloc/index.ts';
import type { FailMode } from '../../src/model/causes.ts';
import { GiB, cluster, node } from './helpers.ts';

function withPlacements(m: ClusterModel, run: CapacityRun): ClusterModel {
  const instances = new Map(m.instances);
  for (const p of run.placements) {
    instances.set(p.name, {
      name: p.name, memory: p.spec.memory, vcpus: p.spec.vcpus, disk: p.spec.disk, template: p.spec.template === 'replicated' ? 'replicated' : 'plain',
      running: true, antiAffinity: [], primary: p.primary, ...(p.secondary ? { secondary: p.secondary } : {}),
    });
  }
  return { ...m, instances };
}

const four = () => cluster(Array.from({ length: 4 }, (_, i) => node(`n${i}`, { memory: 64 * GiB, vcpus: 16, disk: 1024 * GiB })), [], { vcpuRatio: 4 });

test('standard, plain: memory-bound count is exact', () => {
  const r = capacityStandard(four(), { memory: 8 * GiB, disk: 10 * GiB, vcpus: 1, template: 'plain' });
  assert.is(r.count, 28); // 7 per 64 GiB node: htools refuses to leave a node with 0 free memory
  assert.is(r.limitingResource, 'memory');
  assert.match(r.stoppedBy, /^no node: 4 lack memory$/);
});

test('standard, plain: vcpu-bound', () => {
  const r = capacityStandard(four(), { memory: GiB, disk: GiB, vcpus: 8, template: 'plain' });
  assert.is(r.count, 32); // 4 nodes × 16 cpus × 4 / 8
  assert.is(r.limitingResource, 'vcpus');
});

test('standard, replicated: N+1 holds after every placement, and memory is the limit', () => {
  const m = four();
  const r = capacityStandard(m, { memory: 8 * GiB, disk: 10 * GiB, vcpus: 1, template: 'replicated' });
  // Each node must keep room for its largest peer's failover: at most 8 × 8 GiB minus the reserve.
  assert.ok(r.count >= 20 && r.count <= 28, String(r.count));
  assert.equal(verifyModel(withPlacements(m, r)).filter((f) => f.code === 'ENODEN1'), []);
  assert.ok(r.placements.every((p) => p.secondary !== undefined && p.secondary !== p.primary));
});

test('tiered: shrinks the failing resource by Ganeti units and records each tier', () => {
  const r = capacityTiered(four(), { memory: 40 * GiB, disk: 100 * GiB, vcpus: 4, template: 'plain' });
  assert.ok(r.tiers.length >= 2);
  assert.is(r.tiers[0]!.spec.memory, 40 * GiB);
  for (let i = 1; i < r.tiers.length; i++) assert.ok(r.tiers[i]!.spec.memory < r.tiers[i - 1]!.spec.memory);
  assert.is(r.tiers.reduce((a, t) => a + t.count, 0), r.count);
  assert.is((r.tiers[1]!.spec.memory - 40 * GiB) % (64 * 2 ** 20), 0);
});

test('maxInstances caps a run', () => {
  assert.is(capacityStandard(four(), { memory: GiB, disk: GiB, vcpus: 1, template: 'plain' }, { maxInstances: 5 }).count, 5);
});

test('at scale replicas spread evenly and capacity reaches the disk bound (the spread guard)', () => {
  // 300 nodes × 2 TiB, 50 GiB DRBD disks: exactly 40 disk slots per node → 6,000 instances.
  const nodes = Array.from({ length: 300 }, (_, i) => node(`n${String(i).padStart(3, '0')}`, { memory: 128 * GiB, vcpus: 32, disk: 2048 * GiB }));
  const m = cluster(nodes, [], { vcpuRatio: 4 });
  const r = capacityStandard(m, { memory: 4 * GiB, disk: 50 * GiB, vcpus: 2, template: 'replicated' });
  assert.is(r.count, 6000);
  const sec = new Map<string, number>();
  for (const p of r.placements) sec.set(p.secondary!, (sec.get(p.secondary!) ?? 0) + 1);
  assert.ok(Math.max(...sec.values()) - Math.min(...sec.values()) <= 2, 'secondaries within 2 of each other');
});

// ── the limiting resource comes from the allocator's counts, not from its sentence ───────────

test('a failed placement carries counts per mode, and the text is rendered from them', () => {
  const a = new Allocator(four());
  const r = a.place({ name: 'huge', memory: 128 * GiB, vcpus: 1, disk: GiB, template: 'plain', running: true, antiAffinity: [] });
  assert.is(r.ok, false);
  if (r.ok || r.refusal.kind !== 'no-node') return;
  assert.equal(r.refusal.counts, { offline: 0, drained: 0, memory: 4, vcpus: 0, disk: 0, spindles: 0, 'anti-affinity': 0, 'n+1': 0, 'no-secondary': 0 });
  assert.is(refusalText(r.refusal), 'no node: 4 lack memory');
});

test('failModes: most nodes first, ties in the order of the checks', () => {
  const counts: Record<FailMode, number> = { offline: 0, drained: 1, memory: 2, vcpus: 0, disk: 2, spindles: 0, 'anti-affinity': 0, 'n+1': 1, 'no-secondary': 0 };
  assert.equal(failModes(counts), ['memory', 'disk', 'drained', 'n+1']);
});

test('standard, plain: disk-bound, read from the counts', () => {
  const r = capacityStandard(four(), { memory: GiB, disk: 300 * GiB, vcpus: 1, template: 'plain' });
  assert.is(r.count, 12); // 3 × 300 GiB per 1 TiB node
  assert.is(r.limitingResource, 'disk');
  assert.is(r.stoppedBy, 'no node: 4 lack disk');
});

test('standard, replicated: N+1 named when it turns the nodes down', () => {
  // Two nodes: each must keep room for the other's primaries, so N+1 stops it before memory runs out.
  const two = cluster([node('a', { memory: 16 * GiB }), node('b', { memory: 16 * GiB })]);
  const r = capacityStandard(two, { memory: 4 * GiB, disk: GiB, vcpus: 1, template: 'replicated' });
  assert.is(r.limitingResource, 'N+1', r.stoppedBy);
  assert.match(r.stoppedBy, /would break N\+1/);
});

test('an empty cluster limits by "other"', () => {
  const r = capacityStandard(cluster([]), { memory: GiB, disk: GiB, vcpus: 1, template: 'plain' });
  assert.equal([r.count, r.limitingResource, r.stoppedBy], [0, 'other', 'no node: the cluster has no nodes']);
});

test.run();
