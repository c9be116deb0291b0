/**
 * Address assignment survives kill -9: `drover apply` (a child process) is killed at its Nth durable batch
 * while it creates instances with NICs. After every kill, each container the nodes show carries the
 * addresses and MACs the store holds for it (the assignment was committed before the container was made);
 * the resumed apply ends with the same assignment as an uninterrupted run: pooled NICs have the first free
 * addresses, and nothing changes on a third run.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { drover, fixture, runDrover } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';
import { assertNoDoubleRun, readStore, readWorld } from '../support/world.ts';

const FIX = fixture('network');
const NODES = ['n1', 'n2', 'n3'];
const test = suite('NIC assignments across kill -9');
test.after(cleanupTemps);

const assignments = (dir: string) => Object.fromEntries([...readStore(dir).placements.values()].map((p) => [p.instance, p.nics]));

/**
 * Every container on the nodes has the NICs its placement holds: exactly, once converged; mid-apply, each
 * NIC it has is the store's (the store may hold more: a NIC assigned before the container is made again).
 */
function containersMatchStore(dir: string, what: string, exact = true): number {
  const placements = readStore(dir).placements;
  let seen = 0;
  for (const [node, v] of Object.entries(readWorld(dir, NODES).nodes)) {
    for (const c of v.containers) {
      seen++;
      const p = placements.get(c.instance);
      assert.ok(p?.nics, `${what}: ${c.instance}'s container on ${node} exists, but the store holds no assignment for it`);
      const nics = exact ? p.nics : p.nics.slice(0, c.nics?.length ?? 0);
      assert.equal(c.nics, nics, `${what}: ${c.instance} on ${node}: the container's NICs differ from the store's`);
    }
  }
  return seen;
}

let reference: Record<string, unknown> = {};

test('an uninterrupted run: pooled NICs take the first free addresses, statics as written', async () => {
  const dir = tempDir();
  const r = await runDrover(['apply', '--yes', FIX, '--state-dir', dir], { DROVER_FSYNC: '0' });
  assert.is(r.code, 0, r.stdout + r.stderr);
  reference = assignments(dir);
  const ips = Object.fromEntries(Object.entries(reference).map(([k, v]) => [k, (v as { ip: string }[]).map((n) => n.ip)]));
  assert.equal(ips, { client: ['10.42.0.100'], client2: ['10.42.0.102', '10.42.0.103'], files: ['10.42.0.10'] });
  assert.is((reference.client2 as { mac: string }[])[1]!.mac, '02:aa:00:00:00:01');
  assert.is(containersMatchStore(dir, 'uninterrupted'), 3);
});

test('killed at every early batch, resumed: the same addresses and MACs, and each container made with its assignment', async () => {
  let killed = 0;
  for (let at = 1; at <= 24; at += 1 + (at > 8 ? 2 : 0)) {
    const what = `kill at batch ${at}`;
    const dir = tempDir();
    const first = await runDrover(['apply', '--yes', FIX, '--state-dir', dir], { DROVER_FSYNC: '0', DROVER_FAILPOINT_KILL_AT: String(at) });
    if (first.signal === 'SIGKILL') killed++;
    assertNoDoubleRun(readWorld(dir, NODES), `${what}: `);
    containersMatchStore(dir, what, false);
    const second = await drover(['apply', '--yes', FIX, '--state-dir', dir]);
    assert.is(second.code, 0, `${what}: resumed apply: ${second.stdout}${second.stderr}`);
    assert.equal(assignments(dir), reference, `${what}: the assignment after the resumed apply`);
    assert.is(containersMatchStore(dir, `${what}, resumed`), 3);
    const again = await drover(['plan', FIX, '--detailed-exitcode', '--state-dir', dir]);
    assert.is(again.code, 0, `${what}: a plan after the resumed apply still has work:\n${again.stdout}`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(killed >= 10, `most runs were really killed (${killed})`);
});

test('a NIC added to a running instance: its assignment is in the store before the container is made again, whenever the master dies', async () => {
  const base = tempDir();
  assert.is((await runDrover(['apply', '--yes', FIX, '--state-dir', base], { DROVER_FSYNC: '0' })).code, 0);
  const more = tempDir('drover-net-manifests-');
  const text = fs.readFileSync(`${FIX}/cluster.yaml`, 'utf8');
  fs.writeFileSync(`${more}/cluster.yaml`, text.replace('nics: [{ network: lan, ip: 10.42.0.10 }]', 'nics: [{ network: lan, ip: 10.42.0.10 }, { network: lan }]'));
  let killed = 0;
  for (let at = 1; at <= 9; at++) {
    const what = `new NIC, kill at batch ${at}`;
    const dir = tempDir();
    fs.cpSync(base, dir, { recursive: true });
    const first = await runDrover(['apply', '--yes', more, '--state-dir', dir], { DROVER_FSYNC: '0', DROVER_FAILPOINT_KILL_AT: String(at) });
    if (first.signal === 'SIGKILL') killed++;
    containersMatchStore(dir, what, false);
    assert.is((await drover(['apply', '--yes', more, '--state-dir', dir])).code, 0, what);
    const files = assignments(dir).files!;
    assert.equal(files.map((n) => n.ip), ['10.42.0.10', '10.42.0.104'], what);
    assert.equal(files[0], (reference.files as unknown[])[0], `${what}: the first NIC as it was`);
    containersMatchStore(dir, `${what}, resumed`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(killed >= 3, `runs really killed (${killed})`);
});

test.run();
