/** The master's /metrics: what each input turns into, and that the output parses by Prometheus' rules. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ApplyEvent } from '../../src/apply/events.ts';
import type { Operation } from '../../src/model/operations.ts';
import { createMetrics } from '../../src/monitor/metrics.ts';
import { parseExposition, type Family } from './exposition.ts';
import { STATUS } from './fixtures.ts';

const op = (type: Operation['type'], instance: string) => ({ type, instance, from: 'n3', to: 'n2' }) as unknown as Operation;
const finished = (type: Operation['type'], result: 'succeeded' | 'failed'): ApplyEvent =>
  ({ type: 'operation-finished', id: 'j1', op: op(type, 'web1'), result, durationMs: 10 });

const value = (f: Family | undefined, labels: Record<string, string> = {}): number | undefined =>
  f?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

async function scrape(feed: (m: ReturnType<typeof createMetrics>) => void): Promise<Map<string, Family>> {
  const m = createMetrics();
  feed(m);
  return parseExposition(await m.render());
}

test('the status snapshot: node health, instances by state, degraded, recovery point age, N+1', async () => {
  const f = await scrape((m) => { m.observeStatus(STATUS); m.observeN1(STATUS.n1!); });
  assert.is(value(f.get('drover_node_up'), { node: 'n1' }), 1);
  assert.is(value(f.get('drover_node_up'), { node: 'n3' }), 0);
  assert.is(value(f.get('drover_node_up'), { node: 'n4' }), 0);
  assert.is(value(f.get('drover_node_fenced'), { node: 'n4' }), 1);
  assert.is(value(f.get('drover_node_drained'), { node: 'n2' }), 1);
  assert.is(value(f.get('drover_node_drained'), { node: 'n1' }), 0);
  assert.is(value(f.get('drover_node_down_since_timestamp_seconds'), { node: 'n3' }), 1_700_000_000);
  assert.is(f.get('drover_node_down_since_timestamp_seconds')!.samples.length, 1);
  assert.is(value(f.get('drover_instances'), { state: 'running' }), 2);
  assert.is(value(f.get('drover_instances'), { state: 'node-down' }), 1);
  assert.is(value(f.get('drover_instances_degraded')), 2);
  assert.is(value(f.get('drover_instance_degraded'), { instance: 'web2' }), 1);
  assert.is(value(f.get('drover_instance_degraded'), { instance: 'db "main"\\x' }), 1, 'label values escaped and read back');
  assert.is(value(f.get('drover_instance_degraded'), { instance: 'web1' }), undefined, 'in sync: no series');
  assert.is(f.get('drover_instance_degraded')!.samples.length, 2);
  const age = value(f.get('drover_instance_recovery_point_age_seconds'), { instance: 'web2' })!;
  assert.ok(age >= 3600 && age < 3700, String(age));
  assert.is(value(f.get('drover_n1_failing_nodes')), 1);
  assert.is(f.get('drover_node_up')!.type, 'gauge');
  assert.ok(f.get('drover_node_up')!.help!.length > 10);
});

test('a new snapshot replaces the old series: a node gone from the manifests disappears', async () => {
  const f = await scrape((m) => {
    m.observeStatus(STATUS);
    m.observeStatus({ ...STATUS, nodes: STATUS.nodes.slice(0, 1), instances: [] });
  });
  assert.is(f.get('drover_node_up')!.samples.length, 1);
  assert.is(f.get('drover_instances')?.samples.length ?? 0, 0);
  assert.is(value(f.get('drover_instances_degraded')), 0);
});

test('events: operations by type and result, failovers, reconcile runs as a histogram, the lease', async () => {
  const run = (durationMs: number, failed: number) => ({ type: 'run', run: 1, trigger: 'start', changes: 0, failed, pending: 0, guards: [], drift: [], durationMs, parked: false, errors: [] }) as const;
  const f = await scrape((m) => {
    m.observeEvent(finished('FailoverInstance', 'succeeded'));
    m.observeEvent(finished('FailoverInstance', 'failed'));
    m.observeEvent(finished('CreateInstance', 'succeeded'));
    m.observeEvent(finished('CreateInstance', 'succeeded'));
    m.observeEvent({ type: 'round', round: 1, operations: 3 });
    m.observeEvent(run(40, 0));
    m.observeEvent(run(7_000, 0));
    m.observeEvent({ type: 'summary', succeeded: 1, failed: 1, pending: 0, durationMs: 700 });
    m.observeLease('drover watch on m1');
    m.observeLease('drover watch on m2');
  });
  assert.is(value(f.get('drover_operations_total'), { type: 'CreateInstance', result: 'succeeded' }), 2);
  assert.is(value(f.get('drover_operations_total'), { type: 'FailoverInstance', result: 'failed' }), 1);
  assert.is(value(f.get('drover_failovers_total')), 1);
  assert.is(f.get('drover_failovers_total')!.type, 'counter');
  const h = f.get('drover_reconcile_duration_seconds')!;
  assert.is(h.type, 'histogram');
  assert.is(value(h, { le: '0.05' }), 1);
  assert.is(value(h, { le: '1' }), 2);
  assert.is(value(h, { le: '+Inf' }), 3);
  assert.is(h.samples.find((s) => s.name.endsWith('_sum'))!.value, 7.74);
  assert.is(value(f.get('drover_reconcile_runs_total'), { result: 'failed' }), 1);
  assert.is(value(f.get('drover_reconcile_last_run_failed')), 1);
  assert.is(f.get('drover_lease_holder')!.samples.length, 1);
  assert.is(value(f.get('drover_lease_holder'), { holder: 'drover watch on m2' }), 1);
});

test('every metric is drover_-prefixed, documented, and two masters never share a registry', async () => {
  const a = createMetrics();
  const b = createMetrics();
  a.observeEvent(finished('CreateInstance', 'succeeded'));
  const fb = parseExposition(await b.render());
  assert.is(value(fb.get('drover_operations_total'), { type: 'CreateInstance' }), undefined);
  const fa = parseExposition(await a.render());
  assert.match(a.contentType, /^text\/plain; version=0\.0\.4/);
  const docs = (await import('node:fs')).readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
  for (const name of fa.keys()) {
    assert.ok(name.startsWith('drover_'), name);
    assert.ok(docs.includes(`\`${name}\``), `${name} is not in docs/metrics.md`);
  }
});

test('examples/prometheus-alerts.yml: the five alerts the issue names, on metrics that exist', async () => {
  const fs = await import('node:fs');
  const { load: parse } = await import('js-yaml');
  const file = parse(fs.readFileSync(new URL('../../examples/prometheus-alerts.yml', import.meta.url), 'utf8')) as { groups: { rules: { alert: string; expr: string; for: string }[] }[] };
  const rules = file.groups.flatMap((g) => g.rules);
  for (const a of ['DroverNodeDown', 'DroverReplicaDegraded', 'DroverRecoveryPointTooOld', 'DroverNPlusOneBroken', 'DroverReconcileFailing']) assert.ok(rules.some((r) => r.alert === a), a);
  const m = createMetrics();
  m.observeStatus(STATUS);
  const names = new Set(parseExposition(await m.render()).keys());
  for (const r of rules) for (const used of r.expr.match(/drover_[a-z0-9_]+/g) ?? []) assert.ok(names.has(used), `${r.alert}: ${used}`);
});

test('the parser is strict: it rejects what Prometheus would', () => {
  const bad = [
    'drover_x{a="1} 1\n', // unterminated
    'drover_x{a="\\t"} 1\n', // bad escape
    'drover-x 1\n', // bad name
    'drover_x{__a="1"} 1\n', // reserved label
    'drover_x 1\ndrover_x 2\n', // duplicate
    'drover_x one\n',
    'drover_x 1\n# TYPE drover_x gauge\n', // TYPE after samples
    'drover_x 1\ndrover_y 1\ndrover_x{a="b"} 1\n', // interleaved
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', // not cumulative
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', // no +Inf
    'drover_x 1', // no final newline
  ];
  for (const text of bad) assert.throws(() => parseExposition(text), undefined, JSON.stringify(text));
  const good = parseExposition('# HELP h a \\\\ help\\n\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\nx{a="q\\"\\n"} NaN 1700000000\n');
  assert.is(good.get('h')!.help, 'a \\ help\n');
  assert.is(good.get('x')!.samples[0]!.labels.a, 'q"\n');
});

test.run();
