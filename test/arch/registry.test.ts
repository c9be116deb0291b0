/**
 * The backend registry is the one list of backends: the cluster schema's enum is pinned to it, and
 * the layers that may read it (model/, manifest/, plan/) reach only its pure table, never a driver.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { BACKEND_NAMES, BACKENDS, DEFAULT_BACKEND } from '../../src/drivers/backends.ts';
import { backend } from '../../src/drivers/index.ts';

interface ClusterSchema { properties: { spec: { properties: { backend: { enum: string[]; description: string } } } } }

test('the cluster schema names exactly the registered backends', () => {
  const schema = JSON.parse(fs.readFileSync(new URL('../../schemas/cluster.schema.json', import.meta.url), 'utf8')) as ClusterSchema;
  const prop = schema.properties.spec.properties.backend;
  assert.equal([...prop.enum].sort(), [...BACKEND_NAMES].sort());
  for (const name of BACKEND_NAMES) assert.ok(prop.description.includes(`\`${name}\``), `the schema describes ${name}`);
  assert.ok(BACKEND_NAMES.includes(DEFAULT_BACKEND));
});

test('every backend has a factory and its capabilities', () => {
  for (const name of BACKEND_NAMES) {
    const b = backend(name);
    assert.is(b.name, name);
    assert.type(b.open, 'function');
    assert.equal(b.capabilities, BACKENDS[name].capabilities);
  }
});

test('the sim factory opens a sim driver with the cluster\'s latency', async () => {
  const dir = fs.mkdtempSync('/tmp/drover-registry-');
  try {
    const d = await backend('sim').open({ nodes: [], stateDir: dir, readOnly: true });
    assert.is(d.backend, 'sim');
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
