#!/usr/bin/env node
// Starts the compiled build (dist/, from `npm run build`) when it is current, else the TypeScript
// sources through tsx. Current means: built from the sources as they are now (bin/sources.js), or
// no src/ at all (an installed package ships dist/ only). A stale dist/ is never used, so
// development keeps running from sources with no build step to forget; DROVER_FROM_SOURCE=1
// forces the sources.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourcesFingerprint } from './sources.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const stamp = join(root, 'dist/.built'); // written by scripts/build once tsc succeeded
const src = join(root, 'src');

function distIsCurrent() {
  if (process.env.DROVER_FROM_SOURCE === '1' || !existsSync(stamp)) return false;
  return !existsSync(src) || readFileSync(stamp, 'utf8') === sourcesFingerprint(src);
}

let main;
if (distIsCurrent()) {
  ({ main } = await import('../dist/cli/main.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
