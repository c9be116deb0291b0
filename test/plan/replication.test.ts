/**
 * Replicas are synced again every replication.interval (the recovery point's bound), and the
 * planner gets the time from its caller, never from the clock.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { plan } from '../../src/plan/index.ts';
import { describeCause } from '../../src/plan/reasons.ts';
import * as F from '../support/fixtures.ts';

const MIN = 60_000;

function world(syncedAt: number) {
  const d = F.desired(['n1', 'n2'].map((n) => F.node(n)), [F.instance('db')], F.cluster({ replication: { intervalMs: MIN } }));
  return { d, ...F.settled(d, [F.placed('db', 'n1', 'n2', 1, syncedAt)]) };
}

test('a replica younger than replication.interval is left alone', () => {
  const { d, store, observed } = world(1_000_000);
  assert.equal(plan({ desired: d, observed, store, now: 1_000_000 + MIN - 1 }).operations, []);
});

test('an older one is synced again, and the reason says how old', () => {
  const { d, store, observed } = world(1_000_000);
  const p = plan({ desired: d, observed, store, now: 1_000_000 + 5 * MIN });
  assert.equal(p.operations.map((o) => o.type), ['SyncDisks']);
  assert.equal(p.operations[0]!.cause, { kind: 'replica-stale', node: 'n2', age: 5 * MIN, interval: MIN });
  assert.match(describeCause(p.operations[0]!.cause), /replica on n2 is 5m0s old \(replication.interval 1m0s\)/);
});

test('a replica whose secondary is unreachable inside its grace is not synced (it waits)', () => {
  const d = F.desired(['n1', 'n2'].map((n) => F.node(n)), [F.instance('db')], F.cluster({ replication: { intervalMs: MIN } }));
  const { store, observed } = F.settled(d, [F.placed('db', 'n1', 'n2', 1, 0)], { down: ['n2'] });
  assert.equal(plan({ desired: d, observed, store, now: 10 * MIN }).operations.filter((o) => o.type === 'SyncDisks'), []);
});

test('volumes still marked primary on the secondary (a migration whose source died before the demote) are no replica: synced again, which demotes them', () => {
  const { d, store, observed } = world(1_000_000);
  const n2 = F.editable(observed, 'n2');
  n2.volumes.splice(0, n2.volumes.length, ...n2.volumes.map((v) => ({ ...v, role: 'primary' as const })));
  const p = plan({ desired: d, observed, store, now: 1_000_000 + 1 });
  assert.equal(p.operations.map((o) => [o.type, o.cause.kind]), [['SyncDisks', 'replica-missing']]);
});

test.run();
