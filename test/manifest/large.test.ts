/** 20,000 instance documents in one ~3 MB file load whole and right (its speed is in npm run bench). */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadManifests } from '../../src/manifest/index.ts';
import { bigManifest } from '../fixtures/manifests/generate.ts';

test('20,000 instances in one 3 MB file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-large-'));
  const file = join(dir, 'big.yaml');
  writeFileSync(file, bigManifest(20_000, 100));
  const r = await loadManifests([file]);
  rmSync(dir, { recursive: true, force: true });
  assert.ok(r.ok);
  if (r.ok) assert.is(r.desired.instances.size, 20_000);
});

test.run();
