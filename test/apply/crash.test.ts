/**
 * THE kill -9 test. `drover apply` runs as a child process on a cluster of 3 nodes, 8 replicated and
 * 2 plain instances, and is killed with SIGKILL at its Nth durable batch (the store's failpoint,
 * DROVER_FAILPOINT_KILL_AT, counts the batches of both the store and the sim world; with
 * DROVER_FAILPOINT_TORN=1 the batch is half written). After each kill the world must never show two
 * running copies; a second apply then resumes and must reach the same end state as an uninterrupted
 * run, with every operation accounted for in the journal. Then the same during a failover.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { load } from '../support/apply.ts';
import { drover, droverJson, fixture, runDrover } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';
import { assertConverged, assertNoDoubleRun, readStore, readWorld, runningCopies } from '../support/world.ts';
import type { Desired } from '../../src/model/desired.ts';
import type { JobRecord } from '../../src/store/types.ts';

const FIX = fixture('crash');
const NODES = ['n1', 'n2', 'n3'];
const test = suite<{ desired?: Desired }>('kill -9', {});
test.before(async (ctx) => { ctx.desired = await load([FIX]); });
test.after(cleanupTemps);

/** The child: fsync off (a kill -9 needs only write(); the failpoint decides where it dies). */
const killedApply = (dir: string, at: number, torn: boolean) =>
  runDrover(['apply', '--yes', FIX, '--state-dir', dir], { DROVER_FSYNC: '0', DROVER_FAILPOINT_KILL_AT: String(at), ...(torn && { DROVER_FAILPOINT_TORN: '1' }) });

/** Checks on a world a killed master left: whatever was in flight, never two running copies, placements on real nodes. */
function afterKill(dir: string, desired: Desired, what: string): void {
  assertNoDoubleRun(readWorld(dir, NODES), `${what}: `);
  for (const p of readStore(dir).placements.values()) {
    assert.ok(desired.nodes.has(p.primary), `${what}: ${p.instance} placed on unknown ${p.primary}`);
    if (p.secondary) assert.is.not(p.secondary, p.primary, `${what}: ${p.instance} secondary = primary`);
  }
}

async function jobsOf(dir: string): Promise<JobRecord[]> {
  return (await droverJson<{ jobs: JobRecord[] }>(['jobs', '--json', '--state-dir', dir])).jobs;
}

function assertJournal(jobs: readonly JobRecord[], desired: Desired, what: string): void {
  const running = jobs.filter((j) => j.result === 'running');
  assert.equal(running.map((j) => `${j.type} ${j.instance} ${j.id}`), [], `${what}: jobs left running after the final apply`);
  assert.equal(jobs.filter((j) => j.result === 'failed').map((j) => `${j.type} ${j.instance}: ${j.error}`), [], `${what}: failed jobs`);
  for (const i of desired.instances.keys()) {
    const creates = jobs.filter((j) => j.instance === i && j.type === 'CreateInstance');
    assert.ok(creates.length >= 1, `${what}: no CreateInstance job for ${i}`);
  }
  for (const j of jobs) assert.ok(j.end !== undefined && j.end >= j.start, `${what}: job ${j.id} without an end`);
}

test('an uninterrupted run: the reference end state', async (ctx) => {
  const dir = tempDir();
  const r = await runDrover(['apply', '--yes', FIX, '--state-dir', dir], { DROVER_FSYNC: '0' });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const w = readWorld(dir, NODES);
  assertConverged(ctx.desired!, w, readStore(dir).placements);
  assertJournal(await jobsOf(dir), ctx.desired!, 'uninterrupted');
});

// Batch counts of an uninterrupted run vary with timing (group commit), about 80 here: points spread over it.
const POINTS = [1, 2, 3, 5, 7, 10, 13, 17, 21, 25, 30, 36, 42, 49, 56, 64, 72, 80];

test(`killed at ${POINTS.length} points (some mid-write), resumed: same end state, nothing lost, journal complete`, async (ctx) => {
  const desired = ctx.desired!;
  let killed = 0;
  for (const [k, at] of POINTS.entries()) {
    const torn = k % 3 === 1;
    const what = `kill at batch ${at}${torn ? ' (torn)' : ''}`;
    const dir = tempDir();
    const first = await killedApply(dir, at, torn);
    if (first.signal === 'SIGKILL') killed++;
    else assert.is(first.code, 0, `${what}: the run ended without its kill: ${first.stderr}`);
    afterKill(dir, desired, what);

    const second = await drover(['apply', '--yes', FIX, '--state-dir', dir]);
    assert.is(second.code, 0, `${what}: resumed apply: ${second.stdout}${second.stderr}`);
    const w = readWorld(dir, NODES);
    const store = readStore(dir);
    assertNoDoubleRun(w, `${what}: `);
    assertConverged(desired, w, store.placements, `${what}: `);
    assert.is(store.machines, 0, `${what}: machines left in flight`);
    assertJournal(await jobsOf(dir), desired, what);
    const again = await drover(['plan', FIX, '--detailed-exitcode', '--state-dir', dir]);
    assert.is(again.code, 0, `${what}: a plan after the resumed apply still has work:\n${again.stdout}`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(killed >= POINTS.length - 3, `most runs were really killed (${killed}/${POINTS.length})`);
});

test('killed during a failover (node down, grace passed), resumed: each instance runs exactly once, on its former secondary', async (ctx) => {
  const desired = ctx.desired!;
  const base = tempDir();
  assert.is((await drover(['apply', '--yes', FIX, '--state-dir', base])).code, 0);
  assert.is((await drover(['sim', 'fail-node', 'n3', '--state-dir', base])).code, 0);
  const before = readStore(base).placements;
  const onN3 = [...before.values()].filter((p) => p.primary === 'n3');
  assert.ok(onN3.some((p) => p.secondary), 'the fixture puts a replicated instance on n3');
  let killed = 0;
  for (const at of [2, 7, 14, 24, 38]) {
    const what = `failover, kill at batch ${at}`;
    const dir = tempDir();
    fs.cpSync(base, dir, { recursive: true });
    const first = await killedApply(dir, at, at % 4 === 2);
    if (first.signal === 'SIGKILL') killed++;
    afterKill(dir, desired, what);

    const second = await drover(['apply', '--yes', FIX, '--state-dir', dir]);
    const w = readWorld(dir, NODES);
    const store = readStore(dir);
    assertNoDoubleRun(w, `${what}: `);
    assert.ok(w.nodes.n3!.fenced, `${what}: n3 fenced`);
    for (const p of onN3) {
      const now = store.placements.get(p.instance)!;
      if (!p.secondary) {
        assert.is(now.primary, 'n3', `${what}: plain ${p.instance} stays placed on n3`);
        assert.ok(second.stderr.includes(`${p.instance}:`) && /lost/.test(second.stderr), `${what}: ${p.instance} reported lost`);
        continue;
      }
      assert.is(now.primary, p.secondary, `${what}: ${p.instance} failed over to its secondary`);
      const live = (runningCopies(w).get(p.instance) ?? []).filter((n) => !w.nodes[n]!.fenced);
      assert.equal(live, [p.secondary], `${what}: ${p.instance} runs exactly once, on ${p.secondary}`);
    }
    for (const p of store.placements.values()) {
      if (p.primary === 'n3') continue;
      if (desired.instances.get(p.instance)!.diskTemplate === 'replicated') {
        assert.ok(p.secondary && p.secondary !== 'n3' && p.secondary !== p.primary, `${what}: ${p.instance} has a new secondary (${p.secondary})`);
        assert.ok(w.nodes[p.secondary!]!.volumes.some((v) => v.instance === p.instance && v.role === 'replica'), `${what}: ${p.instance} replica on ${p.secondary}`);
      }
      const wanted = desired.instances.get(p.instance)!.state;
      const live = (runningCopies(w).get(p.instance) ?? []).filter((n) => !w.nodes[n]!.fenced);
      assert.equal(live, wanted === 'running' ? [p.primary] : [], `${what}: ${p.instance} running where placed`);
    }
    assert.is(store.machines, 0, `${what}: machines left in flight`);
    const jobs = await jobsOf(dir);
    assert.equal(jobs.filter((j) => j.result === 'running').map((j) => `${j.type} ${j.instance}`), [], `${what}: jobs left running`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(killed >= 4, `most failover runs were really killed (${killed}/5)`);
});

test.run();
