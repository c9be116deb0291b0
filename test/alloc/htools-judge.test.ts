/**
 * Judged by the real tools (installs ganeti-htools-3.0 and ganeti-testsuite when missing):
 * - balance: our final placement, scored by hinfo, is ≤ hbal's final score with no more moves, on
 *   every test-data file hbal can balance and on generated clusters (10 nodes live, 40 recorded);
 * - capacity: our standard count ≥ hspace's HTS_ALLOC_INSTANCES for the same spec, and hcheck finds no
 *   more N+1-failing nodes after our placements than before;
 * - verify: our N+1, exclusion and offline findings count what hcheck counts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatGanetiText, ganetiToModel, parseGanetiText, verifyModel } from '../../src/alloc/index.ts';
import { ensureHtools, HTOOLS_DATA, runTool } from '../support/htools.ts';
import { runHbal, runOurs } from './hbal-compare.ts';
import { loadText, runCapacity, runHspace } from './hspace-compare.ts';
import { generateCluster, simulatedCluster } from '../support/gen.ts';

ensureHtools();
const tmp = mkdtempSync(join(tmpdir(), 'drover-judge-'));
const representable = readdirSync(HTOOLS_DATA).filter((f) => f.endsWith('.data')).sort().filter((f) => {
  try { ganetiToModel(parseGanetiText(readFileSync(`${HTOOLS_DATA}/${f}`, 'utf8'), f), f); return true; } catch { return false; }
});

function hcheck(file: string): Map<string, number> {
  const out = runTool('hcheck', ['-t', file, '--machine-readable', '--no-simulation']).stdout;
  return new Map([...out.matchAll(/^HCHECK_INIT_CLUSTER_(\w+)=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
}

test('balance ≤ hbal (score and moves) on every test-data file hbal balances', () => {
  let compared = 0;
  for (const f of representable) {
    const file = `${HTOOLS_DATA}/${f}`;
    let h = runHbal(file), flags = {};
    // hbal gives up on policy-violating clusters ("no solution"); compare with what it does when told to
    // go on, and tell us the same.
    if (h.moves === 0) { const soft = runHbal(file, ['--ignore-soft-errors']); if (soft.moves > 0) { h = soft; flags = { ignoreSoftErrors: true }; } }
    const ours = runOurs(file, flags);
    if (Number.isNaN(h.initial)) { // hbal refuses the file (several groups, no instances): we must not do harm
      assert.ok(ours.judged <= ours.initial + 1e-6, f);
      continue;
    }
    const capped = ours.moves <= h.moves ? ours : runOurs(file, { ...flags, maxMoves: h.moves });
    assert.ok(capped.judged <= h.final + 1e-6, `${f}: ours ${capped.judged} in ${capped.moves}, hbal ${h.final} in ${h.moves}`);
    assert.ok(capped.moves <= h.moves, f);
    compared++;
  }
  assert.ok(compared >= 25, `compared ${compared}`);
});

test('balance ≤ hbal on generated clusters: 10 nodes live (three skewed seeds and a spindle-bound one), 40 nodes recorded', () => {
  for (const [n, per, seed] of [[10, 20, 1], [10, 10, 1], [10, 10, 2], [10, 10, 3]] as const) {
    const file = join(tmp, `gen${n}-${per}-${seed}.data`);
    writeFileSync(file, formatGanetiText(generateCluster(n, per, seed)));
    const h = runHbal(file, [], 120_000);
    const capped = runOurs(file, { maxMoves: h.moves });
    assert.ok(capped.judged <= h.final + 1e-6, `gen ${n}/${per}/${seed}: ours ${capped.judged}, hbal ${h.final} (${h.moves} moves)`);
    // Past hbal's stop, pairs of moves go further: uncapped, the end is strictly better.
    const free = runOurs(file);
    assert.ok(free.judged < h.final - 1e-6, `gen ${n}/${per}/${seed}: uncapped ${free.judged} in ${free.moves}, hbal ${h.final}`);
  }
  const rec = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/ganeti/generated.json', import.meta.url)), 'utf8'));
  for (const [key, n, per, seed] of [['gen40', 40, 20, 1], ['skewed40-10-1', 40, 10, 1], ['skewed40-8-3', 40, 8, 3]] as const) {
    const r = rec[key];
    const file = join(tmp, `${key}.data`);
    writeFileSync(file, formatGanetiText(generateCluster(n, per, seed)));
    const o = runOurs(file, { maxMoves: r.hbalMoves });
    assert.ok(Math.abs(o.initial - r.hbalInitial) < 1e-6, `${key}: same generated cluster as recorded`);
    assert.ok(o.judged <= r.hbalFinal + 1e-6, `${key}: ours ${o.judged}, hbal ${r.hbalFinal}`);
    assert.ok(o.moves <= r.hbalMoves);
  }
});

test('capacity ≥ hspace for the same spec, and no new N+1 failure as hcheck sees it', () => {
  let compared = 0;
  for (const f of representable) {
    const file = `${HTOOLS_DATA}/${f}`;
    const h = runHspace(file);
    if (!h.spec || Number.isNaN(h.standard)) continue;
    const gc = loadText(file);
    const ours = runCapacity(gc, h.spec);
    assert.ok(ours.standard.count >= h.standard, `${f}: ours ${ours.standard.count}, hspace ${h.standard}`);
    const before = hcheck(file).get('N1_FAIL') ?? 0, after = hcheck(ours.file).get('N1_FAIL') ?? 0;
    assert.ok(after <= before, `${f}: hcheck N+1 failures ${before} → ${after}`);
    compared++;
  }
  assert.ok(compared >= 25, `compared ${compared}`);
});

test('capacity ≥ hspace --simulate at 10 nodes (DRBD and plain, ganeti.md §9.3 series D and P)', () => {
  for (const template of ['drbd', 'plain']) {
    const r = runTool('hspace', ['--simulate=p,10,2t,128g,32,8', `--disk-template=${template}`, '--standard-alloc=50g,4g,2', '--tiered-alloc=200g,16g,8', '--machine-readable']);
    const theirs = Number(/HTS_ALLOC_INSTANCES=(\d+)/.exec(r.stdout)?.[1]);
    const gc = simulatedCluster(10, 2 * 1024 * 1024, 128 * 1024, 32, 8);
    const ours = runCapacity(gc, { memory: 4 * 2 ** 30, disk: 50 * 2 ** 30, vcpus: 2, template: template === 'drbd' ? 'replicated' : 'plain' });
    assert.ok(ours.standard.count >= theirs, `${template}: ours ${ours.standard.count}, hspace ${theirs}`);
    assert.is(hcheck(ours.file).get('N1_FAIL'), 0);
  }
});

test('capacity = hspace within 1 % under the default ipolicy (spindle ratio 32) and with relaxed spindles; the policy bounds the spec', () => {
  for (const spindles of [1, 8]) {
    const r = runTool('hspace', [`--simulate=p,10,1t,64g,16,${spindles}`, '--disk-template=drbd', '--standard-alloc=20g,3g,2', '--tiered-alloc=20g,3g,2', '--machine-readable']);
    const theirs = Number(/HTS_ALLOC_INSTANCES=(\d+)/.exec(r.stdout)?.[1]);
    const ours = runCapacity(simulatedCluster(10, 1024 * 1024, 64 * 1024, 16, spindles), { memory: 3 * 2 ** 30, disk: 20 * 2 ** 30, vcpus: 2, template: 'replicated' });
    assert.ok(Math.abs(ours.standard.count - theirs) <= theirs / 100, `${spindles} spindles: ours ${ours.standard.count}, hspace ${theirs}`);
    if (spindles === 1) assert.is(ours.standard.count, 160, 'spindle-bound: 32 per node, 2 per DRBD instance');
    assert.is(hcheck(ours.file).get('N1_FAIL'), 0);
  }
  // 48 GiB is above the default policy's 32 GiB maximum: hspace and we place none.
  const big = runCapacity(simulatedCluster(10, 1024 * 1024, 64 * 1024, 16, 8), { memory: 48 * 2 ** 30, disk: 20 * 2 ** 30, vcpus: 2, template: 'replicated' });
  assert.equal([big.standard.count, big.standard.limitingResource], [0, 'policy']);
  assert.match(big.standard.stoppedBy, /memory 48 GiB above the policy's 32 GiB/);
});

test('verify counts what hcheck counts: N+1-failing nodes, tag conflicts, offline primaries/secondaries', () => {
  for (const f of representable) {
    const file = `${HTOOLS_DATA}/${f}`;
    const h = hcheck(file);
    if (!h.has('N1_FAIL') || !h.has('CONFLICT_TAGS')) continue;
    const found = verifyModel(ganetiToModel(loadText(file), f));
    const nodes = (code: string) => new Set(found.filter((x) => x.code === code).map((x) => x.node)).size;
    const count = (code: string) => found.filter((x) => x.code === code).length;
    assert.is(nodes('ENODEN1'), h.get('N1_FAIL'), `${f}: N+1`);
    assert.is(nodes('EEXCLUSION'), h.get('CONFLICT_TAGS'), `${f}: conflicts`);
    assert.is(count('WOFFLINEPRI'), h.get('OFFLINE_PRI'), `${f}: offline primaries`);
    assert.is(count('WOFFLINESEC'), h.get('OFFLINE_SEC'), `${f}: offline secondaries`);
  }
});

test.run();
