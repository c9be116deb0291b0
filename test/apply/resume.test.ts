/**
 * Machine records carry the version of their operation type's step list. A record of the current
 * version, or one written before versions existed, resumes from its snapshot as always; one of an
 * older list resumes at the step its old step maps to; anything else is parked, with the reason in
 * the journal, and never resumed at a wrong step.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor } from 'xstate';
import { Executor } from '../../src/apply/executor.ts';
import { fencer } from '../../src/apply/fence.ts';
import { buildMachine } from '../../src/apply/machine.ts';
import { resumePoint, type VersionTables } from '../../src/apply/resume.ts';
import { STEPS_VERSION } from '../../src/apply/steps.ts';
import type { StartInstance } from '../../src/model/operations.ts';
import type { MachineRecord } from '../../src/store/types.ts';
import * as F from '../support/fixtures.ts';
import { simCluster, type SimCluster } from '../support/apply.ts';
import { drover } from '../support/cli.ts';
import { cleanupTemps } from '../support/tmp.ts';

/** The snapshot xstate persists for a machine of these steps that is in `step` (its promise in flight). */
async function snapshotAt(steps: readonly string[], step: string): Promise<unknown> {
  const actor = createActor(buildMachine(steps, () => new Promise<void>(() => {}), step), { input: { opId: 'j1' } });
  actor.start();
  await new Promise((r) => setImmediate(r));
  const snap = actor.getPersistedSnapshot();
  actor.stop();
  return JSON.parse(JSON.stringify(snap));
}

const start: StartInstance = { type: 'StartInstance', instance: 'db', primary: 'n1', cause: { kind: 'state-changed', want: 'running' } };

async function record(steps: readonly string[], step: string, stepsVersion?: number): Promise<MachineRecord> {
  return { id: 'j1', op: start, snapshot: await snapshotAt(steps, step), startedAt: 1, ...(stepsVersion !== undefined && { stepsVersion }) };
}

/** StartInstance's list was ['begin', 'check'] at v1 and is ['start', 'verify'] at v2 here. */
const TABLES: VersionTables = {
  versions: { ...STEPS_VERSION, StartInstance: 2 },
  migrations: { StartInstance: [{ from: 1, steps: { begin: 'start', check: 'verify' } }] },
};
const NOW_STEPS = ['start', 'verify'];

test('resumePoint: same version → its snapshot; an older one → the mapped step; an unmapped step or a newer version → parked, saying why', async () => {
  assert.equal(resumePoint(await record(NOW_STEPS, 'start', 2), NOW_STEPS, TABLES), { kind: 'snapshot' });
  assert.equal(resumePoint(await record(['begin', 'check'], 'begin'), NOW_STEPS, TABLES), { kind: 'mapped', step: 'start', from: 1, was: 'begin' });
  const retry = { ...(await record(['begin', 'check'], 'check')), snapshot: { ...(await snapshotAt(['begin', 'check'], 'check') as object), value: 'check_retry' } };
  assert.equal(resumePoint(retry, NOW_STEPS, TABLES), { kind: 'mapped', step: 'verify', from: 1, was: 'check' }, 'a retry state is its step');
  const unknown = resumePoint(await record(['begin', 'launch', 'check'], 'launch'), NOW_STEPS, TABLES);
  assert.is(unknown.kind, 'parked');
  assert.match((unknown as { why: string }).why, 'stopped at step "launch" of StartInstance step list v1');
  const newer = resumePoint(await record(NOW_STEPS, 'start', 3), NOW_STEPS, TABLES);
  assert.match((newer as { why: string }).why, 'by a newer Drover (StartInstance step list v3; this one knows v2)');
  // today's tables: a record without a version is v1, the current version of every list
  assert.equal(resumePoint(await record(NOW_STEPS, 'start'), NOW_STEPS), { kind: 'snapshot' });
});

/** db created stopped on n1; now wanted running, with a StartInstance machine left in flight. */
async function leftInFlight(r: MachineRecord): Promise<SimCluster> {
  const d = F.desired([F.node('n1'), F.node('n2')], [F.instance('db', { state: 'stopped', primary: 'n1', secondary: 'n2' })]);
  const c = await simCluster(d);
  assert.equal((await c.converge()).failed, []);
  c.desired = F.withInstances(c.desired, { ...c.desired.instances.get('db')!, state: 'running' });
  await c.store.putMachine(r);
  await c.store.putJob({ id: r.id, type: 'StartInstance', instance: 'db', reason: 'should be running', start: 1, result: 'running' });
  return c;
}

const executor = (c: SimCluster, versions?: VersionTables) => new Executor({
  driver: c.driver, store: c.store, events: (e) => c.events.push(e), limits: { perNode: 2, total: 2 },
  fence: fencer(c.driver, c.desired), ...(versions && { versions }),
});
const running = (c: SimCluster) => c.driver.world.node('n1').containers.get('db')?.state;

test('every new machine record carries its step list\'s version', async () => {
  const c = await simCluster(F.desired([F.node('n1'), F.node('n2')], [F.instance('db')]));
  const seen: [string, number | undefined][] = [];
  const put = c.store.putMachine.bind(c.store);
  c.store.putMachine = (m) => { if (!c.store.machines.has(m.id)) seen.push([m.op.type, m.stepsVersion]); return put(m); };
  assert.equal((await c.converge()).failed, []);
  assert.equal(seen, [['CreateInstance', STEPS_VERSION.CreateInstance]]);
  await c.close();
});

test('a record without a version (written by the code before versions) resumes from its snapshot as before', async () => {
  const c = await leftInFlight(await record(NOW_STEPS, 'start'));
  const r = await c.converge();
  assert.equal(r.failed, []);
  assert.is(running(c), 'running');
  const job = c.store.jobs.get('j1')!;
  assert.equal([job.result, job.resumed], ['succeeded', 1]);
  assert.is(c.store.machines.size, 0);
  await c.close();
});

test('a record of an older list resumes at the mapped step, and is rewritten at the current version first', async () => {
  const c = await leftInFlight(await record(['begin', 'check'], 'begin'));
  const versions: number[] = [];
  const ex = executor(c, TABLES);
  c.events.length = 0;
  const put = c.store.replaceMachine.bind(c.store);
  c.store.replaceMachine = (m) => { versions.push(m.stepsVersion!); return put(m); };
  const r = await ex.resume([...c.store.machines.values()]);
  assert.equal(r.failed, []);
  assert.equal(versions, [2], 'rewritten once, at v2');
  assert.equal(c.events.filter((e) => e.type === 'step').map((e) => (e as { step: string }).step), ['verify', 'replicate'], 'ran start (not reported: it was the first), then verify and replicate (a no-op for a container)');
  assert.is(running(c), 'running');
  assert.match(c.store.jobs.get('j1')!.note ?? '', 'resumed at start (was begin of step list v1)');
  await c.close();
});

test('a record at a step the current list cannot map is parked: not run, left in the store, the journal and jobs say why', async () => {
  const c = await leftInFlight(await record(['begin', 'launch', 'check'], 'launch'));
  const r = await executor(c, TABLES).resume([...c.store.machines.values()]);
  assert.is(r.failed.length, 1);
  assert.match(r.failed[0]!.error, 'cannot resume StartInstance db (job j1): it stopped at step "launch"');
  assert.is(running(c), 'stopped', 'nothing ran');
  assert.ok(c.store.machines.has('j1'), 'the machine stays, for the Drover that can finish it');
  const job = c.store.jobs.get('j1')!;
  assert.is(job.result, 'parked');
  assert.match(job.error ?? '', 'parked');
  // the planner leaves the instance alone meanwhile
  assert.equal((await c.plan()).operations.filter((o) => o.instance === 'db'), []);
  await c.store.flush();
  const out = await drover(['jobs', '--json', '--state-dir', c.dir]);
  const jobs = (JSON.parse(out.stdout) as { jobs: { id: string; result: string }[] }).jobs;
  assert.is(jobs.find((j) => j.id === 'j1')?.result, 'parked');
  await c.close();
});

test.after(cleanupTemps);
test.run();
