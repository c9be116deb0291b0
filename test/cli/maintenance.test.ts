/** drover maintenance plan: hroller's reboot groups from the manifests and Drover's placements. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { drover, droverJson, fixture } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';

test.after(cleanupTemps);

interface RollJson { cluster: string; heuristic: string; groups: { nodes: string[]; nonRedundant: string[] }[] }

test('reboot groups keep every instance\'s primary and secondary apart; --group and bad input', async () => {
  const manifests = fixture('unbalanced'), state = tempDir('drover-roll-state-');
  assert.is((await drover(['apply', '--yes', manifests, '--state-dir', state])).code, 0);
  const r = await droverJson<RollJson>(['maintenance', 'plan', '--json', manifests, '--state-dir', state]);
  assert.is(r.cluster, 'lab');
  const groupOf = new Map(r.groups.flatMap((g, i) => g.nodes.map((n) => [n, i] as const)));
  assert.equal([...groupOf.keys()].sort(), ['node1', 'node2', 'node3']);
  assert.ok(groupOf.get('node1') !== groupOf.get('node2'), JSON.stringify(r.groups)); // every instance is node1/node2
  const text = await drover(['maintenance', 'plan', manifests, '--state-dir', state]);
  assert.is(text.code, 0);
  assert.match(text.stdout, /^Cluster lab: 2 reboot groups, one after the other:\n\s+1\. /);
  const none = await drover(['maintenance', 'plan', '--group', 'nope', manifests, '--state-dir', state]);
  assert.is(none.code, 1);
  assert.match(none.stderr, /cluster lab has no node group "nope"/);
  const bad = await drover(['maintenance', 'roll', manifests, '--state-dir', state]);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /unknown subcommand "roll"/);
});

test.run();
