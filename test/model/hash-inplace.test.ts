/**
 * The spec hash leaves out what changes in place (memory, vcpus, disk sizes: read off the node instead),
 * and a first-formula (v1) hash, which held them as they were at creation, is matched with what the node shows.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isCurrentHash, specHash, specMatches } from '../../src/model/hash.ts';
import { specHashV1 } from '../../src/model/hash-v1.ts';
import type { InstanceSpec } from '../../src/model/operations.ts';

const MiB = 1024 * 1024;
const spec: InstanceSpec = {
  name: 'db', image: 'busybox', memory: 512 * MiB, vcpus: 1, diskTemplate: 'replicated',
  disks: [{ size: 1024 * MiB, mount: '/data' }], env: { A: '1' }, ports: [],
};

test('limits and disk sizes are not in the hash; mounts, the number of disks and the rest are', () => {
  const h = specHash(spec);
  assert.ok(isCurrentHash(h));
  assert.is(specHash({ ...spec, memory: 768 * MiB, vcpus: 2, disks: [{ size: 2048 * MiB, mount: '/data' }] }), h);
  for (const other of [
    { ...spec, disks: [{ size: 1024 * MiB, mount: '/srv' }] }, { ...spec, disks: [{ size: 1024 * MiB, mount: '/data1' }] },
    { ...spec, disks: [...spec.disks, { size: MiB, mount: '/data1' }] }, { ...spec, image: 'alpine' }, { ...spec, env: {} },
  ]) assert.is.not(specHash(other), h, JSON.stringify(other));
});

test('a v1 hash matches with the limits and sizes the node shows, and a real change still does not', () => {
  const v1 = specHashV1(spec);
  assert.ok(specMatches(v1, spec));
  const resized = { ...spec, memory: 768 * MiB, disks: [{ size: 2048 * MiB, mount: '/data' }] };
  assert.not.ok(specMatches(v1, resized), 'without what the node shows: a change');
  assert.ok(specMatches(v1, resized, { memory: spec.memory, vcpus: spec.vcpus, sizes: [1024 * MiB] }), 'the node still has the old limits: only in-place changes');
  assert.not.ok(specMatches(v1, { ...resized, image: 'alpine' }, { memory: spec.memory, sizes: [1024 * MiB] }));
});

test.run();
