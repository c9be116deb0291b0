/**
 * A rolling update carried out by converge(): one group of twelve members on twelve nodes, every member
 * changed. The budget holds at every moment of the run (from its events), and one run finishes it even
 * though it takes more rounds than the usual round limit (a round per wave).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ApplyEvent } from '../../src/apply/events.ts';
import type { Budget, Desired } from '../../src/model/desired.ts';
import { simCluster } from '../support/apply.ts';
import * as F from '../support/fixtures.ts';
import { cleanupTemps } from '../support/tmp.ts';

test.after(cleanupTemps);

const NAMES = Array.from({ length: 12 }, (_, i) => `web${String(i).padStart(2, '0')}`);

function group(memory: number, budget?: Budget): Desired {
  const nodes = Array.from({ length: 12 }, (_, i) => F.node(`n${i}`));
  const members = NAMES.map((name) => F.instance(name, { antiAffinity: ['web'], diskTemplate: 'plain', memory }));
  return F.desired(nodes, members, F.cluster({ ...(budget && { reconcile: { maxUnavailable: budget } }) }));
}

/** The most recreates in flight at once, from the run's events. */
function mostAtOnce(events: readonly ApplyEvent[]): number {
  let open = 0, most = 0;
  for (const e of events) {
    if (e.type === 'operation-started' && e.op.type === 'RecreateInstance') most = Math.max(most, ++open);
    if (e.type === 'operation-finished' && e.op.type === 'RecreateInstance') open--;
  }
  return most;
}

for (const [budget, most] of [[undefined, 1], [{ percent: 25 }, 3]] as const) {
  test(`twelve members changed, maxUnavailable ${budget ? `${budget.percent}%` : 'default'}: at most ${most} down at once, all done in one run`, async () => {
    const c = await simCluster(group(512 * F.MiB, budget));
    assert.equal((await c.converge()).failed, []);
    c.desired = group(768 * F.MiB, budget);
    const from = c.events.length;
    const r = await c.converge();
    assert.equal(r.failed, []);
    assert.equal(r.pending, [], 'nothing left waiting for a wave');
    const run = c.events.slice(from);
    assert.is(run.filter((e) => e.type === 'operation-finished' && e.result === 'succeeded').length, 12);
    assert.is(mostAtOnce(run), most);
    assert.equal((await c.plan()).operations, []);
    await c.close();
  });
}

test.run();
