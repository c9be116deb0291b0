/**
 * The bad-input corpus: each fixture marks the diagnostics it expects on their line with a trailing
 * `# ERROR: <part of the message>` (or `# WARNING:`), as Terraform's error-files do. Every marked
 * line must get such a diagnostic, and no diagnostic may appear on an unmarked line.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatDiagnostic, loadManifests, type Diagnostic } from '../../src/manifest/index.ts';

const DIR = 'test/fixtures/manifests/bad';

interface Marker {
  readonly line: number;
  readonly severity: Diagnostic['severity'];
  readonly text: string;
}

/** Markers are ASCII, so the one fixture that is not UTF-8 reads fine too. */
function markers(file: string): Marker[] {
  const out: Marker[] = [];
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/# (ERROR|WARNING): (.*?)\s*(?=# (?:ERROR|WARNING):|$)/g)) {
      out.push({ line: i + 1, severity: m[1] === 'ERROR' ? 'error' : 'warning', text: m[2]! });
    }
  });
  return out;
}

for (const name of readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort()) {
  test(`bad/${name}`, async () => {
    const file = join(DIR, name);
    const expected = markers(file);
    assert.ok(expected.some((m) => m.severity === 'error') || name.includes('warning'), 'fixture marks no error');
    const result = await loadManifests([file], { checkFiles: true });
    const got = result.ok ? result.warnings : result.diagnostics;
    const shown = got.map(formatDiagnostic).join('\n');
    for (const m of expected) {
      const hit = got.some((d) => d.line === m.line && d.severity === m.severity && d.message.includes(m.text));
      assert.ok(hit, `line ${m.line}: expected ${m.severity} containing ${JSON.stringify(m.text)}; got:\n${shown}`);
    }
    for (const d of got) {
      const marked = expected.some((m) => m.line === d.line && m.severity === d.severity && d.message.includes(m.text));
      assert.ok(marked, `unexpected: ${formatDiagnostic(d)}`);
      assert.is(d.file, file);
    }
    assert.is(result.ok, !expected.some((m) => m.severity === 'error'));
  });
}

test.run();
