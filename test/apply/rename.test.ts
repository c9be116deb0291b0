/**
 * Rename in place (metadata.renamedFrom) on the sim backend: the instance keeps its node, its disks
 * and their data, its replica and recovery point; nothing is left under the old name; one
 * RenameInstance in the journal. A node holding a copy that does not answer holds the rename, and a
 * master killed with -9 at any durable step mid-rename is resumed to the same end.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { load, simCluster } from '../support/apply.ts';
import { drover, droverJson, fixture, runDrover } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';
import { assertNoDoubleRun, readStore, readWorld, type WorldView } from '../support/world.ts';
import type { JobRecord } from '../../src/store/types.ts';

const NODES = ['n1', 'n2', 'n3'];
const test = suite('rename in place');
test.after(cleanupTemps);

/** The crash fixture in a temp folder, and the same with `db` renamed to `database`. */
function manifests(): { before: string; after: string } {
  const before = tempDir('drover-rename-m-');
  fs.cpSync(fixture('crash'), before, { recursive: true });
  const after = tempDir('drover-rename-m-');
  fs.cpSync(before, after, { recursive: true });
  const f = path.join(after, 'instances.yaml');
  fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('metadata: { name: db }', 'metadata: { name: database, renamedFrom: db }'));
  return { before, after };
}

/** Everything on the nodes under a name: node → [what]. */
function copiesOf(w: WorldView, instance: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [node, v] of Object.entries(w.nodes)) {
    const parts = [...v.containers.filter((c) => c.instance === instance).map((c) => `container:${c.state}`),
      ...v.volumes.filter((x) => x.instance === instance).map((x) => `d${x.disk}:${x.role}:v${x.dataVersion}`)];
    if (parts.length) out[node] = parts;
  }
  return out;
}

test('the renamed instance keeps its node, disks, data, replica and recovery point; no orphan; one journal entry', async () => {
  const m = manifests();
  const c = await simCluster([m.before]);
  try {
    assert.is((await c.converge()).failed.length, 0);
    const version = await c.driver.writeData('n1', 'db');
    const before = c.store.placements.get('db')!;
    const was = copiesOf(readWorldOf(c.dir), 'db');
    c.desired = await load([m.after]);
    const p = await c.plan();
    assert.equal(p.operations.map((o) => `${o.type} ${o.instance}`), ['RenameInstance database']);
    const op = p.operations[0]!;
    assert.ok(op.type === 'RenameInstance');
    if (op.type !== 'RenameInstance') return;
    assert.equal([op.from, op.primary, op.secondary, op.disruption, op.changes], ['db', 'n1', 'n2', 'none', [{ path: 'metadata.name', from: 'db', to: 'database' }]]);
    const r = await c.converge();
    assert.is(r.failed.length, 0);
    assert.equal(r.pending, []);
    const w = readWorldOf(c.dir);
    assert.equal(copiesOf(w, 'db'), {}, 'nothing left under the old name');
    assert.equal(copiesOf(w, 'database'), was, 'the same copies, on the same nodes, with the same data, under the new name');
    assert.ok(copiesOf(w, 'database').n1!.includes(`d0:primary:v${version}`));
    const after = c.store.placements.get('database')!;
    assert.equal({ ...after, instance: 'db' }, before, 'placement, applied record and last sync moved');
    assert.not.ok(c.store.placements.has('db'));
    const jobs = [...c.store.jobs.values()].filter((j) => j.instance === 'database');
    assert.equal(jobs.map((j) => `${j.type} ${j.result} ${j.reason}`), ['RenameInstance succeeded renamed from db (metadata.renamedFrom)']);
    const again = await c.plan();
    assert.equal(again.operations, []);
    assert.ok(again.warnings.some((x) => x.includes('Drover knows no instance "db" (already renamed, or a typo)')), 'the field may stay, with a warning');
  } finally { await c.close(); }
});

test('a rename waits while a node holding a copy does not answer, then proceeds', async () => {
  const m = manifests();
  const c = await simCluster([m.before]);
  try {
    await c.converge();
    c.driver.world.setFlags('n2', { failed: true, fenced: false });
    c.desired = await load([m.after]);
    const p = await c.plan();
    assert.equal(p.operations.filter((o) => o.instance === 'database' || o.instance === 'db'), []);
    assert.equal(p.pending.filter((x) => x.instance === 'database').map((x) => x.cause), [{ kind: 'rename-waits', node: 'n2', from: 'db' }]);
    assert.not.ok(p.warnings.some((w) => w.startsWith('db:')), 'the old name is not reported as in no manifest');
    c.driver.world.setFlags('n2', { failed: false, fenced: false });
    const r = await c.converge();
    assert.is(r.failed.length, 0);
    assert.equal(copiesOf(readWorldOf(c.dir), 'db'), {});
    assert.is(c.store.placements.get('database')?.secondary, 'n2');
  } finally { await c.close(); }
});

test('a rename held by a dead primary: it fails over under its old name, is renamed once the nodes holding its copies answer, and the old copies on the returning node go', async () => {
  const m = manifests();
  const c = await simCluster([m.before]);
  try {
    await c.converge();
    await c.driver.writeData('n1', 'db'); // after the last sync: a failover loses it
    const synced = c.driver.dataVersion('n2', 'db');
    c.driver.world.setFlags('n1', { failed: true, fenced: false });
    await c.store.putNode({ name: 'n1', nodeDownSince: Date.now() - 60_000 });
    c.desired = await load([m.after]);
    const p = await c.plan();
    assert.equal(p.operations.filter((o) => o.instance === 'db' || o.instance === 'database').map((o) => `${o.type} ${o.instance}`)[0], 'FailoverInstance db');
    assert.equal(p.pending.filter((x) => x.instance === 'database').map((x) => x.cause.kind), ['rename-waits']);
    const r = await c.converge();
    assert.equal(r.failed, []);
    const jobs = [...c.store.jobs.values()].filter((j) => j.instance === 'db' || j.instance === 'database').map((j) => `${j.type} ${j.instance}`);
    assert.equal(jobs.slice(-3), ['FailoverInstance db', 'ReplaceSecondary db', 'RenameInstance database'], 'failed over, new replica, then renamed: all in one apply');
    assert.not.ok(c.store.placements.has('db'));
    assert.is(c.store.placements.get('database')?.primary, 'n2');
    assert.is(c.driver.dataVersion('n2', 'database'), synced, 'the data of the last sync, under the new name');
    c.driver.world.setFlags('n1', { failed: false, fenced: false }); // back: its stale copies under the old name go
    const back = await c.converge();
    assert.equal(back.failed, []);
    const w = readWorldOf(c.dir);
    assert.equal(copiesOf(w, 'db'), {}, 'nothing left under the old name, the fenced node cleaned too');
    const running = Object.entries(copiesOf(w, 'database')).filter(([, parts]) => parts.includes('container:running')).map(([n]) => n);
    assert.equal(running, [c.store.placements.get('database')!.primary], 'runs once, where placed (back on its pinned n1)');
  } finally { await c.close(); }
});

test('--prune never removes an instance being renamed', async () => {
  const m = manifests();
  const c = await simCluster([m.before]);
  try {
    await c.converge();
    c.desired = await load([m.after]);
    const p = await c.plan(true);
    assert.equal(p.operations.map((o) => o.type), ['RenameInstance']);
  } finally { await c.close(); }
});

function readWorldOf(dir: string): WorldView { return readWorld(dir, NODES); }

test('killed with -9 at every durable step of a rename, resumed: renamed once, data kept, nothing under the old name', async () => {
  const m = manifests();
  const base = tempDir();
  assert.is((await drover(['apply', '--yes', m.before, '--state-dir', base])).code, 0);
  assert.is((await drover(['sim', 'write', 'db', '--state-dir', base])).code, 0);
  const was = copiesOf(readWorldOf(base), 'db');
  let killed = 0;
  for (let at = 1; at <= 12; at++) {
    const what = `rename, kill at batch ${at}`;
    const dir = tempDir();
    fs.cpSync(base, dir, { recursive: true });
    const first = await runDrover(['apply', '--yes', m.after, '--state-dir', dir], { DROVER_FSYNC: '0', DROVER_FAILPOINT_KILL_AT: String(at), ...(at % 3 === 1 && { DROVER_FAILPOINT_TORN: '1' }) });
    if (first.signal === 'SIGKILL') killed++;
    assertNoDoubleRun(readWorldOf(dir), `${what}: `);
    const second = await drover(['apply', '--yes', m.after, '--state-dir', dir]);
    assert.is(second.code, 0, `${what}: resumed apply: ${second.stdout}${second.stderr}`);
    const w = readWorldOf(dir);
    assert.equal(copiesOf(w, 'db'), {}, `${what}: nothing left under the old name`);
    assert.equal(copiesOf(w, 'database'), was, `${what}: same copies, nodes and data under the new name`);
    const store = readStore(dir);
    assert.is(store.machines, 0, `${what}: machines left in flight`);
    assert.not.ok(store.placements.has('db'), `${what}: old placement gone`);
    assert.equal([store.placements.get('database')?.primary, store.placements.get('database')?.secondary], ['n1', 'n2'], `${what}: same nodes`);
    const jobs = (await droverJson<{ jobs: JobRecord[] }>(['jobs', '--json', '--state-dir', dir])).jobs.filter((j) => j.instance === 'database');
    assert.equal(jobs.filter((j) => j.type !== 'RenameInstance').map((j) => j.type), [], `${what}: only renames for the new name`);
    assert.ok(jobs.some((j) => j.type === 'RenameInstance' && j.result === 'succeeded'), `${what}: the rename is journaled`);
    const again = await drover(['plan', m.after, '--detailed-exitcode', '--state-dir', dir]);
    assert.is(again.code, 0, `${what}: a plan after the resumed apply still has work:\n${again.stdout}`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(killed >= 5, `the rename's runs were really killed at several steps (${killed})`);
});

test.run();
