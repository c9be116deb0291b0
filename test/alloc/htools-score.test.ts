/**
 * Judged by the real tools (installs Debian's ganeti-htools-3.0 and ganeti-testsuite when missing):
 * on every file of Ganeti's htools test data, parse → format is exact and our score equals hinfo's to
 * 1e-6, or the file is refused with a line-numbered error.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { formatGanetiText, GanetiTextError, parseGanetiText } from '../../src/alloc/ganeti-text.ts';
import { ganetiToModel } from '../../src/alloc/ganeti-model.ts';
import { clusterScore } from '../../src/alloc/index.ts';
import { ensureHtools, hinfoScore, HTOOLS_DATA } from '../support/htools.ts';

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
    scored++;
  }
  assert.ok(scored >= 35, `only ${scored} files scored`);
  assert.ok(refused <= 16, `${refused} files refused`);
});

test.run();
