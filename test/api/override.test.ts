/** A drain from the API is a runtime override: plan and status show it until the manifest agrees; then it is dropped. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Store } from '../../src/store/store.ts';
import { drover, sandbox } from '../support/watch.ts';

test('plan names the override; a manifest that says the same retires it', async () => {
  const sb = sandbox();
  assert.is(drover(sb, ['apply', sb.manifests]).code, 0);
  const store = new Store(sb.state);
  await store.putNode({ ...(store.nodes.get('node3') ?? { name: 'node3' }), override: { drained: true, by: 'alice', at: Date.now() } });
  await store.close();
  const plan = drover(sb, ['plan', sb.manifests, '--json']);
  assert.ok((JSON.parse(plan.out) as { warnings: string[] }).warnings.some((w) => /node node3 is drained by alice through the API/.test(w)), plan.out);
  const status = JSON.parse(drover(sb, ['status', sb.manifests, '--json']).out) as { nodes: { name: string; flags: string[] }[] };
  assert.equal(status.nodes.find((n) => n.name === 'node3')?.flags, ['drained']);
  const nodes = path.join(sb.manifests, 'nodes.yaml');
  fs.writeFileSync(nodes, fs.readFileSync(nodes, 'utf8').replace(/(name: node3[\s\S]*?cluster: lab\n)/, '$1  drained: true\n'));
  assert.is(drover(sb, ['apply', sb.manifests]).code, 0);
  assert.is(new Store(sb.state, { readOnly: true }).nodes.get('node3')?.override, undefined, 'the manifest says the same now: dropped');
  assert.not.match(drover(sb, ['plan', sb.manifests]).out, /through the API/);
});

test.run();
