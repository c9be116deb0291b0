/**
 * Everyday changes on the quick-start cluster (sim backend), through the CLI: field diffs in text,
 * JSON and markdown; memory changed with a restart (docker: in place, test/e2e-docker-9); a disk grown on primary and replica; a shrink refused at
 * its field with nothing changed; disks without a mount; a resize made by hand seen as drift.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SimWorld } from '../../src/drivers/sim/world.ts';
import type { JobRecord } from '../../src/store/types.ts';
import { drover, placement, sandbox, tamper, type Sandbox } from '../support/watch.ts';

const G = 1024 ** 3;
const M = 1024 ** 2;

function edit(sb: Sandbox, file: string, from: string, to: string): void {
  const f = path.join(sb.manifests, file);
  const text = fs.readFileSync(f, 'utf8');
  assert.ok(text.includes(from), `${file} has ${from}`);
  fs.writeFileSync(f, text.split(from).join(to));
}

/** The sim world as the nodes hold it (read only). */
function world(sb: Sandbox): SimWorld {
  return new SimWorld(sb.state, { readOnly: true });
}

function applied(sb: Sandbox): Sandbox {
  const r = drover(sb, ['apply', sb.manifests, '--yes']);
  assert.is(r.code, 0, r.out + r.err);
  return sb;
}

const jobs = (sb: Sandbox): JobRecord[] => (JSON.parse(drover(sb, ['jobs', '--json']).out) as { jobs: JobRecord[] }).jobs;

interface OpJson { type: string; instance: string; changes?: { path: string; from: string; to: string }[]; disruption?: string; downtime: string; wave?: number }

test('memory of both web instances: RestartInstance (the sim\'s VMs take it at boot), field diff in text, JSON and markdown; not recreated', () => {
  const sb = applied(sandbox());
  edit(sb, 'instances/web.yaml', 'memory: 1G', 'memory: 768M');
  const text = drover(sb, ['plan', sb.manifests]);
  assert.match(text.out, /RestartInstance\s+web1\s+on node\d/);
  assert.match(text.out, /# spec changed; restart: down for a restart\n\s+memory: 1G → 768M/);
  assert.not.match(text.out, /RecreateInstance/);
  const json = JSON.parse(drover(sb, ['plan', sb.manifests, '--json']).out) as { operations: OpJson[] };
  assert.equal(json.operations.map((o) => [o.type, o.instance, o.changes, o.disruption, o.downtime, o.wave]), [
    ['RestartInstance', 'web1', [{ path: 'memory', from: '1G', to: '768M' }], 'restart', 'restart', 1],
    ['RestartInstance', 'web2', [{ path: 'memory', from: '1G', to: '768M' }], 'restart', 'restart', 2],
  ], 'one at a time (the budget)');
  const md = drover(sb, ['plan', sb.manifests, '--format', 'markdown']).out;
  assert.match(md, /\| RestartInstance \| `web1` \| on node\d \| `memory: 1G → 768M` \| restart: down for a restart \| spec changed \|/);
  applied(sb);
  const w = world(sb);
  for (const name of ['web1', 'web2']) {
    const c = w.node(placement(sb, name).primary).containers.get(name)!;
    assert.equal([c.memory, c.state, c.generation], [768 * M, 'running', 1], `${name} runs with the new limit, not recreated`);
  }
  w.close();
  assert.equal(jobs(sb).filter((j) => j.type === 'RestartInstance').map((j) => [j.instance, j.result, j.changes]).sort(), [
    ['web1', 'succeeded', [{ path: 'memory', from: '1G', to: '768M' }]], ['web2', 'succeeded', [{ path: 'memory', from: '1G', to: '768M' }]],
  ]);
  assert.match(drover(sb, ['jobs']).out, /RestartInstance +web1 .*spec changed: memory 1G → 768M/);
  assert.match(drover(sb, ['plan', sb.manifests]).out, /No changes/);
});

test('env and image: RecreateInstance (disks kept), each field from → to', () => {
  const sb = applied(sandbox());
  edit(sb, 'instances/db.yaml', 'DB_NAME: app', 'DB_NAME: app2\n    EXTRA: x');
  const text = drover(sb, ['plan', sb.manifests]).out;
  assert.match(text, /-\/\+ RecreateInstance\s+db1\s+on node1\n/);
  assert.match(text, /# spec changed; recreate, disks kept: down while it is recreated\n\s+env\.DB_NAME: app → app2\n\s+env\.EXTRA: \(unset\) → x/);
  const op = (JSON.parse(drover(sb, ['plan', sb.manifests, '--json']).out) as { operations: OpJson[] }).operations[0]!;
  assert.equal([op.type, op.disruption, op.downtime], ['RecreateInstance', 'recreate', 'recreate']);
  applied(sb);
  assert.match(drover(sb, ['plan', sb.manifests]).out, /No changes/);
});

test('disk grow: GrowDisk on the replica and the primary, never a recreate; the data is kept', async () => {
  const sb = applied(sandbox());
  let before = 0;
  await tamper(sb, async (d) => { before = await d.writeData('node1', 'db1'); });
  edit(sb, 'instances/db.yaml', 'size: 10G', 'size: 20G');
  const text = drover(sb, ['plan', sb.manifests]).out;
  assert.match(text, /~\s+GrowDisk\s+db1\s+on node1 and its replica on node2\n\s+# spec changed; in place: no downtime\n\s+disks\[0\]\.size: 10G → 20G/);
  assert.not.match(text, /RecreateInstance/);
  applied(sb);
  const w = world(sb);
  assert.equal(['node1', 'node2'].map((n) => w.node(n).volumes.get('db1/0')!.size), [20 * G, 20 * G]);
  assert.is(w.node('node1').volumes.get('db1/0')!.dataVersion, before, 'the data is still there');
  assert.is(w.node('node1').containers.get('db1')!.generation, 1, 'not recreated');
  w.close();
  assert.match(drover(sb, ['plan', sb.manifests]).out, /No changes/);
});

test('disk shrink: a located error at disks[0].size naming from and to, and nothing changes', () => {
  const sb = applied(sandbox());
  edit(sb, 'instances/db.yaml', 'size: 10G', 'size: 5G');
  const line = fs.readFileSync(path.join(sb.manifests, 'instances/db.yaml'), 'utf8').split('\n').findIndex((l) => l.includes('size: 5G')) + 1;
  const p = drover(sb, ['plan', sb.manifests]);
  assert.is(p.code, 1);
  assert.match(p.out, new RegExp(`instances/db\\.yaml:${line}:\\d+: error: Instance "db1": spec\\.disks\\[0\\]\\.size: cannot shrink a disk \\(10G → 5G\\)`));
  const store = fs.readFileSync(path.join(sb.state, 'store.log'));
  const a = drover(sb, ['apply', sb.manifests, '--yes']);
  assert.is(a.code, 1);
  assert.match(a.err, /db\.yaml:\d+:\d+: error: .*cannot shrink a disk/);
  assert.equal(fs.readFileSync(path.join(sb.state, 'store.log')).subarray(0, store.length), store);
  const w = world(sb);
  assert.is(w.node('node1').volumes.get('db1/0')!.size, 10 * G, 'the disk is as it was');
  w.close();
});

test('disks declared by size alone are valid and created', () => {
  const sb = sandbox();
  fs.writeFileSync(path.join(sb.manifests, 'instances/vm.yaml'), [
    'apiVersion: drover/v1', 'kind: Instance', 'metadata: { name: vm1 }',
    'spec: { cluster: lab, memory: 256M, disks: [{ size: 1G }, { size: 2G }] }', '',
  ].join('\n'));
  assert.is(drover(sb, ['validate', sb.manifests]).code, 0);
  applied(sb);
  const w = world(sb);
  const node = placement(sb, 'vm1').primary;
  assert.equal([0, 1].map((i) => w.node(node).volumes.get(`vm1/${i}`)!.size), [G, 2 * G]);
  w.close();
  assert.match(drover(sb, ['plan', sb.manifests]).out, /No changes/);
});

test('a resize made by hand on the node is drift (resized-by-hand), set back', async () => {
  const sb = applied(sandbox());
  const node = placement(sb, 'web1').primary;
  await tamper(sb, (d) => d.updateInstance(node, 'web1', { memory: 512 * M }));
  const md = drover(sb, ['plan', sb.manifests, '--format', 'markdown']).out;
  assert.match(md, /`web1` on node\d: resized-by-hand, would be corrected/);
  const r = applied(sb);
  const out = drover(r, ['jobs', '--json']).out;
  assert.match(out, /resized-by-hand/);
  const w = world(sb);
  assert.is(w.node(node).containers.get('web1')!.memory, G);
  w.close();
  assert.match(drover(sb, ['plan', sb.manifests]).out, /No changes/);
});

test.run();
