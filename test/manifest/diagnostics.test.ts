/** Formatting, positions and "did you mean". */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatDiagnostic, loadManifests } from '../../src/manifest/index.ts';
import { closest, didYouMean, levenshtein } from '../../src/manifest/suggest.ts';

test('formatDiagnostic: FILE:LINE:COL: severity: MESSAGE', () => {
  assert.is(
    formatDiagnostic({ file: 'm/a.yaml', line: 3, column: 7, message: 'bad', severity: 'error' }),
    'm/a.yaml:3:7: error: bad',
  );
  assert.is(formatDiagnostic({ file: 'x', line: 1, column: 1, message: 'hm', severity: 'warning' }), 'x:1:1: warning: hm');
});

test('levenshtein', () => {
  assert.is(levenshtein('memroy', 'memory'), 2);
  assert.is(levenshtein('', 'abc'), 3);
  assert.is(levenshtein('same', 'same'), 0);
});

test('closest: near misses, case-insensitive, nothing for far ones', () => {
  assert.is(closest('memroy', ['image', 'memory', 'vcpus']), 'memory');
  assert.is(closest('Memory', ['memory']), 'memory');
  assert.is(closest('vcpu', ['vcpus', 'disks']), 'vcpus');
  assert.is(closest('colour', ['image', 'memory', 'vcpus']), undefined);
  assert.is(closest('ab', ['xy']), undefined);
  assert.is(didYouMean('diskTempalte', ['diskTemplate', 'disks']), '; did you mean "diskTemplate"?');
  assert.is(didYouMean('zzz', ['disks']), '');
});

/** Load one document from text and return `line:col message` of each diagnostic. */
async function problems(yaml: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'drover-diag-'));
  const file = join(dir, 'm.yaml');
  writeFileSync(file, `apiVersion: drover/v1\nkind: Cluster\nmetadata: { name: c }\nspec: { backend: sim }\n---\n${yaml}`);
  const r = await loadManifests([file]);
  return r.ok ? [] : r.diagnostics.map((d) => `${d.line - 5}:${d.column} ${d.message}`);
}

test('positions: flow collections, quoted scalars, tags, anchors and block values', async () => {
  assert.equal(await problems([
    'apiVersion: drover/v1',
    'kind: Instance',
    'metadata: { name: i }',
    'spec:',
    '  cluster: c',
    '  disks: [{ size: "1 X", mount: /d }]',
    '  vcpus: !!str 2',
    '  memory: &m true',
    '  env:',
    '    "A": 1',
    '  command:',
    '    - 7',
  ].join('\n')), [
    '6:19 Instance "i": spec.disks[0].size: "1 X" is not a quantity (use 512M, 1G, 1.5T)',
    '7:10 Instance "i": spec.vcpus: expected an integer, got "2"',
    '8:11 Instance "i": spec.memory: true is not a quantity (use 512M, 1G, 1.5T)',
    '10:10 Instance "i": spec.env.A: expected a string, got 1 (quote it: "1")',
    '12:7 Instance "i": spec.command[0]: expected a string, got 7 (quote it: "7")',
  ]);
});

test('keys with "/" or "~" are found through JSON pointer escaping', async () => {
  assert.equal(await problems([
    'apiVersion: drover/v1',
    'kind: Instance',
    'metadata:',
    '  name: i',
    '  labels:',
    '    drover.io/tier: 1',
    'spec:',
    '  cluster: c',
    '  a~b/c: 1',
  ].join('\n')), [
    '6:21 Instance "i": metadata.labels.drover.io/tier: expected a string, got 1 (quote it: "1")',
    '9:3 Instance "i": unknown field "a~b/c" in spec',
  ]);
});

test('YAML 1.2 core types: yes stays a string, so a boolean field says so', async () => {
  assert.equal(await problems([
    'apiVersion: drover/v1',
    'kind: Node',
    'metadata: { name: n }',
    'spec: { cluster: c, drained: yes, capacity: { memory: 1G, vcpus: 1, disk: 1G } }',
  ].join('\n')), ['4:30 Node "n": spec.drained: expected true or false, got "yes"']);
});

test.run();
