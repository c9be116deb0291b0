/** Loading good manifests: defaults, resolution, files and folders, order independence. */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatDiagnostic, loadManifests, type LoadResult } from '../../src/manifest/index.ts';

const GOOD = 'test/fixtures/manifests/good';
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function ok(r: LoadResult): Extract<LoadResult, { ok: true }> {
  if (!r.ok) assert.unreachable(r.diagnostics.map(formatDiagnostic).join('\n'));
  return r as Extract<LoadResult, { ok: true }>;
}

test('cluster defaults apply when nothing is written', async () => {
  const { desired } = ok(await loadManifests([`${GOOD}/minimal.yaml`]));
  const c = desired.clusters.get('mini')!;
  assert.equal(
    { defaults: c.defaults, policy: c.policy, reconcile: c.reconcile, failover: c.failover, replication: c.replication, sim: c.sim },
    {
      defaults: { memory: 512 * MiB, vcpus: 1, image: 'busybox', diskTemplate: 'replicated', disks: [{ size: GiB, mount: '/data' }] },
      policy: { vcpuRatio: 4, memoryOvercommit: 1, redundancy: 'n+1' },
      reconcile: { intervalMs: 300_000, concurrency: { perNode: 4, total: 32 }, rebalance: 'off', maxUnavailable: { count: 1 } },
      failover: { automatic: true, nodeDownAfterMs: 30_000, maxUnreachableShare: 0.5, holdAfterFailures: 3 },
      replication: { intervalMs: 60_000 },
      sim: { latencyMs: 0 },
    },
  );
  assert.equal(c.labels, {});
  assert.equal(c.source, { file: `${GOOD}/minimal.yaml`, line: 2, column: 1 });
});

test('an instance takes what it does not set from its cluster', async () => {
  const { desired } = ok(await loadManifests([`${GOOD}/minimal.yaml`]));
  const i = desired.instances.get('i1')!;
  assert.equal({ ...i, source: undefined }, {
    name: 'i1', labels: {}, cluster: 'mini', image: 'busybox', memory: 512 * MiB, vcpus: 1,
    diskTemplate: 'replicated', disks: [{ size: GiB, mount: '/data' }], state: 'running',
    antiAffinity: [], env: {}, ports: [], source: undefined,
  });
});

test('nodes: quantities in bytes, a bare number is MiB, flags default to false', async () => {
  const { desired } = ok(await loadManifests([`${GOOD}/minimal.yaml`]));
  const n2 = desired.nodes.get('n2')!;
  assert.equal(n2.capacity, { memory: 4 * GiB, vcpus: 4, disk: 512 * GiB });
  assert.equal([n2.group, n2.drained, n2.offline, n2.cluster], ['default', false, false, 'mini']);
  assert.is(n2.endpoint, undefined);
});

test('every field written out is mapped (anchors, merge keys, flow style)', async () => {
  const r = ok(await loadManifests([`${GOOD}/full.yaml`]));
  const c = r.desired.clusters.get('full.example.lan')!;
  assert.is(c.backend, 'docker');
  assert.equal(c.labels, { site: 'paris', 'drover.io/tier': 'gold' });
  assert.equal(c.defaults.disks, [{ size: 2 * GiB, mount: '/var/lib/app' }, { size: 512 * MiB, mount: '/log' }]);
  assert.equal(c.policy, { vcpuRatio: 2.5, memoryOvercommit: 1.25, redundancy: 'none' });
  assert.equal(c.reconcile, { intervalMs: 90_000, concurrency: { perNode: 2, total: 10 }, rebalance: 'off', maxUnavailable: { count: 1 } });
  assert.equal(c.failover, { automatic: false, nodeDownAfterMs: 90_000, fenceCommand: ['/usr/local/bin/fence', '--hard'], maxUnreachableShare: 0.5, holdAfterFailures: 3 });
  assert.equal([c.replication.intervalMs, c.sim.latencyMs], [30_000, 250]);

  const e1 = r.desired.nodes.get('engine1.example.lan')!;
  const dir = resolve(GOOD);
  assert.equal(e1.tls, { ca: join(dir, 'certs/ca.pem'), cert: join(dir, 'certs/cert.pem'), key: '/etc/drover/key.pem' });
  assert.equal([e1.endpoint, e1.group, e1.drained, e1.capacity], ['tcp://10.0.0.1:2376', 'rack1', true, undefined]);
  assert.equal(r.desired.nodes.get('engine2.example.lan')!.capacity, { memory: 16 * GiB });

  const a1 = r.desired.instances.get('app1')!;
  assert.equal([a1.memory, a1.vcpus, a1.state, a1.primary, a1.secondary], [1.5 * GiB, 3, 'stopped', 'engine2.example.lan', 'engine1.example.lan']);
  assert.equal(a1.ports, [
    { container: 80, host: 8080, protocol: 'tcp' }, { container: 53, protocol: 'udp' }, { container: 443, protocol: 'tcp' },
    { container: 9000, host: 19000, protocol: 'udp' }, { container: 22, protocol: 'tcp' },
  ]);
  assert.equal(a1.env, { MODE: 'production', PORT: '8080' });
  assert.equal(a1.command, ['nginx', '-g', 'daemon off;']);
  assert.equal(a1.antiAffinity, ['front', 'zone-a']);
  assert.equal(a1.disks, [{ size: 20 * GiB, mount: '/srv' }, { size: 5 * GiB, mount: '/data1' }], 'a disk by size alone is mounted by its index');
  assert.equal(a1.fieldSources?.['disks[1].size'], { file: a1.source.file, line: 52, column: 13 }, 'where each size is written, for the planner\'s errors');

  const a2 = r.desired.instances.get('app2')!;
  assert.equal([a2.cluster, a2.image, a2.state, a2.env], ['full.example.lan', 'nginx:1.27', 'absent', a1.env]);
  assert.equal(r.warnings.map((w) => w.message), [
    'Cluster "full.example.lan": drained nodes (engine1.example.lan) keep their instances but take no new ones; fewer than two nodes can take a new replicated instance',
  ]);
});

test('a folder loads recursively, sorted, *.yaml and *.yml only, in any order of kinds', async () => {
  const r = ok(await loadManifests([`${GOOD}/split`]));
  assert.equal(r.files, [`${GOOD}/split/cluster.yml`, `${GOOD}/split/instances/a.yaml`, `${GOOD}/split/nodes.yaml`]);
  assert.equal([...r.desired.nodes.keys()].sort(), ['s1', 's2']);
  assert.is(r.desired.instances.get('a1')!.memory, 256 * MiB);
  assert.is(r.desired.instances.get('a1')!.primary, 's2');
});

test('file names stay as the user wrote the path', async () => {
  const r = ok(await loadManifests([`./${GOOD}/split/`]));
  assert.equal(r.files, [`./${GOOD}/split/cluster.yml`, `./${GOOD}/split/instances/a.yaml`, `./${GOOD}/split/nodes.yaml`]);
  assert.is(r.desired.clusters.get('split')!.source.file, `./${GOOD}/split/cluster.yml`);
});

test('several paths, files and folders, load together', async () => {
  const r = ok(await loadManifests([`${GOOD}/minimal.yaml`, `${GOOD}/split`, `${GOOD}/minimal.yaml`]));
  assert.equal([...r.desired.clusters.keys()].sort(), ['mini', 'split']);
  assert.is(r.files.length, 4); // the same file twice is read once
});

test('the default manifests/ folder is valid', async () => {
  const r = ok(await loadManifests(['manifests']));
  assert.equal([...r.desired.clusters.keys()], ['lab']);
  assert.is(r.desired.nodes.size, 3);
  assert.is(r.desired.instances.size, 5);
  assert.is(r.desired.clusters.get('lab')!.sim.latencyMs, 150);
  assert.equal(r.warnings, []);
});

test('the examples are valid', async () => {
  for (const example of ['examples/docker-tls', 'examples/pinned', 'examples/hospital', 'examples/network']) {
    const r = await loadManifests([example]);
    assert.ok(r.ok, r.ok ? '' : r.diagnostics.map(formatDiagnostic).join('\n'));
  }
});

test('a path that does not exist is a diagnostic, named as given', async () => {
  const r = await loadManifests(['no/such/dir', `${GOOD}/minimal.yaml`]);
  assert.is(r.ok, false);
  if (r.ok) return;
  assert.equal(r.diagnostics.map(formatDiagnostic), ['no/such/dir:1:1: error: no such file or folder: no/such/dir']);
});

test('problems in several files are all reported, in file order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-manifest-'));
  writeFileSync(join(dir, 'a.yaml'), 'apiVersion: drover/v1\nkind: Cluster\nmetadata: { name: c }\nspec: { backend: sim, colour: red }\n');
  writeFileSync(join(dir, 'b.yaml'), 'apiVersion: drover/v1\nkind: Node\nmetadata: { name: n }\nspec: { cluster: c, capacity: { memory: 1X } }\n');
  const r = await loadManifests([dir]);
  assert.is(r.ok, false);
  if (r.ok) return;
  // The broken cluster does not also make "unknown cluster" or "needs capacity" errors.
  assert.equal(r.diagnostics.map((d) => `${d.file.slice(dir.length + 1)}:${d.line}:${d.column}: ${d.message}`), [
    'a.yaml:4:23: Cluster "c": unknown field "colour" in spec',
    'b.yaml:4:41: Node "n": spec.capacity.memory: "1X" is not a quantity (use 512M, 1G, 1.5T)',
  ]);
});

test('a syntax error in one file does not make the others report missing references', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-manifest-'));
  writeFileSync(join(dir, 'cluster.yaml'), 'apiVersion: drover/v1\nkind: Cluster\nmetadata: { name: c\n');
  writeFileSync(join(dir, 'nodes.yaml'), 'apiVersion: drover/v1\nkind: Node\nmetadata: { name: n }\nspec: { cluster: c }\n');
  const r = await loadManifests([dir]);
  assert.is(r.ok, false);
  if (!r.ok) assert.equal(r.diagnostics.map((d) => d.file.slice(dir.length + 1)), ['cluster.yaml']);
});

test('aliases within the limit are fine', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-manifest-'));
  writeFileSync(join(dir, 'm.yaml'), [
    'apiVersion: drover/v1', 'kind: Cluster', 'metadata: { name: c }', 'spec: { backend: sim }', '---',
    'apiVersion: drover/v1', 'kind: Node', 'metadata: { name: n1, labels: &l { rack: a } }',
    'spec: { cluster: c, capacity: { <<: &cap { memory: 8G, vcpus: 8, disk: 100G }, vcpus: 4 } }', '---',
    'apiVersion: drover/v1', 'kind: Node', 'metadata: { name: n2, labels: &l { rack: b } }',
    'spec: { cluster: c, capacity: { memory: 8G, vcpus: 8, disk: 100G } }', '---',
    'apiVersion: drover/v1', 'kind: Instance', 'metadata: { name: i, labels: &e { A: "1" } }',
    'spec: { cluster: c, env: *e }', '',
  ].join('\n'));
  const r = ok(await loadManifests([dir]));
  assert.equal(r.desired.nodes.get('n1')!.capacity, { ...r.desired.nodes.get('n2')!.capacity, vcpus: 4 });
  assert.equal(r.desired.nodes.get('n2')!.labels, { rack: 'b' });
  assert.equal(r.desired.instances.get('i')!.env, { A: '1' });
});

test.run();
