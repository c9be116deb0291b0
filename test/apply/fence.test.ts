/**
 * Fencing is cluster policy run by apply/ (src/apply/fence.ts): the fence command itself, and which
 * command and power switch fence a node — its own cluster's.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fenceNode, fencer, runFenceCommand } from '../../src/apply/fence.ts';
import { SimDriver } from '../../src/drivers/sim/index.ts';
import type { Desired, DesiredCluster } from '../../src/model/desired.ts';
import * as F from '../support/fixtures.ts';
import { finished, simCluster } from '../support/apply.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';

const sh = (script: string, name = 'fence'): string[] => ['sh', '-c', script, name];

test('fence command: exit 0 → fenced, with node and endpoint appended and in the environment', async () => {
  const r = await runFenceCommand(sh('[ "$1" = n1 ] && [ "$2" = tcp://127.0.0.99:2375 ] && [ "$DROVER_NODE" = n1 ] && [ "$DROVER_ENDPOINT" = "$2" ] && echo off'), 'n1', 'tcp://127.0.0.99:2375', 2000);
  assert.equal(r, { fenced: true, detail: 'off' });
});

test('fence command: a failure, a timeout, a missing program and an empty command are not fenced, and say why', async () => {
  const failed = await runFenceCommand(sh('echo no power; exit 3'), 'n1', '', 2000);
  assert.equal(failed, { fenced: false, detail: 'fence command exited 3: no power' });
  const hung = await runFenceCommand(sh('sleep 30'), 'n1', '', 300);
  assert.equal(hung, { fenced: false, detail: 'fence command timed out after 300 ms' });
  const missing = await runFenceCommand(['/nonexistent/fence'], 'n1', '', 2000);
  assert.is(missing.fenced, false);
  assert.match(missing.detail, 'could not run');
  assert.equal(await runFenceCommand([], 'n1', '', 2000), { fenced: false, detail: 'empty fence command' });
});

/** Two sim clusters, each with its own fence command appending "CLUSTER NODE" to one log. */
function twoClusters(log: string, over: Partial<DesiredCluster['failover']> = {}): Desired {
  const cluster = (name: string): DesiredCluster =>
    F.cluster({ name, failover: { nodeDownAfterMs: 0, fenceCommand: sh(`echo "$0 $1" >> ${log}`, name), ...over } });
  const clusters = [cluster('east'), cluster('west')];
  const nodes = ['e1', 'e2', 'e3', 'w1', 'w2', 'w3'].map((n) => F.node(n, { cluster: n.startsWith('e') ? 'east' : 'west' }));
  const instances = [
    F.instance('app-e', { cluster: 'east', primary: 'e1', secondary: 'e2' }),
    F.instance('app-w', { cluster: 'west', primary: 'w1', secondary: 'w2' }),
  ];
  return {
    clusters: new Map(clusters.map((c) => [c.name, c])),
    nodes: new Map(nodes.map((n) => [n.name, n])),
    instances: new Map(instances.map((i) => [i.name, i])),
  };
}

const lines = (file: string): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').sort() : []);

test('each node is fenced by its own cluster\'s command, and by the sim\'s power switch too', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'fence.log');
  const desired = twoClusters(log);
  const driver = new SimDriver({ stateDir: dir, nodes: [...desired.nodes.values()], fsync: false });
  const fence = fencer(driver, desired);
  assert.is((await fence('e3')).fenced, true);
  assert.is((await fence('w3')).fenced, true);
  assert.equal(lines(log), ['east e3', 'west w3']);
  assert.equal(driver.world.flagsOf('e3'), { failed: false, fenced: true }, 'powered off as well');
  // concurrent failovers off one node share its fence: the command runs once
  await Promise.all([fence('e2'), fence('e2'), fence('e2')]);
  assert.equal(lines(log), ['east e2', 'east e3', 'west w3']);
  await driver.close();
});

test('a failed command fences nothing (no power switch either); no command on sim: the power switch alone; a node in no manifest: not fenced', async () => {
  const dir = tempDir();
  const failing = twoClusters(path.join(dir, 'log'), { fenceCommand: sh('exit 1') });
  const driver = new SimDriver({ stateDir: dir, nodes: [...failing.nodes.values()], fsync: false });
  const r = await fenceNode(driver, failing, 'e3');
  assert.equal(r, { fenced: false, detail: 'fence command exited 1' });
  assert.equal(driver.world.flagsOf('e3'), { failed: false, fenced: false }, 'not powered off after a failed command');
  const plain = twoClusters(path.join(dir, 'log'), { fenceCommand: undefined });
  assert.equal(await fenceNode(driver, plain, 'e3'), { fenced: true, detail: '' });
  assert.equal(driver.world.flagsOf('e3'), { failed: false, fenced: true });
  const gone = await fenceNode(driver, plain, 'x9');
  assert.is(gone.fenced, false);
  assert.match(gone.detail, 'in no manifest');
  await driver.close();
});

test('failover in two clusters at once: each dead primary is fenced with its own cluster\'s command before its instance moves', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'fence.log');
  const c = await simCluster(twoClusters(log), { dir });
  assert.equal((await c.converge()).failed, []);
  for (const n of ['e1', 'w1']) c.driver.world.setFlags(n, { failed: true, fenced: false });
  // unpinned now, so that the instances may leave their dead primaries
  c.desired = { ...c.desired, instances: new Map([...c.desired.instances].map(([k, { primary: _p, secondary: _s, ...i }]) => [k, i])) };
  const r = await c.converge();
  assert.equal(r.failed, []);
  const failovers = finished(c.events).filter((e) => e.op.type === 'FailoverInstance').map((e) => `${e.op.instance} ${e.result}`).sort();
  assert.equal(failovers, ['app-e succeeded', 'app-w succeeded']);
  assert.equal(lines(log), ['east e1', 'west w1']);
  assert.is(c.store.placements.get('app-e')!.primary, 'e2');
  assert.is(c.store.placements.get('app-w')!.primary, 'w2');
  await c.close();
});

test.after(cleanupTemps);
test.run();
