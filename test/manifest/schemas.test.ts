/** The schemas are the user contract: every field described, nothing unknown accepted, docs current. */

import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderDocs } from '../../scripts/gen-docs.ts';
import { readSchema } from '../../src/manifest/schemas.ts';

type Json = { readonly [key: string]: unknown };

/** Every subschema with its JSON pointer inside the schema file. */
function* walk(s: Json, at: string): Generator<[string, Json]> {
  yield [at, s];
  for (const key of ['properties', '$defs'] as const) {
    for (const [name, child] of Object.entries((s[key] ?? {}) as Record<string, Json>)) yield* walk(child, `${at}/${key}/${name}`);
  }
  for (const key of ['items', 'additionalProperties', 'propertyNames'] as const) {
    const child = s[key];
    if (typeof child === 'object' && child !== null) yield* walk(child as Json, `${at}/${key}`);
  }
}

for (const file of ['common', 'cluster', 'node', 'instance'] as const) {
  test(`${file}.schema.json: every field has a description; objects with properties reject unknown fields`, () => {
    for (const [at, s] of walk(readSchema(file) as Json, '#')) {
      assert.type(s.description, 'string', `${at} has no description`);
      if (s.properties !== undefined) assert.is(s.additionalProperties, false, `${at} accepts unknown fields`);
    }
  });
}

test('docs/manifests.md is generated from the current schemas (npm run docs)', () => {
  assert.fixture(readFileSync('docs/manifests.md', 'utf8'), renderDocs());
});

test.run();
