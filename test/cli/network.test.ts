/**
 * Networks through the CLI on the sim: status shows each NIC's address and MAC and the pools; verify is
 * clean after apply and finds a NIC changed behind Drover's back (ENICMISMATCH, EDUPADDRESS), which the
 * next apply corrects; capacity
 * says when a pool runs out before the resource that limits the count; removing an instance releases its
 * address to the next one.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadManifests } from '../../src/manifest/index.ts';
import { SimDriver } from '../../src/drivers/sim/index.ts';
import { drover, fixture } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';
import { readStore } from '../support/world.ts';

test.after(cleanupTemps);
const NET = fixture('network');

async function applied(manifests = NET): Promise<string> {
  const state = tempDir('drover-net-');
  const r = await drover(['apply', '--yes', manifests, '--state-dir', state]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  return state;
}

test('status: each NIC with its address and MAC, and each pool', async () => {
  const state = await applied();
  const r = await drover(['status', NET, '--state-dir', state]);
  assert.is(r.code, 0, r.stderr);
  const mac = readStore(state).placements.get('client')!.nics![0]!.mac;
  assert.match(r.stdout, new RegExp(`client\\s+nic0\\s+lan\\s+10\\.42\\.0\\.100\\s+${mac}`));
  assert.match(r.stdout, /lan\s+10\.42\.0\.0\/24\s+9\s+3\s+6\s+1/);
  const json = JSON.parse((await drover(['status', '--json', NET, '--state-dir', state])).stdout) as { networks: { network: string; used: number }[] };
  assert.equal(json.networks.map((n) => [n.network, n.used]), [['lan', 3]]);
});

test('verify: clean after apply; a NIC changed on the node behind Drover\'s back is ENICMISMATCH and EDUPADDRESS', async () => {
  const state = await applied();
  const clean = await drover(['verify', '--json', NET, '--state-dir', state]);
  assert.is(clean.code, 0, clean.stdout);
  const r = await loadManifests([NET]);
  assert.ok(r.ok);
  if (!r.ok) return;
  const sim = new SimDriver({ stateDir: state, nodes: [...r.desired.nodes.values()] });
  const node = readStore(state).placements.get('client')!.primary;
  const c = sim.world.node(node).containers.get('client')!;
  await sim.world.putContainer(node, { ...c, nics: [{ ...c.nics![0]!, ip: '10.42.0.10' }] });
  await sim.close();
  const v = await drover(['verify', '--json', NET, '--state-dir', state]);
  assert.is(v.code, 1);
  const codes = (JSON.parse(v.stdout) as { findings: { code: string; message: string }[] }).findings.map((f) => f.code);
  assert.ok(codes.includes('ENICMISMATCH') && codes.includes('EDUPADDRESS'), codes.join(', '));
  const fix = await drover(['apply', '--yes', NET, '--state-dir', state]);
  assert.is(fix.code, 0, fix.stdout + fix.stderr);
  assert.match(fix.stdout, /RecreateInstance client/);
  assert.is((await drover(['verify', NET, '--state-dir', state])).code, 0, 'the next apply put the assigned address back');
});

test('capacity: a pool that runs out before memory says so', async () => {
  const state = await applied();
  const r = await drover(['capacity', NET, '--state-dir', state, '--spec', 'memory=64M,disk=1G']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /network lan: 6 free pool addresses: with a pooled NIC on it, only 6 fit; the pool runs out before/);
});

test('a migration and a failover keep address and MAC: the new copy is made with them, the journal shows them unchanged', async () => {
  const state = await applied();
  const before = readStore(state).placements.get('client')!;
  const dir = tempDir('drover-net-manifests-');
  const file = path.join(dir, 'cluster.yaml');
  const text = fs.readFileSync(path.join(NET, 'cluster.yaml'), 'utf8');
  fs.writeFileSync(file, text.replace('name: client }\nspec:\n  cluster: lab\n', `name: client }\nspec:\n  cluster: lab\n  primary: ${before.secondary}\n`));
  const m = await drover(['apply', '--yes', dir, '--state-dir', state]);
  assert.is(m.code, 0, m.stdout + m.stderr);
  assert.match(m.stdout, /MigrateInstance client/);
  const migrated = readStore(state).placements.get('client')!;
  assert.is(migrated.primary, before.secondary);
  assert.equal(migrated.nics, before.nics);
  assert.is((await drover(['sim', 'fail-node', migrated.primary, '--state-dir', state])).code, 0);
  const down = await drover(['apply', '--yes', NET, '--state-dir', state]); // notes the node down (and may wait out its grace)
  await new Promise((r) => setTimeout(r, 1500)); // failover.nodeDownAfter: 1s
  const f = await drover(['apply', '--yes', NET, '--state-dir', state]);
  assert.match(down.stdout + f.stdout, /FailoverInstance client/, down.stdout + f.stdout + f.stderr);
  const after = readStore(state).placements.get('client')!;
  assert.is(after.primary, migrated.secondary);
  assert.equal(after.nics, before.nics);
  const jobs = JSON.parse((await drover(['jobs', '--json', '--state-dir', state])).stdout) as { jobs: { type: string; instance: string; nics?: unknown }[] };
  const made = jobs.jobs.filter((j) => j.instance === 'client' && ['CreateInstance', 'MigrateInstance', 'FailoverInstance'].includes(j.type));
  assert.equal(made.map((j) => j.type), ['CreateInstance', 'MigrateInstance', 'FailoverInstance']);
  for (const j of made) assert.equal(j.nics, before.nics, `${j.type}: the journal's NICs`);
});

test('an exhausted pool: plan exits 1 with the error at the NIC that gets no address, naming the network and who is left out', async () => {
  const dir = tempDir('drover-net-manifests-');
  const file = path.join(dir, 'cluster.yaml');
  fs.writeFileSync(file, fs.readFileSync(path.join(NET, 'cluster.yaml'), 'utf8').replace('pool: 10.42.0.100-10.42.0.109', 'pool: 10.42.0.100-10.42.0.102'));
  const r = await drover(['plan', dir, '--state-dir', tempDir('drover-net-')]);
  assert.is(r.code, 1, r.stdout + r.stderr);
  const line = fs.readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes('mac: "02:aa:00:00:00:01"')) + 1;
  assert.match(r.stdout + r.stderr, `${file}:${line}:10: error: network "lan": the pool (2 addresses) has no free address left; client2 gets none`);
});

test('an instance removed releases its address: the next new instance takes it', async () => {
  const state = await applied();
  const dir = tempDir('drover-net-manifests-');
  const text = fs.readFileSync(path.join(NET, 'cluster.yaml'), 'utf8');
  fs.writeFileSync(path.join(dir, 'cluster.yaml'), text.replace('name: client }\nspec:\n  cluster: lab\n', 'name: client }\nspec:\n  cluster: lab\n  state: absent\n'));
  assert.is((await drover(['apply', '--yes', dir, '--state-dir', state])).code, 0);
  assert.is(readStore(state).placements.get('client'), undefined);
  fs.appendFileSync(path.join(dir, 'cluster.yaml'), '---\napiVersion: drover/v1\nkind: Instance\nmetadata: { name: late }\nspec: { cluster: lab, nics: [{ network: lan }] }\n');
  const r = await drover(['apply', '--yes', dir, '--state-dir', state]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(readStore(state).placements.get('late')!.nics![0]!.ip, '10.42.0.100');
});

test.run();
