/**
 * Upgrading Drover recreates nothing: test/fixtures/upgrade/state-v1 was left by a Drover that wrote
 * v1 spec hashes (in the sim world's containers and in the placements' `applied`). This one writes v2,
 * and must still see that cluster as converged, and still see a real change (or a change on a node) as one.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SimWorld } from '../../src/drivers/sim/world.ts';
import { drover, droverJson, ROOT } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';
import { readStore, readWorld } from '../support/world.ts';

test.after(cleanupTemps);

const FIXTURE = path.join(ROOT, 'test/fixtures/upgrade');

/** Private copies of the fixture's manifests and state, to edit and apply. */
function copies(): { manifests: string; state: string } {
  const dir = tempDir('drover-upgrade-');
  fs.cpSync(FIXTURE, dir, { recursive: true });
  return { manifests: path.join(dir, 'manifests'), state: path.join(dir, 'state-v1') };
}

interface PlanJson {
  operations: { type: string; instance: string; cause: { kind: string } }[];
  drift: { instance: string; kind: string }[];
}

test('the fixture holds v1 hashes (bare hex), so this suite tests what it says', () => {
  const { state } = copies();
  const world = readWorld(state, ['n1', 'n2']);
  const hashes = Object.values(world.nodes).flatMap((n) => n.containers.map((c) => c.specHash));
  assert.is(hashes.length, 3);
  for (const h of hashes) assert.match(h, /^[0-9a-f]{12}$/);
  for (const p of readStore(state).placements.values()) assert.match(p.applied!.specHash, /^[0-9a-f]{12}$/);
});

test('plan on a cluster made with v1 hashes: no changes, exit 0', async () => {
  const { manifests, state } = copies();
  const r = await drover(['plan', manifests, '--detailed-exitcode', '--state-dir', state]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /No changes/);
  const p = await droverJson<PlanJson>(['plan', manifests, '--json', '--state-dir', state]);
  assert.equal(p.operations, []);
  assert.equal(p.drift, []);
});

test('apply on it does nothing and leaves the containers as they are', async () => {
  const { manifests, state } = copies();
  const before = readWorld(state, ['n1', 'n2']);
  const r = await drover(['apply', '--yes', manifests, '--state-dir', state]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(readWorld(state, ['n1', 'n2']), before);
});

test('a real change of the spec is still one: RecreateInstance of that instance only, and afterwards no changes', async () => {
  const { manifests, state } = copies();
  const file = path.join(manifests, 'instances.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('image: nginx:1.27', 'image: nginx:1.28'));
  const r = await drover(['plan', manifests, '--detailed-exitcode', '--state-dir', state]);
  assert.is(r.code, 2, r.stdout + r.stderr);
  const p = await droverJson<PlanJson>(['plan', manifests, '--json', '--state-dir', state]);
  assert.equal(p.operations.map((o) => [o.type, o.instance, o.cause.kind]), [['RecreateInstance', 'web', 'spec-changed']]);
  assert.equal(p.drift, [], 'a change in the manifests, not on the node');
  assert.is((await drover(['apply', '--yes', manifests, '--state-dir', state])).code, 0);
  const web = readWorld(state, ['n1']).nodes.n1!.containers.find((c) => c.instance === 'web')!;
  assert.match(web.specHash, /^v2:/, 'the new container carries the new hash');
  assert.match(readStore(state).placements.get('web')!.applied!.specHash, /^v2:/);
  assert.is((await drover(['plan', manifests, '--detailed-exitcode', '--state-dir', state])).code, 0);
});

test('a container changed on its node is still drift against a v1 applied hash', async () => {
  const { manifests, state } = copies();
  const world = new SimWorld(state);
  const idle = world.node('n2').containers.get('idle')!;
  await world.putContainer('n2', { ...idle, specHash: '000000000000' });
  world.close();
  const p = await droverJson<PlanJson>(['plan', manifests, '--json', '--state-dir', state]);
  assert.equal(p.operations.map((o) => [o.type, o.instance]), [['RecreateInstance', 'idle']]);
  assert.equal(p.drift.map((d) => [d.instance, d.kind]), [['idle', 'spec-changed']]);
});

test.run();
