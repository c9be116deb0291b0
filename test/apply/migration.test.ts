/**
 * Live or cold: the plan says in advance which path a migration will take (from the backend's
 * capabilities, the instance and the nodes' checkpoint support), and the journal records the path
 * it took as typed data, kept across a master's restart.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { converge } from '../../src/apply/converge.ts';
import { planJson, renderPlanText } from '../../src/cli/render/plan.ts';
import type { LiveMigrateResult } from '../../src/drivers/driver.ts';
import { SIM_VM_MIGRATION_DOWNTIME_MS, SimDriver } from '../../src/drivers/sim/index.ts';
import type { Desired } from '../../src/model/desired.ts';
import type { Observed } from '../../src/model/observed.ts';
import type { InstanceSpec, MigrateInstance, MigrationForecast } from '../../src/model/operations.ts';
import { plan } from '../../src/plan/index.ts';
import { stepsOf } from '../../src/apply/steps.ts';
import { toSpec } from '../../src/plan/spec.ts';
import * as F from '../support/fixtures.ts';
import { finished, simCluster } from '../support/apply.ts';
import { cleanupTemps } from '../support/tmp.ts';
import { drover } from '../support/cli.ts';

const NOW = 1_000_000;
const three = () => [F.node('n1'), F.node('n2'), F.node('n3')];

/** db on n1 (replica n2), pinned to n2 now: a migration n1 → n2. */
function migration(backend: 'sim' | 'docker', over: Parameters<typeof F.instance>[1] = {}, checkpoint: Record<string, boolean> = {}): MigrateInstance {
  const base = F.desired(three(), [F.instance('db', over)], F.cluster({ backend }));
  const { store, observed } = F.settled(base, [F.placed('db', 'n1', 'n2')]);
  const d = F.withInstances(base, F.instance('db', { ...over, primary: 'n2' }));
  const withCheckpoint: Observed = { ...observed, nodes: new Map([...observed.nodes].map(([k, n]) => [k, k in checkpoint ? { ...n, canCheckpoint: checkpoint[k]! } : n])) };
  const p = plan({ desired: d, observed: withCheckpoint, store, now: NOW });
  const m = p.operations.find((o): o is MigrateInstance => o.type === 'MigrateInstance');
  assert.ok(m, `a migration: ${JSON.stringify(p.operations)}`);
  return m!;
}

test('the plan forecasts live or cold from capabilities, the instance and both nodes, never from a name alone', () => {
  const cases: [string, MigrationForecast, MigrationForecast][] = [
    ['sim: no live migration', migration('sim').expected!, { path: 'cold', cause: 'backend' }],
    ['sim VM: live', migration('sim', { hypervisor: 'kvm' }).expected!, { path: 'live' }],
    ['stopped', migration('docker', { state: 'stopped' }, { n1: true, n2: true }).expected!, { path: 'cold', cause: 'stopped' }],
    ['ports', migration('docker', { ports: [{ container: 80, protocol: 'tcp' }] }, { n1: true, n2: true }).expected!, { path: 'cold', cause: 'ports' }],
    ['n2 cannot checkpoint', migration('docker', {}, { n1: true, n2: false }).expected!, { path: 'cold', cause: 'no-checkpoint', node: 'n2' }],
    ['both can', migration('docker', {}, { n1: true, n2: true }).expected!, { path: 'live' }],
    ['n1 not probed yet', migration('docker', {}, { n2: true }).expected!, { path: 'live', unprobed: ['n1'] }],
  ];
  for (const [what, got, want] of cases) assert.equal(got, want, what);
});

test('the forecast is rendered in the plan\'s text, markdown and JSON', () => {
  const m = migration('docker', { ports: [{ container: 80, protocol: 'tcp' }] }, { n1: true, n2: true });
  const p = { operations: [m], deferred: [], waves: {}, warnings: [], errors: [], pending: [] };
  assert.match(renderPlanText(p, NOW), 'n1 → n2 (roles swap; cold: it publishes ports)');
  const json = planJson(p) as { operations: { expected?: MigrationForecast }[] };
  assert.equal(json.operations[0]!.expected, { path: 'cold', cause: 'ports' });
  const live = migration('docker', {}, { n2: true });
  assert.match(renderPlanText({ ...p, operations: [live] }, NOW), '(roles swap; live if n1 can checkpoint (not probed yet))');
});

/** A sim driver that migrates live (or answers cold), to see what the journal records. */
class LiveSim extends SimDriver {
  answer: 'live' | 'cold' = 'live';
  async liveMigrate(from: string, to: string, spec: InstanceSpec, generation: number): Promise<LiveMigrateResult> {
    if (this.answer === 'cold') return { kind: 'cold', cause: 'fell-back', why: 'no CRIU on the target' };
    await this.stopInstance(from, spec.name);
    await this.syncDisks(from, to, spec.name);
    await this.createInstance(to, spec, generation);
    await this.startInstance(to, spec.name);
    await this.removeInstance(from, spec.name);
    return { kind: 'live', downtimeMs: 42 };
  }
}

/** Create db on n1 (replica n2), then pin it to n2 and converge with `driverOf`'s driver. */
async function migrated(d: Desired, driverOf: (dir: string) => SimDriver | undefined = () => undefined) {
  const c = await simCluster(d);
  assert.equal((await c.converge()).failed, []);
  c.desired = F.withInstances(c.desired, { ...c.desired.instances.get('db')!, primary: 'n2', secondary: 'n1' });
  const driver = driverOf(c.dir) ?? c.driver;
  const r = await converge({ desired: c.desired, driver, store: c.store, events: (e) => c.events.push(e) });
  assert.equal(r.failed, []);
  const fin = finished(c.events).find((e) => e.op.type === 'MigrateInstance')!;
  assert.ok(fin, 'migrated');
  return { c, fin, job: c.store.jobs.get(fin.id)! };
}

const pinned = () => F.desired(three(), [F.instance('db', { primary: 'n1', secondary: 'n2' })]);

test('the journal records the path taken: cold on a backend without live migration', async () => {
  const { c, fin, job } = await migrated(pinned());
  assert.equal(job.migration, { path: 'cold', cause: 'backend' });
  assert.equal(fin.migration, job.migration, 'and the finished event carries it');
  const out = await drover(['jobs', '--json', '--state-dir', c.dir]);
  const jobs = (JSON.parse(out.stdout) as { jobs: { type: string; migration?: unknown }[] }).jobs;
  assert.equal(jobs.find((j) => j.type === 'MigrateInstance')?.migration, { path: 'cold', cause: 'backend' });
  await c.close();
});

// the sim's VMs migrate live (capability vm.liveMigration); its containers do not, whatever the driver has
const pinnedVm = () => F.desired(three(), [F.instance('db', { primary: 'n1', secondary: 'n2', hypervisor: 'kvm' })]);

test('the journal records the path taken: live with its downtime, or cold with the driver\'s why', async () => {
  for (const answer of ['live', 'cold'] as const) {
    const { c, job } = await migrated(pinnedVm(), (dir) => Object.assign(new LiveSim({ stateDir: dir, nodes: three(), fsync: false }), { answer }));
    assert.equal(job.migration, answer === 'live' ? { path: 'live', downtimeMs: 42 } : { path: 'cold', cause: 'fell-back', why: 'no CRIU on the target' });
    assert.is(c.store.placements.get('db')!.primary, 'n2');
    await c.close();
  }
});

test('a sim container never goes live, even through a driver that could: the capability table decides', async () => {
  const { c, job } = await migrated(pinned(), (dir) => new LiveSim({ stateDir: dir, nodes: three(), fsync: false }));
  assert.equal(job.migration, { path: 'cold', cause: 'backend' });
  await c.close();
});

test('a sim VM moves live with the modelled pause in the journal; the guest goes on (no boot)', async () => {
  const { c, job } = await migrated(pinnedVm(), (dir) => new SimDriver({ stateDir: dir, nodes: three(), fsync: false, latencyMs: 1 }));
  assert.equal(job.migration, { path: 'live', downtimeMs: SIM_VM_MIGRATION_DOWNTIME_MS });
  assert.match(job.note ?? '', `live, downtime ${SIM_VM_MIGRATION_DOWNTIME_MS} ms`);
  assert.is(c.store.placements.get('db')!.primary, 'n2');
  assert.equal(c.store.placements.get('db')!.secondary, 'n1', 'roles swapped');
  await c.close();
});

test.after(cleanupTemps);

test('a migration resumed after its live step never copies the stale source over the target, even if the target stopped since', async () => {
  const c = await simCluster(F.desired(three(), [F.instance('db')], F.cluster()));
  assert.equal((await c.converge()).failed, []);
  const placed = c.store.placements.get('db')!;
  const [from, to] = [placed.primary, placed.secondary!];
  const op: MigrateInstance = { type: 'MigrateInstance', instance: 'db', from, to, start: true, generation: placed.generation + 1, spec: toSpec(c.desired.instances.get('db')!), cause: { kind: 'balance', note: 'test' } };
  // what a successful live step leaves: db recorded on `to`, its copy there newer than the one on `from`
  await c.store.putPlacement({ ...placed, primary: to, secondary: from });
  const synced: string[] = [];
  const driver = Object.assign(Object.create(c.driver) as SimDriver, {
    syncDisks: async (a: string, b: string) => { synced.push(`${a}→${b}`); return 0; },
  });
  const ctx = { op, driver, store: c.store, now: () => NOW, fence: async () => ({ fenced: false, detail: '' }), progress: () => {}, note: () => {}, migrated: async () => {} };
  for (const [, step] of stepsOf(op).filter(([n]) => n === 'preSync' || n === 'finalSync')) await step(ctx);
  assert.equal(synced, [], 'no sync from the old source once the target is the recorded primary');
});

test.run();
