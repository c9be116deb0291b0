/** 20,000 instance documents in one ~3 MB file must load and validate in well under a second. */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadManifests } from '../../src/manifest/index.ts';
import { bigManifest } from '../fixtures/manifests/generate.ts';

test('20,000 instances in one 3 MB file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-perf-'));
  const file = join(dir, 'big.yaml');
  const text = bigManifest(20_000, 100);
  writeFileSync(file, text);
  await loadManifests([file]); // warm-up: schema compilation happens once per process
  const t0 = performance.now();
  const r = await loadManifests([file]);
  const ms = performance.now() - t0;
  assert.ok(r.ok);
  if (r.ok) assert.is(r.desired.instances.size, 20_000);
  console.log(`    ${(text.length / 1024 / 1024).toFixed(1)} MiB, 20,000 instances: ${ms.toFixed(0)} ms`);
  assert.ok(ms < 3000, `took ${ms} ms`); // generous: CI machines are shared; the aim is well under 1 s
});

test.run();
