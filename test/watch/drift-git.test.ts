/** Drift reports, git-aware runs, flapping and the failover bound, through the CLI on the sim backend. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JobRecord } from '../../src/store/types.ts';
import { drover, placement, sandbox, tamper, WatchProcess, type Sandbox } from '../support/watch.ts';

const jobs = (sb: Sandbox): JobRecord[] => (JSON.parse(drover(sb, ['jobs', '--json']).out) as { jobs: JobRecord[] }).jobs;
const SPEC = { image: 'busybox', memory: 1, vcpus: 1, diskTemplate: 'plain' as const, disks: [], env: {}, ports: [] };

test('drift: each change made by hand is classified, corrected or left alone, and journaled', async () => {
  const sb = sandbox();
  assert.is(drover(sb, ['apply', sb.manifests, '--yes']).code, 0);
  const [web1, web2, scratch, batch, db1] = ['web1', 'web2', 'scratch', 'batch', 'db1'].map((n) => placement(sb, n));
  await tamper(sb, async (d) => {
    await d.stopInstance(web1!.primary, 'web1');
    await d.removeInstance(scratch!.primary, 'scratch');
    await d.startInstance(batch!.primary, 'batch');
    await d.removeDisks(web2!.secondary!, 'web2');
    await d.removeInstance(db1!.primary, 'db1'); // and put back another container: a changed spec
    await d.createInstance(db1!.primary, { ...SPEC, name: 'db1' }, 1);
    await d.createInstance('node3', { ...SPEC, name: 'stray' }, 1);
  });
  const r = drover(sb, ['apply', sb.manifests, '--yes']);
  assert.is(r.code, 0, r.err);
  const lines = r.out.split('\n').filter((l) => l.startsWith('Drift: '));
  const kinds = Object.fromEntries(lines.map((l) => { const [, i, k] = /^Drift: (\S+): (\S+):/.exec(l)!; return [i, k]; }));
  assert.equal(kinds, { web1: 'stopped-by-hand', scratch: 'container-removed', batch: 'started-by-hand', web2: 'replica-gone', db1: 'spec-changed', stray: 'unknown-container' });
  assert.match(r.out, /batch: started-by-hand: .*state: stopped; stopped again/);
  assert.match(r.out, /stray: .*left alone/);
  const drifted = jobs(sb).filter((j) => j.drift);
  assert.equal(drifted.map((j) => `${j.instance}:${j.drift!.kind}`).sort(), ['batch:started-by-hand', 'db1:spec-changed', 'scratch:container-removed', 'web1:stopped-by-hand', 'web2:replica-gone']);
  assert.match(drover(sb, ['jobs']).out, /drift stopped-by-hand/);
  const again = drover(sb, ['apply', sb.manifests, '--yes']);
  assert.not.match(again.out, /Drift: (?!stray)/, 'corrected drift is gone on the next run');
});

test('drift: a manifest change is not drift', async () => {
  const sb = sandbox();
  assert.is(drover(sb, ['apply', sb.manifests, '--yes']).code, 0);
  const misc = path.join(sb.manifests, 'instances/misc.yaml');
  fs.writeFileSync(misc, fs.readFileSync(misc, 'utf8').replace('state: stopped', 'state: running'));
  const web = path.join(sb.manifests, 'instances/web.yaml');
  fs.writeFileSync(web, fs.readFileSync(web, 'utf8').replace('memory: 1G', 'memory: 768M'));
  const r = drover(sb, ['apply', sb.manifests, '--yes']);
  assert.match(r.out, /StartInstance batch/);
  assert.match(r.out, /RestartInstance web1/, 'memory takes a restart on the sim');
  assert.not.match(r.out, /Drift:/);
});

test('drift seen by watch: reported in the run line and the journal', async () => {
  const sb = sandbox();
  assert.is(drover(sb, ['apply', sb.manifests, '--yes']).code, 0);
  const web1 = placement(sb, 'web1');
  await tamper(sb, (d) => d.stopInstance(web1.primary, 'web1'));
  const w = new WatchProcess(sb, []);
  try {
    const m = await w.waitFor(/Run 1 \(start\)[^\n]*\n/);
    assert.match(m[0], /1 change, 1 drift corrected/);
    assert.match(w.out, /drift: web1: stopped-by-hand/);
    assert.is(await w.stop(), 0);
    assert.is(jobs(sb).find((j) => j.drift)?.trigger, 'watch:start');
  } finally { w.child.kill('SIGKILL'); }
});

function gitRepo(sb: Sandbox): (args: string[]) => string {
  const git = (args: string[]) => execFileSync('git', args, { cwd: sb.dir, encoding: 'utf8' }).trim();
  git(['init', '-q']);
  git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'add', 'manifests']);
  git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'manifests']);
  return git;
}

test('git: apply records the commit and dirty flag in every journal entry', () => {
  const sb = sandbox();
  const git = gitRepo(sb);
  const head = git(['rev-parse', 'HEAD']);
  assert.is(drover(sb, ['apply', sb.manifests, '--yes']).code, 0);
  const first = jobs(sb);
  assert.is(first.length, 5);
  for (const j of first) assert.equal(j.git, { commit: head, dirty: false });
  const web = path.join(sb.manifests, 'instances/web.yaml');
  fs.writeFileSync(web, fs.readFileSync(web, 'utf8').replace('memory: 1G', 'memory: 768M'));
  assert.is(drover(sb, ['apply', sb.manifests, '--yes']).code, 0);
  const last = jobs(sb).at(-1)!;
  assert.equal([last.instance, last.git], ['web1', { commit: head, dirty: true }]);
  assert.match(drover(sb, ['jobs']).out, new RegExp(`${head.slice(0, 7)}\\+dirty`));
});

test('git: plan --out is bound to the commit; apply --plan refuses another one', () => {
  const sb = sandbox();
  const git = gitRepo(sb);
  const saved = path.join(sb.dir, 'plan.json');
  const p = drover(sb, ['plan', sb.manifests, '--out', saved]);
  assert.match(p.out, /commit [0-9a-f]{12}/);
  assert.is((JSON.parse(fs.readFileSync(saved, 'utf8')) as { git: { commit: string } }).git.commit, git(['rev-parse', 'HEAD']));
  fs.writeFileSync(path.join(sb.dir, 'notes.txt'), 'x');
  git(['add', 'notes.txt']);
  git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'unrelated']);
  const r = drover(sb, ['apply', '--plan', saved, '--yes']);
  assert.is(r.code, 1);
  assert.match(r.err, /made at commit [0-9a-f]{12}, but the manifests are at [0-9a-f]{12}/);
  const p2 = path.join(sb.dir, 'plan2.json');
  drover(sb, ['plan', sb.manifests, '--out', p2]);
  assert.is(drover(sb, ['apply', '--plan', p2, '--yes']).code, 0);
});

test('git: plan --format markdown, and its exit codes match the text plan', () => {
  const sb = sandbox();
  const git = gitRepo(sb);
  const r = drover(sb, ['plan', sb.manifests, '--format', 'markdown', '--detailed-exitcode']);
  assert.is(r.code, 2);
  assert.match(r.out, new RegExp(`^### Drover plan at \`${git(['rev-parse', 'HEAD']).slice(0, 12)}\`: 5 operation\\(s\\)`));
  assert.match(r.out, /\| CreateInstance \| `db1` \| on node1, replica on node2 \|  \|  \| new instance \|/);
  assert.match(r.out, /\*\*Plan: 5 to create, 0 to change, 0 to move, 0 to remove\.\*\*/);
  drover(sb, ['apply', sb.manifests, '--yes']);
  const none = drover(sb, ['plan', sb.manifests, '--format', 'markdown', '--detailed-exitcode']);
  assert.is(none.code, 0);
  assert.match(none.out, /no changes/);
  assert.is(drover(sb, ['plan', sb.manifests, '--format', 'yaml']).code, 1);
});

test('flapping: a node back within its grace is not failed over', async () => {
  const sb = sandbox();
  const cluster = path.join(sb.manifests, 'cluster.yaml');
  fs.writeFileSync(cluster, fs.readFileSync(cluster, 'utf8').replace('nodeDownAfter: 1s', 'nodeDownAfter: 4s'));
  const w = new WatchProcess(sb, []);
  try {
    await w.waitFor(/Run 1 \(start\)/);
    const mark = w.length;
    drover(sb, ['sim', 'fail-node', 'node2']);
    await w.waitFor(/Node health changed: down node2/, 10_000, mark);
    await w.waitFor(/Run 2 \(health\)[^\n]*pending/, 5000, mark);
    drover(sb, ['sim', 'restore-node', 'node2']);
    await w.waitFor(/Node health changed: up node2/, 10_000, mark);
    await new Promise((r) => setTimeout(r, 4500)); // past the grace the node would have had
    assert.is(await w.stop(), 0);
    assert.not.ok(jobs(sb).some((j) => j.type === 'FailoverInstance'), 'no failover');
  } finally { w.child.kill('SIGKILL'); }
});

/** db1's pinned secondary would wait for node2 to return (pending): these tests fail node2 for good. */
function unpinDb(sb: Sandbox): void {
  const db = path.join(sb.manifests, 'instances', 'db.yaml');
  fs.writeFileSync(db, fs.readFileSync(db, 'utf8').replace(/\n\s*secondary: node2/, ''));
}

test('failover.maxPerHour is deprecated: accepted with a warning, and one dead node fails over whole in one apply (exit 0)', () => {
  const sb = sandbox();
  const cluster = path.join(sb.manifests, 'cluster.yaml');
  fs.writeFileSync(cluster, fs.readFileSync(cluster, 'utf8').replace('nodeDownAfter: 1s', 'nodeDownAfter: 1s\n    maxPerHour: 1'));
  unpinDb(sb);
  const first = drover(sb, ['apply', sb.manifests, '--yes']);
  assert.is(first.code, 0);
  assert.match(first.err, /cluster\.yaml:\d+:\d+: warning: .*maxPerHour is deprecated and ignored/);
  const onNode2 = ['web1', 'batch', 'db1', 'web2', 'scratch'].filter((n) => placement(sb, n).primary === 'node2' && n !== 'scratch');
  assert.ok(onNode2.length >= 2, `need two replicated primaries on node2, got ${onNode2}`);
  drover(sb, ['sim', 'fail-node', 'node2']);
  const r = drover(sb, ['apply', sb.manifests, '--yes']);
  assert.is(r.code, 0, r.out + r.err);
  assert.is(jobs(sb).filter((j) => j.type === 'FailoverInstance' && j.result === 'succeeded').length, onNode2.length);
});

test('partition guard: 2 of 3 nodes unreachable at once → no failover, apply exits 3, status and watch say why', async () => {
  const sb = sandbox();
  unpinDb(sb);
  assert.is(drover(sb, ['apply', sb.manifests, '--yes']).code, 0);
  drover(sb, ['sim', 'fail-node', 'node2']);
  drover(sb, ['sim', 'fail-node', 'node3']);
  const r = drover(sb, ['apply', sb.manifests, '--yes']);
  assert.is(r.code, 3, r.out + r.err);
  assert.match(r.err, /automatic failover is stopped: 2 of 3 nodes of cluster "lab" are unreachable at once, more than failover\.maxUnreachableShare \(0\.5\)/);
  assert.not.ok(jobs(sb).some((j) => j.type === 'FailoverInstance'), 'no failover');
  const plan = JSON.parse(drover(sb, ['plan', sb.manifests, '--json']).out) as { pending: { cause: { kind: string } }[] };
  assert.ok(plan.pending.length > 0 && plan.pending.some((p) => p.cause.kind === 'partition-guard'));
  const status = JSON.parse(drover(sb, ['status', sb.manifests, '--json']).out) as { guards: { kind: string; cluster: string; unreachable: number; nodes: number }[] };
  assert.equal(status.guards.map((g) => [g.kind, g.cluster, g.unreachable, g.nodes]), [['partition-guard', 'lab', 2, 3]]);
  assert.match(drover(sb, ['status', sb.manifests]).out, /Automatic failover stopped: 2 of 3 nodes/);
  const w = new WatchProcess(sb, ['--json']);
  try {
    const [line] = await w.waitFor(/\{"type":"run"[^\n]*\}/);
    const run = JSON.parse(line) as { pending: number; guards: { cluster: string; reason: string }[] };
    assert.ok(run.pending > 0);
    assert.equal(run.guards.map((g) => g.cluster), ['lab']);
    assert.match(run.guards[0]!.reason, /partition-guard/);
  } finally { await w.stop(); }
  drover(sb, ['sim', 'restore-node', 'node3']); // one node down of three: one event, recovered whole
  const after = drover(sb, ['apply', sb.manifests, '--yes']);
  assert.is(after.code, 0, after.out + after.err);
  assert.ok(jobs(sb).some((j) => j.type === 'FailoverInstance' && j.result === 'succeeded'));
});

test.run();
