// What dist/ was built from: every path under src/ with its size and mtime, one per line, sorted.
// scripts/build records it (taken before tsc reads the sources) in dist/.built; bin/drover.js
// starts dist/ only while the sources still give the same text, so an edit, a new or deleted
// file, a checkout, even a file put back with an older mtime, sends it back to the sources.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function sourcesFingerprint(src) {
  return readdirSync(src, { recursive: true }).map(String).sort().map((entry) => {
    const s = statSync(join(src, entry));
    return `${entry} ${s.isDirectory() ? 'dir' : s.size} ${s.mtimeMs}`;
  }).join('\n');
}
