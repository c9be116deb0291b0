/**
 * drover verify on the sim: clean after apply; then every observed-state check fires on a change
 * made behind Drover's back, with its code, and the exit code follows the errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadManifests } from '../../src/manifest/index.ts';
import { SimDriver } from '../../src/drivers/sim/index.ts';
import { drover, fixture } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';

test.after(cleanupTemps);

interface VerifyJson { findings: { code: string; severity: string; node?: string; instance?: string; message: string }[]; errors: number }

const FO = fixture('failover');

async function applied(): Promise<string> {
  const state = tempDir('drover-verify-');
  assert.is((await drover(['apply', '--yes', FO, '--state-dir', state])).code, 0);
  return state;
}

async function verifyJson(state: string): Promise<{ code: number; json: VerifyJson }> {
  const r = await drover(['verify', '--json', FO, '--state-dir', state]);
  return { code: r.code, json: JSON.parse(r.stdout) as VerifyJson };
}

/** The sim world, as an operator's hands would change it. */
async function behindTheBack(state: string, change: (sim: SimDriver) => Promise<void>): Promise<void> {
  const r = await loadManifests([FO]);
  assert.ok(r.ok);
  if (!r.ok) return;
  const sim = new SimDriver({ stateDir: state, nodes: [...r.desired.nodes.values()] });
  await change(sim);
  await sim.close();
}

test('a converged cluster verifies clean, exit 0', async () => {
  const state = await applied();
  const { code, json } = await verifyJson(state);
  assert.is(code, 0);
  assert.equal(json.findings, []);
});

test('down, missing, two copies, a lost replica and an orphan are each reported with their code', async () => {
  const state = await applied();
  await behindTheBack(state, async (sim) => {
    await sim.stopInstance('n2', 'web'); // down but should run
    await sim.removeInstance('n1', 'scratch'); // container gone
    await sim.removeDisks('n3', 'web'); // web's replica gone
    await sim.createInstance('n3', { name: 'db', image: 'busybox', memory: 2 ** 29, vcpus: 1, diskTemplate: 'replicated', disks: [], env: {}, ports: [] }, 9);
    await sim.startInstance('n3', 'db'); // a second running copy, on the wrong node
    await sim.createDisks('n3', 'ghost', [{ size: 2 ** 30, mount: '/data' }], 'primary', 1); // nobody's
  });
  const { code, json } = await verifyJson(state);
  assert.is(code, 1);
  const codes = json.findings.map((f) => `${f.code} ${f.instance ?? f.node}`);
  for (const want of ['EINSTANCEDOWN web', 'EINSTANCEMISSING scratch', 'EINSTANCEDEGRADED web', 'EINSTANCEDUP db', 'EINSTANCEWRONGNODE db', 'EORPHAN ghost']) {
    assert.ok(codes.includes(want), `${want} in ${JSON.stringify(codes)}`);
  }
  assert.is(json.errors, json.findings.filter((f) => f.severity === 'error').length);
});

test('an unreachable node is an error; its replicas are degraded warnings', async () => {
  const state = await applied();
  assert.is((await drover(['sim', 'fail-node', 'n3', '--state-dir', state])).code, 0);
  const { code, json } = await verifyJson(state);
  assert.is(code, 1);
  assert.ok(json.findings.some((f) => f.code === 'ENODEUNREACHABLE' && f.node === 'n3'));
  assert.ok(json.findings.some((f) => f.code === 'EINSTANCEDEGRADED' && f.instance === 'web' && f.severity === 'warning'));
});

test.run();
