/**
 * The hospital cluster of the seed talk (examples/hospital: 3 nodes of 96G, 33 VMs on DRBD, written
 * as its Ganeti admins would, default failover settings): losing the busiest node is one event, and
 * ONE `apply` brings every VM that ran back on the two other nodes, exit 0.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { drover, droverJson, ROOT } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';

test.after(cleanupTemps);

const HOSPITAL = path.join(ROOT, 'examples/hospital');

interface Status {
  nodes: { name: string; memory: { used: number }; primaries: number }[];
  instances: { name: string; state: string; desiredState: string; primary?: string; secondary?: string; degraded: boolean }[];
  guards: unknown[];
}

test('the busiest node dies: one apply --yes fails all its VMs over to the two others, exit 0, all running', async () => {
  const state = tempDir();
  const at = ['--state-dir', state];
  const first = await drover(['apply', '--yes', HOSPITAL, ...at]);
  assert.is(first.code, 0, first.stdout + first.stderr);
  const before = await droverJson<Status>(['status', '--json', HOSPITAL, ...at]);
  assert.is(before.instances.length, 33);
  const busiest = [...before.nodes].sort((a, b) => b.memory.used - a.memory.used)[0]!;
  const primaries = before.instances.filter((i) => i.primary === busiest.name);
  assert.ok(primaries.length > 10, `more VMs on ${busiest.name} than the old failover.maxPerHour (10) let fail over: ${primaries.length}`);
  const onIt = primaries.filter((i) => i.desiredState === 'running');

  assert.is((await drover(['sim', 'fail-node', busiest.name, ...at])).code, 0);
  const r = await drover(['apply', '--yes', HOSPITAL, ...at]); // waits out the default 30 s grace
  assert.is(r.code, 0, r.stdout + r.stderr);

  const after = await droverJson<Status>(['status', '--json', HOSPITAL, ...at]);
  const others = before.nodes.map((n) => n.name).filter((n) => n !== busiest.name);
  for (const i of after.instances) {
    assert.is(i.state, i.desiredState, `${i.name}: ${i.state}, wanted ${i.desiredState}`);
    assert.ok(i.primary && others.includes(i.primary), `${i.name} runs on ${i.primary}`);
  }
  for (const i of onIt) assert.ok(after.instances.find((x) => x.name === i.name)!.state === 'running', `${i.name} back`);
  assert.equal(after.guards, []);
  const jobs = (await droverJson<{ jobs: { type: string; result: string }[] }>(['jobs', '--json', ...at])).jobs;
  assert.is(jobs.filter((j) => j.type === 'FailoverInstance' && j.result === 'succeeded').length, primaries.length);
});

test.run();
