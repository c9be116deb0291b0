/**
 * Networks end to end through the CLI, on a 3-node test bed of its own (base 120; engines on one L2
 * segment, drvl2-BASE): a server with a static address serves a file over HTTP, a client instance with a
 * pooled address on another node fetches it; the server is migrated (live where CRIU can dump it, else
 * cold: the output says which) and then its node is killed and it fails over; the client fetches it at
 * the same address after each, and the MAC stays the same. A client polling every 50 ms measures how long
 * the address went unanswered. A pooled instance gets the first free address and keeps it across an apply
 * after a master killed with -9 in the middle of its creation.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import type { NicBinding } from '../../src/model/nics.ts';
import {
  withBed, ok, clusterSpec, events, runningCopies, until, watchCopies, writeManifests, type Bed, type BedCtx,
} from '../e2e-docker/helpers.ts';
import { SERVER, startPoller, type Segment } from './segment.ts';

const CLUSTER = 'net';
const IDLE = ['sh', '-c', "trap 'exit 0' TERM; while :; do usleep 100000; done"];
const test = suite<BedCtx>('e2e net: addresses and MACs through migration and failover (CLI)', {});

withBed(test, 'drover-e2e-net-', 3, 120);

/** The segment's addresses: 10.B.0.0/24 where B is the test bed's base (another base when 120 is busy). */
const net = (bed: Bed) => {
  const p = `10.${bed.base % 256}.0`;
  return { subnet: `${p}.0/24`, gateway: `${p}.1`, pool: `${p}.100-${p}.199`, server: `${p}.10`, first: `${p}.100`, second: `${p}.101`, poller: `${p}.250`, link: `drvl2-${bed.base}` };
};

interface Inst { readonly [k: string]: unknown; name: string; nics: { network: string; ip?: string }[]; command: readonly string[]; primary: string; secondary: string }

function manifests(ctx: BedCtx, instances: readonly Inst[]): string {
  const bed = ctx.bed!;
  const n = net(bed);
  const dir = writeManifests(path.join(ctx.tmp!, 'manifests'), {
    cluster: CLUSTER, spec: { ...clusterSpec(bed, { nodeDownAfter: '3s' }), macPrefix: '02:d7:00' },
    nodes: [1, 2, 3].map((i) => ({ name: `node${i}`, endpoint: bed.endpoint(i) })),
    instances,
  });
  fs.writeFileSync(path.join(dir, 'networks.yaml'), `${JSON.stringify({
    apiVersion: 'drover/v1', kind: 'Network', metadata: { name: 'lan' },
    spec: { cluster: CLUSTER, subnet: n.subnet, gateway: n.gateway, pool: n.pool, link: n.link, mode: 'macvlan' },
  })}\n`);
  return dir;
}

const server = (bed: Bed, primary: string, secondary: string): Inst =>
  ({ name: 'web', nics: [{ network: 'lan', ip: net(bed).server }], command: SERVER, primary, secondary });
const pooled = (name: string, primary: string, secondary: string): Inst => ({ name, nics: [{ network: 'lan' }], command: IDLE, primary, secondary });

/** The address and MAC of an instance's container on node I, as the engine shows it. */
async function nicOn(bed: Bed, i: number, instance: string): Promise<{ ip: string; mac: string } | undefined> {
  const info = await bed.engine(i).getContainer(`drover-${instance}`).inspect().catch(() => undefined);
  const ep = info?.NetworkSettings.Networks[`drover-net-${CLUSTER}_lan`];
  if (!info || !ep) return undefined;
  return { ip: ep.IPAMConfig?.IPv4Address ?? ep.IPAddress, mac: (info.State.Running ? ep.MacAddress : (info.Config as { MacAddress?: string }).MacAddress ?? '').toLowerCase() };
}

/** http://ADDR/f fetched from inside the client instance (on node I). */
async function fetchFromClient(docker: Docker, addr: string): Promise<string> {
  const ex = await docker.getContainer('drover-client').exec({ Cmd: ['sh', '-c', `timeout 3 wget -q -O- http://${addr}/f 2>&1; true`], AttachStdout: true, AttachStderr: true });
  const stream = await ex.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => { stream.on('data', (b: Buffer) => chunks.push(b)); stream.on('end', resolve); stream.on('close', resolve); });
  (stream as unknown as { destroy(): void }).destroy(); // a hijacked connection: it would keep the process alive
  const buf = Buffer.concat(chunks);
  const out: Buffer[] = [];
  for (let i = 0; i + 8 <= buf.length;) { const len = buf.readUInt32BE(i + 4); out.push(buf.subarray(i + 8, i + 8 + len)); i += 8 + len; }
  return Buffer.concat(out).toString();
}

/** A poller on node 1's segment (attached straight to its Drover network, as a client outside Drover). */
const segment = (bed: Bed): Segment => {
  const n = net(bed);
  const nic: NicBinding = { network: 'lan', ip: n.poller, mac: '02:d7:ff:00:00:01', prefixLength: 24, subnet: n.subnet, gateway: n.gateway, link: n.link, mode: 'macvlan' };
  return { cluster: CLUSTER, nic };
};

const macs = new Map<string, string>();

test('a server with a static address serves a file; a pooled client on another node fetches it', async (ctx) => {
  const bed = ctx.bed!;
  const n = net(bed);
  const dir = manifests(ctx, [server(bed, 'node1', 'node2'), pooled('client', 'node3', 'node2')]);
  ok(await ctx.drover!(['apply', dir, '--yes']), 'apply (create)');
  const web = await nicOn(bed, 1, 'web');
  const client = await nicOn(bed, 3, 'client');
  assert.is(web?.ip, n.server, 'the static address');
  assert.is(client?.ip, n.first, 'the first free address of the pool');
  assert.match(web!.mac, /^02:d7:00(:[0-9a-f]{2}){3}$/, `a MAC from the cluster's prefix (${web!.mac})`);
  macs.set('web', web!.mac);
  const got = await until('the client to fetch the file', async () => /served by web/.test(await fetchFromClient(bed.engine(3), n.server)), 30_000);
  assert.ok(got);
  ok(await ctx.drover!(['plan', dir, '--detailed-exitcode']), 'nothing left to do');
});

test('verify: clean as made; a NIC changed by hand is ENICMISMATCH, and the next apply makes it as assigned again', async (ctx) => {
  const bed = ctx.bed!;
  const n = net(bed);
  const drover = ctx.drover!;
  const dir = manifests(ctx, [server(bed, 'node1', 'node2'), pooled('client', 'node3', 'node2')]);
  type Verify = { findings: { code: string; cause?: { instance?: string } }[]; networks?: unknown };
  const nicFindings = (v: Verify) => v.findings.filter((f) => /^E(NIC|DUP|NET)/.test(f.code));
  // (its exit code also counts findings this test is not about)
  const verify = async (): Promise<Verify> => JSON.parse((await drover(['verify', dir, '--json'])).stdout) as Verify;
  assert.equal(nicFindings(await verify()), [], 'no NIC findings as made');
  const before = await nicOn(bed, 3, 'client');
  // by hand, outside Drover: the client moved to another address of the segment
  const lan = bed.engine(3).getNetwork(`drover-net-${CLUSTER}_lan`);
  await lan.disconnect({ Container: 'drover-client', Force: true });
  await lan.connect({ Container: 'drover-client', EndpointConfig: { IPAMConfig: { IPv4Address: n.first.replace(/\.\d+$/, '.240') } } });
  const found = nicFindings(await verify());
  assert.equal(found.map((f) => [f.code, f.cause?.instance]), [['ENICMISMATCH', 'client']], `verify sees the changed NIC: ${JSON.stringify(found)}`);
  ok(await drover(['apply', dir, '--yes']), 'apply (puts the NIC back)');
  assert.equal(await nicOn(bed, 3, 'client'), before, 'the assigned address and MAC again');
  assert.equal(nicFindings(await verify()), [], 'clean again');
});

test('migrated, then failed over: the client fetches it at the same address, with the same MAC; downtime measured', async (ctx) => {
  const bed = ctx.bed!;
  const n = net(bed);
  const drover = ctx.drover!;
  // migrate: the primary pinned to its secondary
  let poll = await startPoller(bed.engine(1), bed.image, segment(bed), n.poller, n.server);
  await new Promise((r) => setTimeout(r, 1000));
  const watch = watchCopies(bed, CLUSTER);
  const r = await drover(['apply', manifests(ctx, [server(bed, 'node2', 'node1'), pooled('client', 'node3', 'node2')]), '--yes', '--json']);
  await new Promise((res) => setTimeout(res, 1000));
  let res = await poll.stop();
  ok(r, 'apply (migrate)');
  const done = events(r.stdout).filter((e) => e.type === 'operation-finished' && e.op?.instance === 'web');
  assert.equal(done.map((e) => [e.op!.type, e.result]), [['MigrateInstance', 'succeeded']]);
  const taken = done[0]!.migration as { path: 'live'; downtimeMs: number } | { path: 'cold'; cause: string; why?: string };
  const pathSaid = taken.path === 'live' ? `live (frozen ${taken.downtimeMs} ms)` : `cold (${taken.cause}${taken.why ? `: ${taken.why.slice(0, 140)}` : ''})`;
  console.log(`    migration node1 → node2: ${pathSaid}; unreachable for ${res.longestGapMs} ms (client polling every 50 ms: ${res.ok}/${res.attempts} answered)`);
  assert.ok(res.ok > 0, 'the poller was answered');
  assert.equal((await nicOn(bed, 2, 'web')), { ip: n.server, mac: macs.get('web') }, 'on node2: the same address and MAC');
  assert.match(await fetchFromClient(bed.engine(3), n.server), /served by web/, 'the client fetches it after the migration');

  // failover: node2 dies
  poll = await startPoller(bed.engine(1), bed.image, segment(bed), n.poller, n.server);
  await new Promise((rr) => setTimeout(rr, 1000));
  const t0 = Date.now();
  await bed.run('kill', '2');
  // the pins follow what the failover does (web to its secondary node1, replicas off the dead node2)
  const f = await drover(['apply', manifests(ctx, [server(bed, 'node1', 'node3'), pooled('client', 'node3', 'node1')]), '--yes', '--json']);
  const applyMs = Date.now() - t0;
  await new Promise((rr) => setTimeout(rr, 1000));
  res = await poll.stop();
  const report = await watch.stop();
  ok(f, 'apply (after the kill)');
  const fo = events(f.stdout).filter((e) => e.type === 'operation-finished' && e.op?.instance === 'web' && e.op.type === 'FailoverInstance');
  assert.equal(fo.map((e) => e.result), ['succeeded'], 'web failed over');
  console.log(`    failover node2 → node1 after a kill (nodeDownAfter 3s, fence): unreachable for ${res.longestGapMs} ms (apply took ${applyMs} ms; ${res.ok}/${res.attempts} answered)`);
  assert.equal(report.violations, [], 'never two running copies');
  assert.equal((await nicOn(bed, 1, 'web')), { ip: n.server, mac: macs.get('web') }, 'on node1: the same address and MAC');
  assert.match(await fetchFromClient(bed.engine(3), n.server), /served by web/, 'the client fetches it after the failover');
  const { copies } = await runningCopies(bed, CLUSTER);
  assert.equal(copies.get('web')?.map((c) => c.node), ['node1']);
  const jobs = (await drover.json<{ jobs: { type: string; instance: string; nics?: { ip: string; mac: string }[] }[] }>(['jobs'])).jobs.filter((j) => j.instance === 'web');
  const journal = jobs.filter((j) => j.nics).map((j) => `${j.type} ${j.nics!.map((x) => `${x.ip} ${x.mac}`).join()}`);
  console.log(`    journal of web: ${journal.join('; ')}`);
  for (const t of ['CreateInstance', 'MigrateInstance', 'FailoverInstance']) {
    assert.ok(journal.includes(`${t} ${n.server} ${macs.get('web')}`), `the journal shows ${t} with ${n.server} ${macs.get('web')}: ${journal.join('; ')}`);
  }
  await bed.run('restore', '2');
});

test('a pooled instance gets the first free address and keeps it across an apply after a master kill -9 mid-creation', async (ctx) => {
  const bed = ctx.bed!;
  const n = net(bed);
  const drover = ctx.drover!;
  const base = [server(bed, 'node1', 'node3'), pooled('client', 'node3', 'node1')];
  const both = [...base, pooled('pool0', 'node3', 'node1'), pooled('pool1', 'node1', 'node3')];
  const third = n.second.replace(/\.\d+$/, '.102');
  ok(await drover(['apply', manifests(ctx, base), '--yes']), 'apply (web and client where this test wants them)');
  // killed as each step of pool1's creation starts (its address decided and recorded by then)
  for (const step of ['createDisks', 'createContainer', 'start', 'verify']) {
    const s = drover.spawn(['apply', manifests(ctx, [...base, pooled('pool1', 'node1', 'node3')]), '--yes', '--json']);
    let out = '';
    let killed = false;
    s.child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (!killed && out.split('\n').some((l) => l.includes('"type":"step"') && l.includes('"instance":"pool1"') && l.includes(`"step":"${step}"`))) {
        killed = true;
        s.child.kill('SIGKILL');
      }
    });
    const first = await s.done;
    assert.ok(killed && first.signal === 'SIGKILL', `the master was killed at ${step} (${first.signal ?? first.code}): ${out.slice(-400)}`);
    const seen = await nicOn(bed, 1, 'pool1');
    // a newcomer sorted before it: had pool1's address not been kept, it would take that first free one
    ok(await drover(['apply', manifests(ctx, both), '--yes']), `killed at ${step}: the next apply`);
    const [p1, p0] = [await nicOn(bed, 1, 'pool1'), await nicOn(bed, 3, 'pool0')];
    console.log(`    master killed at pool1's ${step}${seen ? ` (its container made with ${seen.ip})` : ' (no container yet)'}; after the next apply: pool1 ${p1?.ip}, pool0 ${p0?.ip}`);
    assert.is(p1?.ip, n.second, `killed at ${step}: pool1 keeps the first free address (${n.first} is the client's)`);
    if (seen) assert.is(seen.ip, n.second);
    assert.is(p0?.ip, third, `killed at ${step}: the newcomer takes the next one`);
    const st = await drover.json<{ instances: { name: string; nics?: { ip: string; mac: string }[] }[] }>(['status', manifests(ctx, both)]);
    assert.equal(st.instances.find((i) => i.name === 'pool1')?.nics?.map((x) => x.ip), [n.second], 'status shows the kept address');
    ok(await drover(['plan', manifests(ctx, both), '--detailed-exitcode']), `killed at ${step}: nothing left to do`);
    // gone again: their addresses are released for the next round
    ok(await drover(['apply', manifests(ctx, [...base, { ...pooled('pool0', 'node3', 'node1'), state: 'absent' }, { ...pooled('pool1', 'node1', 'node3'), state: 'absent' }]), '--yes']),
      `killed at ${step}: remove them`);
    assert.is(await nicOn(bed, 1, 'pool1'), undefined, 'pool1 removed');
  }
});

test.run();
