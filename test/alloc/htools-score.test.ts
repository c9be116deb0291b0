/**
 * Judged by the real tools (installs Debian's ganeti-htools-3.0 and ganeti-testsuite when missing):
 * on every file of Ganeti's htools test data, parse → format is exact and our score equals hinfo's to
 * 1e-6, and every group's score equals hcheck --no-simulation's, or the file is refused with a
 * line-numbered error; on generated clusters of 10 to 1,000 nodes, the scores balance reports (before
 * and after its moves) are hcheck's scores of the same clusters.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatGanetiText, GanetiTextError, parseGanetiText } from '../../src/alloc/ganeti-text.ts';
import { ganetiToModel, withPlacements } from '../../src/alloc/ganeti-model.ts';
import { balance, clusterScore, groupScores } from '../../src/alloc/index.ts';
import { ensureHtools, hinfoScore, HTOOLS_DATA, runTool } from '../support/htools.ts';
import { generateCluster } from '../support/gen.ts';

/** hcheck --no-simulation's score of each group, by group uuid (none when hcheck fails on the file). */
function hcheckScores(file: string): Map<string, number> {
  const out = runTool('hcheck', ['-t', file, '--machine-readable', '--no-simulation'], 300_000).stdout;
  const uuids = new Map([...out.matchAll(/^HCHECK_GROUP_UUID_(\d+)='([^']*)'/gm)].map((m) => [m[1]!, m[2]!]));
  return new Map([...out.matchAll(/^HCHECK_INIT_GROUP_(\d+)_SCORE=(\S+)/gm)].map((m) => [uuids.get(m[1]!)!, Number(m[2])]));
}

ensureHtools();
const files = readdirSync(HTOOLS_DATA).filter((f) => f.endsWith('.data')).sort();

test('every test-data file: exact round trip and hinfo\'s score, or a line-numbered refusal', () => {
  let scored = 0, refused = 0;
  for (const f of files) {
    const text = readFileSync(`${HTOOLS_DATA}/${f}`, 'utf8');
    let model;
    try {
      const gc = parseGanetiText(text, f);
      assert.is(formatGanetiText(gc), text, `${f}: round trip`);
      model = ganetiToModel(gc, f);
    } catch (e) {
      assert.ok(e instanceof GanetiTextError && e.line > 0 && e.message.startsWith(`${f}:${e.line}: `), `${f}: ${String(e)}`);
      refused++;
      continue;
    }
    const ours = clusterScore(model).score, theirs = hinfoScore(`${HTOOLS_DATA}/${f}`);
    assert.ok(Math.abs(ours - theirs) < 1e-6, `${f}: ours ${ours.toFixed(8)}, hinfo ${theirs}`);
    const gc = parseGanetiText(text, f), byGroup = groupScores(model);
    for (const [uuid, score] of hcheckScores(`${HTOOLS_DATA}/${f}`)) {
      const name = gc.groups.find((g) => g.uuid === uuid)!.name;
      assert.ok(Math.abs(byGroup.get(name)!.score - score) < 1e-6, `${f} group ${name}: ours ${byGroup.get(name)!.score}, hcheck ${score}`);
    }
    scored++;
  }
  assert.ok(scored >= 35, `only ${scored} files scored`);
  assert.ok(refused <= 16, `${refused} files refused`);
});

test('generated clusters of 10, 40, 100 and 1,000 nodes: balance\'s initial and final scores are hcheck\'s', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-score-'));
  for (const [n, seed, maxMoves] of [[10, 1, undefined], [10, 2, undefined], [40, 1, undefined], [100, 1, 200], [1000, 1, 100]] as const) {
    const gc = generateCluster(n, 20, seed);
    const before = join(dir, `g${n}-${seed}.data`), after = join(dir, `g${n}-${seed}-balanced.data`);
    writeFileSync(before, formatGanetiText(gc));
    const r = balance(ganetiToModel(gc, before), maxMoves !== undefined ? { maxMoves } : {});
    writeFileSync(after, formatGanetiText(withPlacements(gc, r.placements)));
    const h0 = hcheckScores(before).get('uuid-g1')!, h1 = hcheckScores(after).get('uuid-g1')!;
    assert.ok(Math.abs(r.initialScore - h0) < 1e-6, `${n} nodes: initial ours ${r.initialScore}, hcheck ${h0}`);
    assert.ok(r.moves.length > 0 && Math.abs(r.finalScore - h1) < 1e-6, `${n} nodes: final ours ${r.finalScore}, hcheck ${h1}`);
  }
});

test.run();
