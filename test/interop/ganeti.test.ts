/**
 * drover import ganeti / export ganeti: the round trip is byte-exact on every file of Ganeti's htools
 * test data that Drover can represent (and on the copies in test/fixtures/ganeti/), the imported
 * manifests pass Drover's own checks, what cannot be represented is refused with its line, and an
 * export after balance + apply shows the new placement, with free memory and disk as hbal -S writes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatGanetiText, GanetiTextError, parseGanetiText } from '../../src/alloc/ganeti-text.ts';
import { ganetiToModel, withPlacements } from '../../src/alloc/ganeti-model.ts';
import { clusterScore } from '../../src/alloc/index.ts';
import { ganetiToManifests, LABEL, manifestsToGaneti, toYaml } from '../../src/interop/ganeti.ts';
import { formatDiagnostic, loadManifests } from '../../src/manifest/index.ts';
import { drover } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';
import { ensureHtools, hinfoScore, HTOOLS_BIN, HTOOLS_DATA } from '../support/htools.ts';

test.after(cleanupTemps);

const FIXTURES = fileURLToPath(new URL('../fixtures/ganeti/', import.meta.url));
const dataFiles = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.data')).sort().map((f) => path.join(dir, f));

/**
 * Ganeti's test data (3.0.2) that Drover refuses, with the line and the reason. Everything else must
 * round-trip exactly. ext: Drover has no external-storage template; exclusive storage: no such mode;
 * duplicate instance names and a primary that is no node: files Ganeti's own tests feed in as errors.
 */
const REFUSED: Readonly<Record<string, string>> = {
  'hbal-dyn.data': ':6: instance inst-00: disk template ext cannot be represented',
  'hspace-bad-group.data': ':9: instance inst-11: disk template ext cannot be represented',
  'hspace-existing.data': ':7: instance inst-11: disk template ext cannot be represented',
  'hsqueeze-mixed-instances.data': ':10: instance inst-00: disk template ext cannot be represented',
  'hsqueeze-overutilized.data': ':12: instance inst-00: disk template ext cannot be represented',
  'hsqueeze-underutilized.data': ':10: instance inst-00: disk template ext cannot be represented',
  'shared-n1-failure.data': ':8: instance instA1: disk template ext cannot be represented',
  'shared-n1-restriction.data': ':8: instance instA1: disk template ext cannot be represented',
  'hspace-tiered-dualspec-exclusive.data': ':3: node node-01-001: exclusive storage is not supported',
  'hspace-tiered-exclusive.data': ':3: node node-01-001: exclusive storage is not supported',
  'hspace-tiered-mixed.data': ':4: node node-01-001: exclusive storage is not supported',
  'hroller-full.data': ':13: duplicate instance inst-00',
  'multiple-tags.data': ':12: duplicate instance new-1',
  'invalid-node.data': ':6: instance new-0: unknown primary node "no-such-node"',
};

type Outcome = { readonly kind: 'exact' } | { readonly kind: 'refused'; readonly message: string } | { readonly kind: 'wrong'; readonly detail: string };

/** import → YAML file → loadManifests (must pass) → export with the pins as placements → bytes. */
async function roundTrip(file: string): Promise<Outcome> {
  const text = fs.readFileSync(file, 'utf8');
  const name = path.basename(file);
  let yaml: string;
  try {
    const m = ganetiToManifests(parseGanetiText(text, name), name);
    yaml = toYaml([m.cluster, ...m.nodes, ...m.instances]);
  } catch (e) {
    if (e instanceof GanetiTextError) return { kind: 'refused', message: e.message };
    throw e;
  }
  const dir = tempDir('drover-ganeti-');
  fs.writeFileSync(path.join(dir, 'all.yaml'), yaml);
  const loaded = await loadManifests([dir]);
  if (!loaded.ok) return { kind: 'wrong', detail: `Drover's checks reject it: ${loaded.diagnostics.map(formatDiagnostic).join('\n')}` };
  const back = formatGanetiText(manifestsToGaneti({ desired: loaded.desired, cluster: 'ganeti' }).text);
  return back === text ? { kind: 'exact' } : { kind: 'wrong', detail: `differs:\n${back}` };
}

async function checkAll(files: readonly string[]): Promise<{ exact: number; refused: number }> {
  let exact = 0, refused = 0;
  for (const f of files) {
    const name = path.basename(f);
    const r = await roundTrip(f);
    if (r.kind === 'wrong') assert.unreachable(`${name}: ${r.detail}`);
    if (r.kind === 'refused') {
      assert.ok(REFUSED[name] !== undefined, `${name} refused: ${r.kind === 'refused' && r.message}`);
      assert.ok(r.message.startsWith(`${name}${REFUSED[name]}`), `${name}: ${r.message}`);
      refused++;
    } else {
      assert.is(REFUSED[name], undefined, `${name} should have been refused`);
      exact++;
    }
  }
  return { exact, refused };
}

test('round trip exact on the fixtures (copies of Ganeti test data), refusals with their line', async () => {
  assert.equal(await checkAll(dataFiles(FIXTURES)), { exact: 6, refused: 2 });
});

test('round trip exact on every representable file of Ganeti\'s htools test data: 36 exact, 14 refused', async () => {
  ensureHtools();
  assert.equal(await checkAll(dataFiles(HTOOLS_DATA)), { exact: 36, refused: 14 });
});

test('what Drover has no field for lands in ganeti.drover.io/ labels; the rest in the spec', () => {
  const name = 'hbal-evac.data';
  const m = ganetiToManifests(parseGanetiText(fs.readFileSync(FIXTURES + name, 'utf8'), name), name, { cluster: 'evac', backend: 'docker' });
  assert.equal(m.cluster.spec, { backend: 'docker' });
  const nodeE = m.nodes.find((n) => n.metadata.name === 'node-e')!;
  assert.equal(nodeE.metadata.labels, { [`${LABEL}name`]: 'node-E', [`${LABEL}spindles`]: '4', [`${LABEL}columns`]: '10' });
  assert.equal(nodeE.spec, { cluster: 'evac', group: 'group-01', capacity: { memory: '4000M', vcpus: 32, disk: '6000M' }, offline: true });
  // Drover refuses pins to an offline node: the instance is Drover's to place, the label says where Ganeti had it.
  const p1 = m.instances.find((i) => i.metadata.name === 'inst-p1')!;
  assert.is(p1.spec.primary, undefined);
  assert.is(p1.metadata.labels?.[`${LABEL}primary`], 'node-e');
  assert.is(p1.spec.secondary, 'node-1');
});

test('exclusion tags become antiAffinity; stopped and diskless instances; the cluster policy\'s vcpuRatio', () => {
  // Only tags under a declared prefix (htools:iextags:service-group) exclude; test:ftp does not.
  const excl = ganetiToManifests(parseGanetiText(fs.readFileSync(FIXTURES + 'hbal-excl-tags.data', 'utf8')), 'x');
  assert.equal(excl.instances.map((i) => i.spec.antiAffinity), [['service-group:dns'], ['service-group:dns'], undefined, undefined, undefined]);
  const forth = ganetiToManifests(parseGanetiText(fs.readFileSync(FIXTURES + 'hbal-forth.data', 'utf8')), 'x');
  assert.ok(forth.instances.every((i) => i.spec.state === 'stopped'));
  assert.equal(forth.cluster.spec.policy, { vcpuRatio: 4 });
  const text = 'g|u1|preferred||\n\nn1|1024|0|896|4096|3072|4|N|u1|1\n\ni1|128|1024|1|ADMIN_offline|Y|n1||diskless||1\n\n';
  const i1 = ganetiToManifests(parseGanetiText(text), 'x').instances[0]!;
  assert.equal(i1.spec.disks, []);
  assert.is(i1.spec.state, 'stopped');
  assert.equal(i1.metadata.labels, { [`${LABEL}status`]: 'ADMIN_offline', [`${LABEL}columns`]: '11', [`${LABEL}disk-template`]: 'diskless', [`${LABEL}disk`]: '1024' });
});

test('drover import: files in DIR, a summary; a file Drover cannot represent: FILE:LINE: error, exit 1, nothing written', async () => {
  const out = path.join(tempDir('drover-import-'), 'm');
  const ok = await drover(['import', 'ganeti', FIXTURES + 'n1-failure.data', '--out', out, '--cluster', 'lab']);
  assert.is(ok.code, 0, ok.stderr);
  assert.equal(fs.readdirSync(out).sort(), ['cluster.yaml', 'instances.yaml', 'nodes.yaml']);
  assert.match(ok.stderr, /Imported .*n1-failure\.data: Cluster lab, 8 nodes, 8 instances \(8 replicated\)/);
  assert.match(ok.stderr, /Not in the file, so not imported: NICs \(addresses, MACs, networks\): the htools text format has none/);
  const bad = path.join(tempDir('drover-import-'), 'm');
  const r = await drover(['import', 'ganeti', FIXTURES + 'hbal-dyn.data', '--out', bad]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /hbal-dyn\.data:6: error: instance inst-00: disk template ext cannot be represented/);
  assert.not.ok(fs.existsSync(bad), 'nothing written');
  const odd = path.join(tempDir('drover-import-'), 'odd.data');
  fs.writeFileSync(odd, 'g|u1|preferred||\n\nn1|1024|0|1024|100|100|4|N|u1|1\nnode_2|1024|0|1024|100|100|4|N|u1|1\n\n\n\n');
  const r2 = await drover(['import', 'ganeti', odd]);
  assert.is(r2.code, 1);
  assert.match(r2.stderr, /odd\.data:4: error: node node_2: not a DNS label or FQDN/);
  assert.is(r2.stdout, '');
});

test('drover export with an empty state dir gives back the imported file, byte for byte', async () => {
  for (const name of ['hbal-evac.data', 'n1-failure.data', 'hspace-tiered.data']) {
    const dir = tempDir('drover-export-');
    assert.is((await drover(['import', 'ganeti', FIXTURES + name, '--out', path.join(dir, 'm')])).code, 0);
    const r = await drover(['export', 'ganeti', path.join(dir, 'm'), '--state-dir', path.join(dir, 'state')]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout, fs.readFileSync(FIXTURES + name, 'utf8'), name);
  }
});

test('export of instances with NICs: the file is as without them, and a warning names what is left out', async () => {
  const dir = tempDir('drover-export-nics-');
  assert.is((await drover(['import', 'ganeti', FIXTURES + 'hbal-evac.data', '--out', path.join(dir, 'm')])).code, 0);
  const before = await drover(['export', 'ganeti', path.join(dir, 'm'), '--placement', 'manifest']);
  const net = 'apiVersion: drover/v1\nkind: Network\nmetadata: { name: lan }\nspec: { cluster: ganeti, subnet: 10.42.0.0/24, link: br42 }\n';
  fs.writeFileSync(path.join(dir, 'm', 'network.yaml'), net);
  const file = path.join(dir, 'm', 'instances.yaml');
  const first = /^ {2}cluster: ganeti\n/m;
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(first, '  cluster: ganeti\n  nics: [{ network: lan, ip: 10.42.0.7 }, { network: lan }]\n'));
  const after = await drover(['export', 'ganeti', path.join(dir, 'm'), '--placement', 'manifest']);
  assert.is(after.code, 0, after.stderr);
  assert.is(after.stdout, before.stdout, 'NICs change nothing in the file');
  assert.match(after.stderr, /warning: 2 NIC\(s\) of 1 instance\(s\) are left out \([^)]+\): NICs \(addresses, MACs, networks\): the htools text format has none/);
});

/** A fixture imported and applied with its pins, then unpinned so that balance may move it. */
async function appliedAndUnpinned(name: string): Promise<{ manifests: string; state: string }> {
  const dir = tempDir('drover-ganeti-bal-');
  const manifests = path.join(dir, 'm'), state = path.join(dir, 'state');
  assert.is((await drover(['import', 'ganeti', FIXTURES + name, '--out', manifests])).code, 0);
  const a = await drover(['apply', '--yes', manifests, '--state-dir', state]);
  assert.is(a.code, 0, a.stdout + a.stderr);
  const file = path.join(manifests, 'instances.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^ {2}(primary|secondary): .*\n/gm, ''));
  return { manifests, state };
}

test('export after balance + apply shows the new placement, free memory and disk as hbal -S writes them', async () => {
  const { manifests, state } = await appliedAndUnpinned('n1-failure.data');
  const bal = await drover(['balance', '--json', manifests, '--state-dir', state]);
  const c = (JSON.parse(bal.stdout) as { clusters: { finalScore: number; initialScore: number; placements: Record<string, { primary: string; secondary?: string }> }[] }).clusters[0]!;
  assert.ok(Object.keys(c.placements).length > 0 && c.finalScore < c.initialScore);
  assert.is((await drover(['apply', '--yes', manifests, '--state-dir', state])).code, 0);
  const out = path.join(tempDir('drover-ganeti-bal-'), 'balanced.data');
  assert.is((await drover(['export', 'ganeti', manifests, '--state-dir', state, '--out', out])).code, 0);
  const exported = fs.readFileSync(out, 'utf8');
  const original = parseGanetiText(fs.readFileSync(FIXTURES + 'n1-failure.data', 'utf8'));
  assert.is(exported, formatGanetiText(withPlacements(original, new Map(Object.entries(c.placements)))));
  const score = clusterScore(ganetiToModel(parseGanetiText(exported), out)).score;
  assert.ok(Math.abs(score - c.finalScore) < 1e-6, `exported file scores ${score}, balance promised ${c.finalScore}`);
  if (fs.existsSync(`${HTOOLS_BIN}/hinfo`)) assert.ok(Math.abs(hinfoScore(out) - c.finalScore) < 1e-6, 'hinfo -t agrees');
  const manifest = await drover(['export', 'ganeti', manifests, '--placement', 'manifest']);
  assert.match(manifest.stderr, /8 instance\(s\) have no node yet/);
});

test('an unreachable node is exported offline (Y)', async () => {
  const { manifests, state } = await appliedAndUnpinned('hbal-excl-tags.data');
  assert.is((await drover(['sim', 'fail-node', 'node-01', '--state-dir', state])).code, 0);
  const r = await drover(['export', 'ganeti', manifests, '--state-dir', state]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^node-01\|[^\n]*\|Y\|/m);
  assert.match(r.stdout, /^node-02\|[^\n]*\|N\|/m);
});

test.run();
