/**
 * drover balance and capacity through the command line: balance stores decisions, the next apply
 * carries them out with the fewest copies, the score drops; rebalance: auto does it unasked.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { drover, droverJson, fixture } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';

test.after(cleanupTemps);

interface BalanceJson { clusters: { initialScore: number; finalScore: number; moves: { instance: string; code: string; dataCopied: number }[] }[] }
interface StatusJson { nodes: { name: string; primaries: number; secondaries: number }[]; instances: { name: string; state: string; primary: string; secondary: string }[] }

/** The unbalanced fixture applied with its pins, then unpinned: everything on node1/node2. */
async function unbalanced(): Promise<{ manifests: string; state: string }> {
  const manifests = path.join(tempDir('drover-bal-'), 'm');
  fs.cpSync(fixture('unbalanced'), manifests, { recursive: true });
  const state = tempDir('drover-bal-state-');
  assert.is((await drover(['apply', '--yes', manifests, '--state-dir', state])).code, 0);
  const file = path.join(manifests, 'instances.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replaceAll(', primary: node1, secondary: node2', ''));
  return { manifests, state };
}

test('balance lowers the score, and the next apply carries the moves out', async () => {
  const { manifests, state } = await unbalanced();
  assert.is((await drover(['plan', '--detailed-exitcode', manifests, '--state-dir', state])).code, 0, 'unpinning alone moves nothing');
  const b = await droverJson<BalanceJson>(['balance', '--json', manifests, '--state-dir', state]);
  const c = b.clusters[0]!;
  assert.ok(c.moves.length > 0 && c.finalScore < c.initialScore, JSON.stringify(c));
  const plan = await drover(['plan', '--detailed-exitcode', manifests, '--state-dir', state]);
  assert.is(plan.code, 2, plan.stdout);
  assert.match(plan.stdout, /rebalance: score/);
  assert.is((await drover(['apply', '--yes', manifests, '--state-dir', state])).code, 0);
  const s = await droverJson<StatusJson>(['status', '--json', manifests, '--state-dir', state]);
  assert.equal(s.nodes.map((n) => n.primaries), [2, 2, 2]);
  assert.ok(s.instances.every((i) => i.state === 'running' && i.primary !== i.secondary));
  const again = await droverJson<BalanceJson>(['balance', '--json', '--dry-run', manifests, '--state-dir', state]);
  assert.is(again.clusters[0]!.moves.length, 0, 'balanced: nothing more to gain');
  assert.ok(Math.abs(again.clusters[0]!.initialScore - c.finalScore) < 1e-6, 'the score balance promised is the score reached');
  assert.is((await drover(['plan', '--detailed-exitcode', manifests, '--state-dir', state])).code, 0, 'decisions reached are forgotten');
});

test('--dry-run stores nothing; --max-moves bounds the moves', async () => {
  const { manifests, state } = await unbalanced();
  const one = await droverJson<BalanceJson>(['balance', '--json', '--dry-run', '--max-moves', '1', manifests, '--state-dir', state]);
  assert.is(one.clusters[0]!.moves.length, 1);
  assert.is((await drover(['plan', '--detailed-exitcode', manifests, '--state-dir', state])).code, 0);
  const bad = await drover(['balance', '--max-moves', 'x', manifests, '--state-dir', state]);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /--max-moves wants a whole number/);
});

test('reconcile.rebalance: auto rebalances during apply', async () => {
  const { manifests, state } = await unbalanced();
  const file = path.join(manifests, 'cluster.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('  backend: sim\n', '  backend: sim\n  reconcile: { rebalance: auto }\n'));
  assert.is((await drover(['apply', '--yes', manifests, '--state-dir', state])).code, 0);
  const s = await droverJson<StatusJson>(['status', '--json', manifests, '--state-dir', state]);
  assert.equal(s.nodes.map((n) => n.primaries), [2, 2, 2]);
});

test('capacity counts what fits and names the limit; a bad spec is a clear error', async () => {
  const { manifests, state } = await unbalanced();
  const r = await droverJson<{ count: number; limitingResource: string }>(['capacity', '--json', '--spec', 'memory=1G,disk=1G,vcpus=1', manifests, '--state-dir', state]);
  assert.ok(r.count > 0 && r.count < 24, String(r.count)); // 24G in all, 6G used, N+1 reserves some
  assert.ok(['memory', 'N+1'].includes(r.limitingResource), r.limitingResource);
  const bad = await drover(['capacity', '--spec', 'memory=lots', manifests, '--state-dir', state]);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /memory="lots" is not a quantity/);
});

test.run();
