/**
 * plan and the nodes it could not ask: a warning per node, naming it and the driver's reason, in
 * every format; "No changes" never claims that such a node matches the manifests.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { drover, fixture } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';

test.after(cleanupTemps);

/** The failover cluster converged, plus an empty node n4 that then stops answering. */
async function withEmptyNodeDown(): Promise<{ manifests: string; state: string }> {
  const manifests = path.join(tempDir('drover-unasked-'), 'm');
  fs.cpSync(fixture('failover'), manifests, { recursive: true });
  const cluster = path.join(manifests, 'cluster.yaml');
  // (the fixture's replication.interval is one no test outlives: no sync comes due)
  fs.appendFileSync(cluster, '---\napiVersion: drover/v1\nkind: Node\nmetadata: { name: n4 }\nspec: { cluster: fo, drained: true, capacity: { memory: 8G, vcpus: 8, disk: 100G } }\n');
  const state = tempDir('drover-unasked-state-');
  const applied = await drover(['apply', '--yes', manifests, '--state-dir', state]);
  assert.is(applied.code, 0, applied.stderr);
  const all = await drover(['plan', '--detailed-exitcode', manifests, '--state-dir', state]);
  assert.is(all.stdout.trim(), 'No changes. The nodes match the manifests.', 'every node answered');
  assert.is((await drover(['sim', 'fail-node', 'n4', '--state-dir', state])).code, 0);
  return { manifests, state };
}

test('plan warns about each node it could not ask, and does not claim it matches', async () => {
  const { manifests, state } = await withEmptyNodeDown();
  const text = await drover(['plan', manifests, '--state-dir', state]);
  assert.is(text.code, 0, text.stderr);
  assert.not.match(text.stdout, 'The nodes match the manifests');
  assert.match(text.stdout, 'No changes on the nodes that answered; 1 node could not be asked (see the warnings).');
  assert.match(text.stdout, /^Warning: node n4 could not be asked, so what runs there is not in this plan: .+$/m);

  const json = JSON.parse((await drover(['plan', '--json', manifests, '--state-dir', state])).stdout) as { warnings: string[]; unreachable: { node: string; error: string }[] };
  assert.is(json.unreachable.length, 1);
  assert.is(json.unreachable[0]!.node, 'n4');
  assert.ok(json.unreachable[0]!.error.length > 0, 'the driver says why');
  assert.ok(json.warnings.some((w) => w.startsWith('node n4 could not be asked') && w.endsWith(json.unreachable[0]!.error)), json.warnings.join('\n'));

  const md = (await drover(['plan', '--format', 'markdown', manifests, '--state-dir', state])).stdout;
  assert.match(md, /^### ⚠️ Drover plan: no changes on the nodes that answered, 1 could not be asked$/m);
  assert.match(md, /^- node n4 could not be asked/m);
});

test.run();
