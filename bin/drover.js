#!/usr/bin/env node
// Starts the compiled build (dist/, from `npm run build`) when it is current, else the TypeScript
// sources through tsx. Current means: built after the last change under src/ (every file and
// folder's mtime, so an edit, a new file, a deletion or a `git checkout` all make it stale), or no
// src/ at all (an installed package ships dist/ only). A stale dist/ is never used: development
// keeps running from sources without a build step to forget, and DROVER_FROM_SOURCE=1 forces them.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const stamp = new URL('dist/.built', root);
const src = new URL('src/', root);

/** True when dist/ was built after every change under src/ (or there are no sources). */
function distIsCurrent() {
  if (process.env.DROVER_FROM_SOURCE === '1' || !existsSync(stamp)) return false;
  if (!existsSync(src)) return true;
  const built = statSync(stamp).mtimeMs;
  const srcDir = src.pathname;
  if (statSync(srcDir).mtimeMs > built) return false;
  for (const entry of readdirSync(srcDir, { recursive: true })) {
    if (statSync(srcDir + entry).mtimeMs > built) return false;
  }
  return true;
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
