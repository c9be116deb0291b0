/**
 * The command line as scripts use it: plan --json and its exit codes, saved plans, errors that change
 * nothing, status/jobs --json fields, the lease.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lease } from '../../src/store/lease.ts';
import { drover, droverJson, fixture, runDrover } from '../support/cli.ts';
import { cleanupTemps, snapshotDir, tempDir } from '../support/tmp.ts';
import { readStore } from '../support/world.ts';

test.after(cleanupTemps);

const FO = fixture('failover');
/** A private copy of a fixture, to edit. */
function copyOf(name: string): string {
  const dir = path.join(tempDir('drover-manifests-'), name);
  fs.cpSync(fixture(name), dir, { recursive: true });
  return dir;
}

interface PlanJson {
  operations: Record<string, unknown>[];
  warnings: string[];
  errors?: { instance?: string; message: string; file?: string; line?: number; column?: number }[];
  pending?: { instance: string; reason: string; cause: { kind: string; node?: string }; retryAt?: number }[];
}

test('plan --json: operations with type, instance, nodes and reason (no container specs), and warnings', async () => {
  const dir = tempDir();
  const p = await droverJson<PlanJson>(['plan', FO, '--json', '--state-dir', dir]);
  assert.ok(Array.isArray(p.warnings));
  assert.equal(p.operations.map((o) => [o.type, o.instance]), [['CreateInstance', 'db'], ['CreateInstance', 'scratch'], ['CreateInstance', 'web']]);
  const db = p.operations[0]!;
  assert.is(db.primary, 'n1');
  assert.is(db.secondary, 'n2');
  assert.is(db.reason, 'new instance');
  assert.equal(db.cause, { kind: 'new-instance' }, 'the reason as data, for scripts');
  assert.is(p.operations[1]!.secondary, undefined, 'plain: no secondary');
  for (const o of p.operations) assert.not.ok('spec' in o, 'no container spec in the JSON');
  assert.equal(fs.readdirSync(dir).filter((f) => f !== 'sim'), [], 'plan writes nothing to the store');
});

test('plan --json after a node is drained: migrate/replace operations carry from and to', async () => {
  const m = copyOf('failover');
  const dir = tempDir();
  assert.is((await drover(['apply', '--yes', m, '--state-dir', dir])).code, 0);
  const text = fs.readFileSync(path.join(m, 'cluster.yaml'), 'utf8').replace('metadata: { name: n3 }\nspec: { cluster: fo,', 'metadata: { name: n3 }\nspec: { cluster: fo, drained: true,');
  fs.writeFileSync(path.join(m, 'cluster.yaml'), text);
  const p = await droverJson<PlanJson>(['plan', m, '--json', '--state-dir', dir]);
  const rs = p.operations.find((o) => o.type === 'ReplaceSecondary' && o.instance === 'web');
  assert.ok(rs, JSON.stringify(p.operations));
  assert.is(rs!.from, 'n3');
  assert.is(rs!.to, 'n1');
  assert.is(rs!.primary, 'n2');
  assert.equal([rs!.reason, rs!.cause], ['secondary n3 cannot hold replicas (down, drained, offline or fenced)', { kind: 'secondary-unusable', node: 'n3' }]);
  assert.not.ok('disks' in rs!, 'no disk specs either');
});

test('plan --detailed-exitcode: 2 with changes, 0 without, 1 on errors', async () => {
  const dir = tempDir();
  const before = await drover(['plan', FO, '--detailed-exitcode', '--state-dir', dir]);
  assert.is(before.code, 2, before.stdout);
  assert.match(before.stdout, /Plan: 3 to create, 0 to change, 0 to move, 0 to remove\./);
  assert.is((await drover(['plan', FO, '--state-dir', dir])).code, 0, 'without the flag, changes exit 0');
  assert.is((await drover(['apply', '--yes', FO, '--state-dir', dir])).code, 0);
  const after = await drover(['plan', FO, '--detailed-exitcode', '--state-dir', dir]);
  assert.is(after.code, 0, after.stdout);
  assert.match(after.stdout, 'No changes');
  const impossible = await drover(['plan', fixture('impossible'), '--detailed-exitcode', '--json', '--state-dir', tempDir()]);
  assert.is(impossible.code, 1);
  const p = JSON.parse(impossible.stdout) as PlanJson;
  assert.is(p.errors![0]!.instance, 'big3');
  assert.ok(p.errors![0]!.file!.endsWith('instances.yaml'));
  assert.is(p.errors![0]!.line, 13);
  const text = await drover(['plan', fixture('impossible'), '--state-dir', tempDir()]);
  assert.is(text.code, 1);
  assert.match(text.stdout, /instances\.yaml:13:\d+: error: cannot place big3/);
});

test('plan --out F, then apply --plan F applies exactly the saved operations', async () => {
  const dir = tempDir();
  const out = path.join(tempDir(), 'plan.json');
  const r = await drover(['plan', FO, '--out', out, '--state-dir', dir]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, `apply --plan ${out}`);
  const saved = JSON.parse(fs.readFileSync(out, 'utf8')) as { operations: { type: string; instance: string }[] };
  assert.is(saved.operations.length, 3);
  const a = await drover(['apply', '--plan', out, '--yes', '--state-dir', dir]);
  assert.is(a.code, 0, a.stdout + a.stderr);
  const jobs = (await droverJson<{ jobs: { type: string; instance: string; result: string }[] }>(['jobs', '--json', '--state-dir', dir])).jobs;
  assert.equal(jobs.map((j) => `${j.type} ${j.instance} ${j.result}`).sort(), saved.operations.map((o) => `${o.type} ${o.instance} succeeded`).sort());
  assert.is((await drover(['plan', FO, '--detailed-exitcode', '--state-dir', dir])).code, 0, 'and that was all there was to do');
});

test('apply --plan refuses a saved plan after the manifests change, and changes nothing', async () => {
  const m = copyOf('failover');
  const dir = tempDir();
  assert.is((await drover(['apply', '--yes', m, '--state-dir', dir])).code, 0);
  const out = path.join(tempDir(), 'plan.json');
  const file = path.join(m, 'instances.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('spec: { cluster: fo, primary: n2, secondary: n3 }', 'spec: { cluster: fo, primary: n2, secondary: n3, memory: 768M }'));
  assert.is((await drover(['plan', m, '--out', out, '--state-dir', dir])).code, 0);
  assert.equal((JSON.parse(fs.readFileSync(out, 'utf8')) as { operations: { type: string }[] }).operations.map((o) => o.type), ['RecreateInstance']);
  // the manifests change again after the plan was saved
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('memory: 768M', 'memory: 1G'));
  const before = snapshotDir(dir);
  const r = await drover(['apply', '--plan', out, '--yes', '--state-dir', dir]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /stale/);
  assert.equal(snapshotDir(dir), before, 'state dir unchanged');
});

test('apply --plan refuses a saved plan when the nodes changed since', async () => {
  const dir = tempDir();
  assert.is((await drover(['apply', '--yes', FO, '--state-dir', dir])).code, 0);
  const out = path.join(tempDir(), 'plan.json');
  assert.is((await drover(['plan', FO, '--out', out, '--state-dir', dir])).code, 0);
  // someone stops web on its node after the plan was made
  const { SimDriver } = await import('../../src/drivers/sim/index.ts');
  const { load } = await import('../support/apply.ts');
  const d = await load([FO]);
  const sim = new SimDriver({ stateDir: dir, nodes: [...d.nodes.values()], fsync: false });
  await sim.stopInstance('n2', 'web');
  await sim.close();
  const r = await drover(['apply', '--plan', out, '--yes', '--state-dir', dir]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /stale/);
});

test('a bad manifest: exit 1, FILE:LINE:COL on stderr, and the state dir unchanged (validate, plan, apply)', async () => {
  const m = copyOf('failover');
  const dir = tempDir();
  assert.is((await drover(['apply', '--yes', m, '--state-dir', dir])).code, 0);
  const file = path.join(m, 'instances.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('spec: { cluster: fo, diskTemplate: plain, primary: n1 }', 'spec: { cluster: fo, diskTemplate: plain, primary: n1, memroy: 1G }'));
  const line = fs.readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes('memroy')) + 1;
  const before = snapshotDir(dir);
  for (const cmd of [['validate'], ['plan'], ['apply', '--yes'], ['status']]) {
    const r = await drover([...cmd, m, '--state-dir', dir].filter((a) => !(cmd[0] === 'validate' && (a === '--state-dir' || a === dir))));
    assert.is(r.code, 1, `${cmd[0]}: exit 1`);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}:\\d+: error: .*memroy`), `${cmd[0]}: ${r.stderr}`);
    assert.match(r.stderr, /did you mean.*memory/i, 'a near miss is named');
    assert.match(r.stderr, 'nothing was changed');
    assert.is(r.stdout, '', `${cmd[0]}: nothing on stdout`);
  }
  assert.equal(snapshotDir(dir), before, 'state dir unchanged');
  // a YAML syntax error, with its position
  fs.writeFileSync(file, 'apiVersion: drover/v1\nkind: Instance\nmetadata: { name: x\nspec: {}\n');
  const r = await drover(['apply', '--yes', m, '--state-dir', dir]);
  assert.is(r.code, 1);
  assert.match(r.stderr, new RegExp(`instances\\.yaml:\\d+:\\d+: error:`));
  assert.equal(snapshotDir(dir), before);
});

test('status --json: nodes and instances with the documented fields', async () => {
  const dir = tempDir();
  assert.is((await drover(['apply', '--yes', FO, '--state-dir', dir])).code, 0);
  const s = await droverJson<{ nodes: Record<string, any>[]; instances: Record<string, any>[] }>(['status', FO, '--json', '--state-dir', dir]);
  assert.equal(s.nodes.map((n) => n.name), ['n1', 'n2', 'n3']);
  const GiB = 2 ** 30, MiB = 2 ** 20;
  for (const n of s.nodes) {
    assert.is(n.health, 'up');
    assert.is(n.memory.total, 8 * GiB);
    assert.type(n.memory.used, 'number');
    assert.type(n.primaries, 'number');
    assert.type(n.secondaries, 'number');
  }
  const n1 = s.nodes.find((n) => n.name === 'n1')!;
  assert.equal([n1.primaries, n1.secondaries, n1.memory.used], [2, 0, 1024 * MiB], 'db and scratch, 512M each');
  const n3 = s.nodes.find((n) => n.name === 'n3')!;
  assert.equal([n3.primaries, n3.secondaries], [0, 1]);
  const byName = Object.fromEntries(s.instances.map((i) => [i.name, i]));
  assert.equal(Object.keys(byName).sort(), ['db', 'scratch', 'web']);
  assert.equal(
    [byName.db.state, byName.db.primary, byName.db.secondary, byName.db.diskTemplate, byName.db.memory, byName.db.degraded],
    ['running', 'n1', 'n2', 'replicated', 512 * MiB, false]);
  assert.equal([byName.scratch.state, byName.scratch.primary, byName.scratch.secondary, byName.scratch.diskTemplate, byName.scratch.degraded], ['running', 'n1', undefined, 'plain', false]);
  // a failed node shows: unreachable, its instances lost, replicas on it degraded
  assert.is((await drover(['sim', 'fail-node', 'n3', '--state-dir', dir])).code, 0);
  const s2 = await droverJson<{ nodes: Record<string, any>[]; instances: Record<string, any>[] }>(['status', FO, '--json', '--state-dir', dir]);
  assert.is(s2.nodes.find((n) => n.name === 'n3')!.health, 'unreachable');
  assert.is(s2.instances.find((i) => i.name === 'web')!.degraded, true, 'its replica is on the failed node');
  assert.is(s2.instances.find((i) => i.name === 'web')!.state, 'running');
  assert.is((await drover(['sim', 'fail-node', 'n1', '--state-dir', dir])).code, 0);
  const s3 = await droverJson<{ instances: Record<string, any>[] }>(['status', FO, '--json', '--state-dir', dir]);
  assert.is(s3.instances.find((i) => i.name === 'db')!.state, 'node-down');
  // plan --json: what waits on n1 says why in words and as data
  const p = await droverJson<PlanJson>(['plan', FO, '--json', '--state-dir', dir]);
  const db = p.pending?.find((x) => x.instance === 'db');
  assert.ok(db, JSON.stringify(p.pending));
  assert.equal([db!.cause.kind, db!.cause.node, typeof db!.retryAt], ['node-down', 'n1', 'number']);
  assert.match(db!.reason, /^primary n1 unreachable since .+; failover at .+ if it stays down$/);
});

test('jobs --json: the journal, one entry per operation with id, type, instance, start, end, result', async () => {
  const dir = tempDir();
  assert.equal(await droverJson(['jobs', '--json', '--state-dir', dir]), { jobs: [] });
  const empty = await drover(['jobs', '--state-dir', dir]);
  assert.match(empty.stdout, 'No jobs');
  assert.is((await drover(['apply', '--yes', FO, '--state-dir', dir])).code, 0);
  const { jobs } = await droverJson<{ jobs: Record<string, any>[] }>(['jobs', '--json', '--state-dir', dir]);
  assert.is(jobs.length, 3);
  assert.is(new Set(jobs.map((j) => j.id)).size, 3, 'unique ids');
  for (const j of jobs) {
    assert.type(j.id, 'string');
    assert.is(j.type, 'CreateInstance');
    assert.type(j.start, 'number');
    assert.ok(j.end >= j.start);
    assert.is(j.result, 'succeeded');
  }
  assert.equal(jobs.map((j) => j.instance).sort(), ['db', 'scratch', 'web']);
  const last = await droverJson<{ jobs: unknown[] }>(['jobs', '--json', '--last', '1', '--state-dir', dir]);
  assert.is(last.jobs.length, 1);
  const table = await drover(['jobs', '--state-dir', dir]);
  assert.match(table.stdout, /CreateInstance\s+db/);
});

test('lock status shows the holder; apply --no-wait is refused naming it; lock break frees it', async () => {
  const dir = tempDir();
  assert.match((await drover(['lock', 'status', '--state-dir', dir])).stdout, 'Free');
  assert.equal(await droverJson(['lock', 'status', '--json', '--state-dir', dir]), { holder: null });
  const lease = await Lease.acquire(dir, 'drover apply (held by the test)', 0);
  try {
    const s = await droverJson<{ holder: { pid: number; command: string; host: string } }>(['lock', 'status', '--json', '--state-dir', dir]);
    assert.is(s.holder.pid, process.pid);
    assert.is(s.holder.command, 'drover apply (held by the test)');
    assert.match((await drover(['lock', '--state-dir', dir])).stdout, `pid ${process.pid}`);
    // another process cannot take it
    const r = await runDrover(['apply', '--yes', '--no-wait', FO, '--state-dir', dir]);
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, `pid ${process.pid}`);
    assert.equal(readStore(dir).placements.size, 0, 'nothing applied');
  } finally {
    lease.release();
  }
  assert.equal(await droverJson(['lock', 'status', '--json', '--state-dir', dir]), { holder: null });
  const stuck = await Lease.acquire(dir, 'stuck holder', 0); // not released: broken by hand
  try {
    assert.is((await drover(['lock', 'break', '--state-dir', dir])).code, 0);
    assert.equal(await droverJson(['lock', 'status', '--json', '--state-dir', dir]), { holder: null });
  } finally {
    stuck.release(); // stops its renewal timer
  }
});

test('DROVER_STATE_DIR is the default state dir; an unknown command exits 1', async () => {
  const dir = tempDir();
  const r = await runDrover(['apply', '--yes', FO], { DROVER_STATE_DIR: dir, DROVER_FSYNC: '0' });
  assert.is(r.code, 0, r.stderr);
  assert.is(readStore(dir).placements.size, 3);
  const u = await drover(['frobnicate']);
  assert.is(u.code, 1);
  assert.match(u.stderr, 'unknown command');
});

test.run();
