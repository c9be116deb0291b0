/**
 * apply/ end to end on the sim backend, in process: converge from empty, failover with its recovery
 * point, transient and permanent faults, concurrency limits.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { DriverError } from '../../src/drivers/driver.ts';
import type { ApplyEvent } from '../../src/apply/events.ts';
import { nodesOf, type Operation } from '../../src/model/operations.ts';
import type { Desired } from '../../src/model/desired.ts';
import { finished, load, simCluster } from '../support/apply.ts';
import { ROOT, drover, fixture } from '../support/cli.ts';
import * as F from '../support/fixtures.ts';
import { cleanupTemps } from '../support/tmp.ts';
import { assertConverged, assertNoDoubleRun, readWorld, runningCopies } from '../support/world.ts';

test.after(cleanupTemps);

const names = (c: { desired: { nodes: ReadonlyMap<string, unknown> } }) => [...c.desired.nodes.keys()];

/** The quick-start manifests with replicas never due within a test (theirs come due every minute). */
async function quickStart(): Promise<Desired> {
  const d = await load([path.join(ROOT, 'manifests')]);
  return { ...d, clusters: new Map([...d.clusters].map(([name, c]) => [name, { ...c, replication: { intervalMs: 24 * 3_600_000 } }])) };
}

test('converge the default manifests from empty: every instance as wanted, no duplicates; a second run does nothing', async () => {
  const c = await simCluster(await quickStart());
  const r = await c.converge();
  assert.equal(r.failed, []);
  assert.equal(r.errors, []);
  assert.equal(r.pending, []);
  assert.is(r.succeeded, c.desired.instances.size, 'one create per instance');
  const w = readWorld(c.dir, names(c));
  assertConverged(c.desired, w, c.store.placements);
  assertNoDoubleRun(w);
  const web1 = c.store.placements.get('web1')!, web2 = c.store.placements.get('web2')!;
  assert.is.not(web1.primary, web2.primary, 'antiAffinity honoured');
  assert.equal([c.store.placements.get('db1')!.primary, c.store.placements.get('db1')!.secondary], ['node1', 'node2'], 'pins honoured');
  assert.equal((await c.plan()).operations, [], 'nothing left to do');
  const before = c.events.length;
  const again = await c.converge();
  assert.is(again.succeeded, 0);
  assert.is(finished(c.events.slice(before)).length, 0, 'a second apply runs no operation');
  assert.is(c.store.machines.size, 0, 'no machine left in flight');
  assert.ok([...c.store.jobs.values()].every((j) => j.result === 'succeeded'));
  await c.close();
});

test('failover end to end: after the grace the instance runs on its secondary with the data of the last sync; then it gets a new secondary', async () => {
  const c = await simCluster([fixture('failover')]);
  assert.equal((await c.converge()).failed, []);
  // data version 1 reaches the replica through a sync Drover makes (the replica is recreated) ...
  assert.is(await c.driver.writeData('n1', 'db'), 1);
  for (const v of [...c.driver.world.node('n2').volumes.values()].filter((x) => x.instance === 'db')) await c.driver.world.deleteVolume('n2', `${v.instance}/${v.disk}`);
  assert.equal((await c.plan()).operations.map((o) => `${o.type} ${o.instance}`), ['SyncDisks db']);
  assert.equal((await c.converge()).failed, []);
  assert.is(c.driver.dataVersion('n2', 'db'), 1);
  const lastSync = c.store.placements.get('db')!.lastSync!;
  assert.is(lastSync.node, 'n2');
  // ... and version 2 is written after it: a failover loses it
  assert.is(await c.driver.writeData('n1', 'db'), 2);

  const r0 = await drover(['sim', 'fail-node', 'n1', '--state-dir', c.dir]);
  assert.is(r0.code, 0);
  await new Promise((res) => setTimeout(res, 150)); // flags are re-read at most every 100 ms
  const t0 = Date.now();
  const r = await c.converge();
  assert.equal(r.failed, []);
  assert.ok(Date.now() - t0 >= 900, 'waited for the grace before failing over');
  assert.ok(c.events.some((e) => e.type === 'waiting'), 'reported waiting for the grace');
  const fo = finished(c.events).find((e) => e.op.type === 'FailoverInstance' && e.op.instance === 'db');
  assert.ok(fo, 'db failed over');
  assert.is(fo!.result, 'succeeded');
  assert.is((fo!.op as Extract<Operation, { type: 'FailoverInstance' }>).recoveryPoint, lastSync.at, 'the failover names its recovery point');
  const p = c.store.placements.get('db')!;
  assert.is(p.primary, 'n2');
  assert.is(p.secondary, 'n3', 'a new secondary on the remaining node');
  assert.is(c.driver.dataVersion('n2', 'db'), 1, 'the data of the last sync, not the writes after it');
  assert.is(c.driver.dataVersion('n3', 'db'), 1, 'the new replica is synced from the new primary');
  const w = readWorld(c.dir, names(c));
  assert.equal(w.nodes.n1!.fenced, true, 'the old primary was fenced first');
  assert.equal(runningCopies(w).get('db'), ['n2'], 'runs once, on n2');
  assert.equal(runningCopies(w).get('web'), ['n2'], 'web was not on n1: untouched');
  assert.ok(w.nodes.n1!.containers.every((x) => x.state === 'stopped'), 'everything on the fenced node is stopped');
  assert.ok(r.pending.some((x) => x.instance === 'scratch' && x.cause.kind === 'plain-lost'), `scratch (plain, on n1) is lost: ${JSON.stringify(r.pending)}`);

  // n1 comes back powered off: its stale db copy is removed first, and scratch runs again there
  await drover(['sim', 'restore-node', 'n1', '--state-dir', c.dir]);
  await new Promise((res) => setTimeout(res, 150));
  const planned = await c.plan();
  assert.equal(planned.operations[0], { ...planned.operations[0]!, type: 'RemoveOrphan', instance: 'db', node: 'n1' }, JSON.stringify(planned.operations));
  const back = await c.converge();
  assert.equal(back.failed, []);
  assert.equal(back.pending, []);
  const w2 = readWorld(c.dir, names(c));
  assertConverged(c.desired, w2, c.store.placements);
  assert.is(c.store.placements.get('scratch')!.primary, 'n1');
  assert.is(c.store.nodes.get('n1')?.fencedAt, undefined, 'n1 takes work again once cleaned');
  assert.equal((await c.plan()).operations, []);
  await c.close();
});

test('a transient driver fault (twice) is retried with backoff and the operation succeeds', async () => {
  let left = 2;
  const c = await simCluster([fixture('failover')], {
    faults: (step, node, instance) => {
      if (step === 'createInstance' && instance === 'web' && left > 0) { left--; throw new DriverError(`${node}: injected hiccup`, true, node); }
    },
  });
  const r = await c.converge();
  assert.equal(r.failed, []);
  assert.is(left, 0);
  const retries = c.events.filter((e) => e.type === 'retry' && e.instance === 'web');
  assert.is(retries.length, 2, 'two retries reported');
  assert.ok(retries.every((e) => e.type === 'retry' && e.step === 'createContainer' && e.error.includes('injected hiccup')));
  const jobs = [...c.store.jobs.values()].filter((j) => j.instance === 'web');
  assert.equal(jobs.map((j) => [j.type, j.result]), [['CreateInstance', 'succeeded']]);
  assertConverged(c.desired, readWorld(c.dir, names(c)), c.store.placements);
  await c.close();
});

test('a permanent fault fails the operation with its cause in the journal, and the instance\'s later operations are skipped', async () => {
  const c = await simCluster([fixture('failover')]);
  assert.equal((await c.converge()).failed, []);
  // drain n2: web (primary n2) migrates to n3 and then needs a new secondary; db's replica on n2 is replaced
  c.desired = F.withNodes(c.desired, { ...c.desired.nodes.get('n2')!, drained: true });
  const p = await c.plan();
  assert.equal(p.operations.filter((o) => o.instance === 'web').map((o) => o.type), ['MigrateInstance', 'ReplaceSecondary']);
  const broken = await simCluster(c.desired, {
    dir: c.dir,
    faults: (step, node, instance) => {
      if (step === 'stopInstance' && instance === 'web') throw new DriverError(`${node}: disk controller on fire`, false, node);
    },
  });
  await c.close();
  const r = await broken.converge({ operations: p.operations });
  assert.is(r.failed.length, 1);
  assert.is(r.failed[0]!.op.type, 'MigrateInstance');
  assert.match(r.failed[0]!.error, 'disk controller on fire');
  assert.is(r.skipped, 1, 'the ReplaceSecondary of web is skipped');
  const jobs = [...broken.store.jobs.values()];
  const failedJob = jobs.find((j) => j.instance === 'web' && j.type === 'MigrateInstance')!;
  assert.is(failedJob.result, 'failed');
  assert.match(failedJob.error!, 'disk controller on fire');
  assert.ok(failedJob.end! >= failedJob.start);
  assert.not.ok(jobs.some((j) => j.instance === 'web' && j.type === 'ReplaceSecondary'), 'never started');
  assert.ok(jobs.some((j) => j.instance === 'db' && j.type === 'ReplaceSecondary' && j.result === 'succeeded'), 'other instances go on');
  assert.is(broken.store.machines.size, 0, 'a failed machine is not left to resume');
  // no retries for a permanent error
  assert.not.ok(broken.events.some((e) => e.type === 'retry'));
  // web still runs exactly once, where it was
  const w = readWorld(broken.dir, names(broken));
  assert.equal(runningCopies(w).get('web'), ['n2']);
  assertNoDoubleRun(w);
  await broken.close();
});

test('concurrency limits: never more operations per node or in total than the cluster allows, never two on one instance', async () => {
  const base = await simCluster([fixture('crash')]);
  const desired = base.desired; // perNode 3, total 6
  await base.close();
  const extra = [...Array(14).keys()].map((i) => F.instance(`x${i}`, { cluster: 'crash', memory: 128 * F.MiB, diskTemplate: i % 3 ? 'replicated' : 'plain' }));
  const d = F.withInstances(desired, ...extra);
  const inFlight = new Map<string, number>();
  let maxNodeCalls = 0;
  const c = await simCluster(d, { latencyMs: 5 });
  // count the driver calls in flight per node, around the real driver
  const real = c.driver as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const m of ['createDisks', 'removeDisks', 'promoteDisks', 'createInstance', 'startInstance', 'stopInstance', 'removeInstance']) {
    const f = real[m]!.bind(c.driver);
    real[m] = async (node: unknown, ...rest: unknown[]) => {
      const n = node as string;
      inFlight.set(n, (inFlight.get(n) ?? 0) + 1);
      maxNodeCalls = Math.max(maxNodeCalls, inFlight.get(n)!);
      try { return await f(node, ...rest); } finally { inFlight.set(n, inFlight.get(n)! - 1); }
    };
  }
  const active = new Map<string, number>();
  const perInstance = new Map<string, number>();
  let total = 0, maxTotal = 0, maxPerNode = 0, maxPerInstance = 0;
  const opNodes = new Map<string, string[]>();
  const events = (e: ApplyEvent) => {
    if (e.type === 'operation-started') {
      const nodes = [...new Set(nodesOf(e.op))];
      opNodes.set(e.id, nodes);
      total++;
      maxTotal = Math.max(maxTotal, total);
      for (const n of nodes) { active.set(n, (active.get(n) ?? 0) + 1); maxPerNode = Math.max(maxPerNode, active.get(n)!); }
      perInstance.set(e.op.instance, (perInstance.get(e.op.instance) ?? 0) + 1);
      maxPerInstance = Math.max(maxPerInstance, perInstance.get(e.op.instance)!);
    } else if (e.type === 'operation-finished') {
      total--;
      for (const n of opNodes.get(e.id)!) active.set(n, active.get(n)! - 1);
      perInstance.set(e.op.instance, perInstance.get(e.op.instance)! - 1);
    }
  };
  const r = await c.converge({ events });
  assert.equal(r.failed, []);
  assert.ok(maxTotal <= 6, `total in flight ${maxTotal} > 6`);
  assert.ok(maxPerNode <= 3, `per node in flight ${maxPerNode} > 3`);
  assert.ok(maxNodeCalls <= 3, `driver calls in flight on one node ${maxNodeCalls} > 3`);
  assert.is(maxPerInstance, 1, 'one operation at a time per instance');
  assert.ok(maxTotal >= 2, `operations did run concurrently (max ${maxTotal})`);
  assertConverged(d, readWorld(c.dir, [...d.nodes.keys()]), c.store.placements);
  await c.close();
});

test('a driver error that is not a DriverError fails the operation and names it; it is not retried', async () => {
  const c = await simCluster([fixture('failover')], {
    faults: (step, _node, instance) => { if (step === 'createDisks' && instance === 'web') throw new TypeError('bug in the driver'); },
  });
  const r = await c.converge({ maxRounds: 1 });
  assert.is(r.failed.length, 1);
  assert.match(r.failed[0]!.error, 'bug in the driver');
  assert.not.ok(c.events.some((e) => e.type === 'retry'));
  await c.close();
});

test.run();
