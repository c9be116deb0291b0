/**
 * The crash soak's short form (scripts/soak/; the long form runs by hand and in `npm run bench`):
 * rounds of `drover apply` while the master is SIGKILLed, nodes are killed and restored and the manifests
 * change; after every round the invariants must hold (zero violations). The sim backend for 5 rounds, then
 * the docker backend (20 instances) for 2 rounds on its own test bed (4 engines at 127.0.0.71-74, torn down at the end;
 * needs root and scripts/ci-setup-docker, skipped without dockerd).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { runSoak } from '../../scripts/soak/index.ts';

const test = suite('crash soak');
const hasDocker = (() => {
  if (process.getuid?.() !== 0) return false;
  try { execFileSync('sh', ['-c', 'command -v dockerd'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
const log = (l: string) => console.log(`    ${l}`);

test('sim: 5 rounds of master kills, node kills and manifest edits, zero violations', async () => {
  const r = await runSoak({ backend: 'sim', rounds: 5, minutes: 1.5, instances: 30, seed: 11, log });
  assert.ok(r.rounds >= 3, `at least 3 rounds ran (${r.rounds})`);
  assert.ok(r.masterKills + r.nodeKills + r.edits > 0, 'some chaos happened');
  assert.equal(r.violations, [], r.summary);
});

(hasDocker ? test : test.skip)('docker: 2 rounds on a 4-engine test bed, zero violations', async () => {
  const r = await runSoak({ backend: 'docker', rounds: 2, minutes: 3, instances: 20, seed: 12, base: 70, log });
  assert.ok(r.rounds >= 1, `at least one round ran (${r.rounds})`);
  assert.equal(r.violations, [], r.summary);
});

test.run();
