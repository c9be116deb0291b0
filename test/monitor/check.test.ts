/** drover check: the decision over a snapshot (each code, each boundary), and the plugin as Nagios runs it. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CHECK, decideCheck, DEFAULT_THRESHOLDS, unknownCheck } from '../../src/monitor/check.ts';
import type { MonitorStatus } from '../../src/monitor/snapshot.ts';
import { drover, sandbox } from '../support/watch.ts';
import { STATUS } from './fixtures.ts';

const NOW = 1_800_000_000_000;
const T = { warnRpoMs: 15 * 60_000, critRpoMs: 60 * 60_000 };
const healthy: MonitorStatus = {
  ...STATUS,
  nodes: STATUS.nodes.slice(0, 2).map((n) => ({ ...n, health: 'up' as const })),
  instances: STATUS.instances.map((i) => ({ ...i, state: i.desiredState, degraded: false, recoveryPoint: NOW - 60_000 })),
  n1: { failingNodes: [], messages: [] },
};
const withAge = (ms: number): MonitorStatus => ({ ...healthy, instances: healthy.instances.map((i, k) => ({ ...i, recoveryPoint: NOW - (k === 0 ? ms : 1000) })) });
/** Nagios perfdata: 'label'=value[UOM];warn;crit;min;max, space-separated. */
const PERF = /^'[a-z0-9_]+'=-?\d+(\.\d+)?(s|ms|%|B|KB|MB|c)?;[^; ]*;[^; ]*;[^; ]*;[^; ]*$/;

function perfOf(line: string): string[] {
  const [, perf] = line.split(' | ');
  return perf!.split(' ');
}

test('OK: every node up, replicas in sync, N+1 holds; the line and its perfdata are Nagios\'s', () => {
  const r = decideCheck(healthy, T, NOW);
  assert.is(r.code, CHECK.ok);
  assert.match(r.line, /^DROVER OK - 2 nodes up, 4 instances, replicas in sync, N\+1 holds \| /);
  assert.not.match(r.line, /\n/);
  for (const p of perfOf(r.line)) assert.match(p, PERF);
  assert.ok(perfOf(r.line).includes("'recovery_point_age'=60s;900;3600;0;"), r.line);
});

test('CRITICAL: a node down (a declared-offline node is not), and it names the worst first', () => {
  const down: MonitorStatus = { ...healthy, nodes: [healthy.nodes[0]!, { ...healthy.nodes[1]!, health: 'unreachable' }], instances: healthy.instances.map((i) => ({ ...i, degraded: i.name === 'web1' })) };
  const r = decideCheck(down, T, NOW);
  assert.is(r.code, CHECK.critical);
  assert.match(r.line, /^DROVER CRITICAL - 1 of 2 nodes down \(n2\); 1 degraded replica \(web1\) \| 'nodes_down'=1;;0;0;2/);
  const offline: MonitorStatus = { ...healthy, nodes: [healthy.nodes[0]!, { ...healthy.nodes[1]!, health: 'unreachable', flags: ['offline'] }] };
  assert.is(decideCheck(offline, T, NOW).code, CHECK.ok);
  const fenced: MonitorStatus = { ...healthy, nodes: [healthy.nodes[0]!, { ...healthy.nodes[1]!, health: 'fenced' }] };
  assert.is(decideCheck(fenced, T, NOW).code, CHECK.critical);
});

test('recovery point age: OK at the warning threshold, WARNING above it, CRITICAL above the critical one', () => {
  assert.is(decideCheck(withAge(T.warnRpoMs), T, NOW).code, CHECK.ok);
  const w = decideCheck(withAge(T.warnRpoMs + 1), T, NOW);
  assert.is(w.code, CHECK.warning);
  assert.match(w.line, /^DROVER WARNING - recovery point 15m0s old \(web1\)/);
  assert.is(decideCheck(withAge(T.critRpoMs), T, NOW).code, CHECK.warning);
  assert.is(decideCheck(withAge(T.critRpoMs + 1), T, NOW).code, CHECK.critical);
  assert.ok(perfOf(decideCheck(withAge(T.critRpoMs + 1), T, NOW).line).includes("'recovery_point_age'=3600s;900;3600;0;"));
});

test('WARNING: a degraded replica, N+1 broken, an instance not as declared; more than three names are counted', () => {
  const degraded: MonitorStatus = { ...healthy, instances: healthy.instances.map((i) => ({ ...i, degraded: true })) };
  assert.is(decideCheck(degraded, T, NOW).code, CHECK.warning);
  assert.match(decideCheck(degraded, T, NOW).line, /4 degraded replicas \(web1, web2, db "main"\\x and 1 more\)/);
  const n1: MonitorStatus = { ...healthy, n1: { failingNodes: ['n2'], messages: [] } };
  assert.match(decideCheck(n1, T, NOW).line, /^DROVER WARNING - N\+1 fails on n2 \| .*'n1_failing_nodes'=1;0;;0;2/);
  const stopped: MonitorStatus = { ...healthy, instances: healthy.instances.map((i) => (i.name === 'web2' ? { ...i, state: 'missing' } : i)) };
  assert.match(decideCheck(stopped, T, NOW).line, /^DROVER WARNING - 1 instance is not as declared \(web2 missing\)/);
});

test('UNKNOWN: one line, no pipe (a | would start perfdata), first line of the reason only', () => {
  const r = unknownCheck('store | broken\nat Object.<anonymous>');
  assert.is(r.code, CHECK.unknown);
  assert.is(r.line, 'DROVER UNKNOWN - store / broken');
  assert.equal(DEFAULT_THRESHOLDS, T);
});

test('the plugin on the sim: OK, WARNING, CRITICAL and UNKNOWN exit codes, one line each, no stack', () => {
  const sb = sandbox();
  const run = (...args: string[]) => drover(sb, ['check', sb.manifests, ...args]);
  assert.is(drover(sb, ['apply', sb.manifests]).code, 0);
  const ok = run();
  assert.is(ok.code, 0, ok.out + ok.err);
  assert.match(ok.out, /^DROVER OK - 3 nodes up, 5 instances[^\n]*\| [^\n]*\n$/);
  const warn = run('--warn-rpo', '0s', '--crit-rpo', '1h'); // the replica synced moments ago: older than 0s
  assert.is(warn.code, 1, warn.out);
  assert.match(warn.out, /^DROVER WARNING - recovery point \S+ old/);
  assert.is(drover(sb, ['sim', 'fail-node', 'node2']).code, 0);
  const crit = run();
  assert.is(crit.code, 2, crit.out);
  assert.match(crit.out, /^DROVER CRITICAL - 1 of 3 nodes down \(node2\)/);
  const file = path.join(sb.dir, 'not-a-dir');
  fs.writeFileSync(file, 'x');
  const unknown = run('--state-dir', file);
  assert.is(unknown.code, 3, unknown.out + unknown.err);
  assert.match(unknown.out, /^DROVER UNKNOWN - [^\n]*unreadable state file[^\n]*\n$/);
  assert.not.match(unknown.out + unknown.err, /\n\s+at /, 'no stack trace');
  const bad = run('--warn-rpo', '2h');
  assert.is(bad.code, 3);
  assert.match(bad.out, /^DROVER UNKNOWN - --warn-rpo is longer than --crit-rpo\n$/);
  assert.is(run('--bogus').code, 3);
});

test.run();
