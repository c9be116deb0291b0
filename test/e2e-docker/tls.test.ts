/**
 * Mutual TLS through the CLI: a node reached over tcp+mTLS works with the right client certificate; with
 * the wrong one (a certificate from another CA, `$TB/pki/wrong/`) or a CA that did not sign the engine,
 * `status` and `plan` show the node unreachable with a clear TLS message, apply moves nothing, and nothing
 * crashes. Own 2-node test bed on 127.0.0.59-60 (node2 with TLS). Needs root and scripts/ci-setup-docker.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  withBed, ok, IDLE, clusterSpec, events, runningCopies, writeManifests, type Bed, type Cli, type StatusJson,
} from './helpers.ts';

const CLUSTER = 'sec';

interface Ctx { bed?: Bed; tmp?: string; drover?: Cli; dir?: string }
const test = suite<Ctx>('e2e docker: mutual TLS through the CLI', {});

function manifests(ctx: Ctx, files: { ca: string; cert: string; key: string }): string {
  const bed = ctx.bed!;
  return writeManifests(ctx.dir!, {
    cluster: CLUSTER, spec: clusterSpec(bed, { nodeDownAfter: '1h' }),
    nodes: [{ name: 'node1', endpoint: bed.endpoint(1) }, { name: 'node2', endpoint: bed.endpoint(2), tls: files }],
    instances: [{ name: 'vault', command: IDLE, primary: 'node2', secondary: 'node1' }],
  });
}

const noCrash = (r: { stdout: string; stderr: string }, what: string): void =>
  assert.not.match(r.stdout + r.stderr, /unexpected error|at .*\.ts:\d+|TypeError|ReferenceError/, `${what}: no crash\n${r.stdout}\n${r.stderr}`);

withBed(test, 'drover-e2e-tls-', 2, 58, async (ctx) => {
  ctx.dir = path.join(ctx.tmp!, 'manifests');
  await ctx.bed!.run('tls', '2');
});

const pki = (bed: Bed) => `${bed.dir}/pki`;

test('the right client certificate: an instance created and running on the mTLS node', async (ctx) => {
  const bed = ctx.bed!;
  const drover = ctx.drover!;
  assert.match(bed.endpoint(2), /:2376$/);
  const dir = manifests(ctx, { ca: `${pki(bed)}/ca.pem`, cert: `${pki(bed)}/client-cert.pem`, key: `${pki(bed)}/client-key.pem` });
  ok(await drover(['apply', dir, '--yes']), 'apply over mTLS');
  const st = await drover.json<StatusJson>(['status', dir]);
  assert.equal(st.nodes.map((n) => [n.name, n.health]), [['node1', 'up'], ['node2', 'up']]);
  const { copies } = await runningCopies(bed, CLUSTER);
  assert.equal(copies.get('vault')?.map((c) => c.node), ['node2'], 'vault runs on node2');
});

test('a client certificate from another CA: node unreachable with a clear TLS message in status and plan; apply moves nothing', async (ctx) => {
  const bed = ctx.bed!;
  const drover = ctx.drover!;
  const dir = manifests(ctx, { ca: `${pki(bed)}/ca.pem`, cert: `${pki(bed)}/wrong/client-cert.pem`, key: `${pki(bed)}/wrong/client-key.pem` });

  const sj = await drover(['status', dir, '--json']);
  ok(sj, 'status --json');
  const n2 = (JSON.parse(sj.stdout) as StatusJson).nodes.find((n) => n.name === 'node2')!;
  assert.is(n2.health, 'unreachable');
  assert.match(n2.error ?? '', /node2/);
  assert.match(n2.error ?? '', /TLS handshake failed/);
  assert.match(n2.error ?? '', /bad certificate/);
  console.log(`    status --json: ${n2.error}`);

  const s = await drover(['status', dir]);
  ok(s, 'status');
  noCrash(s, 'status');
  assert.match(s.stdout, /node2 +unreachable/);
  assert.match(s.stdout + s.stderr, /node2.*TLS handshake failed/, `status names the TLS failure\n${s.stdout}\n${s.stderr}`);

  const p = await drover(['plan', dir]);
  ok(p, 'plan');
  noCrash(p, 'plan');
  assert.match(p.stdout + p.stderr, /node2 unreachable.*TLS handshake failed.*bad certificate/, `plan says why\n${p.stdout}\n${p.stderr}`);
  const pj = JSON.parse((await drover(['plan', dir, '--json'])).stdout) as { operations: unknown[]; pending: { instance: string; reason: string }[] };
  assert.equal(pj.operations, []);
  assert.equal(pj.pending.map((x) => x.instance), ['vault']);
  assert.match(pj.pending[0]!.reason, /TLS handshake failed/);

  // the grace (1h) is past apply's wait limit: it stops at once with the work pending, and moves nothing
  const t0 = Date.now();
  const a = await drover(['apply', dir, '--yes', '--json']);
  ok(a, 'apply', 3);
  noCrash(a, 'apply');
  assert.ok(Date.now() - t0 < 60_000, 'apply did not wait out the grace');
  assert.not.ok(events(a.stdout).some((e) => e.type === 'operation-started'), 'no operation started');
  assert.not.ok(fs.existsSync(path.join(ctx.tmp!, 'fence.log')), 'nothing fenced');
  const { copies } = await runningCopies(bed, CLUSTER);
  assert.equal(copies.get('vault')?.map((c) => c.node), ['node2'], 'vault still runs on node2, once');
});

test('a CA that did not sign the engine: a clear TLS message too', async (ctx) => {
  const bed = ctx.bed!;
  const drover = ctx.drover!;
  const dir = manifests(ctx, { ca: `${pki(bed)}/wrong/ca.pem`, cert: `${pki(bed)}/client-cert.pem`, key: `${pki(bed)}/client-key.pem` });
  const sj = await drover(['status', dir, '--json']);
  ok(sj, 'status --json');
  const n2 = (JSON.parse(sj.stdout) as StatusJson).nodes.find((n) => n.name === 'node2')!;
  assert.is(n2.health, 'unreachable');
  assert.match(n2.error ?? '', /node2.*TLS handshake failed/);
  console.log(`    status --json: ${n2.error}`);
  const p = await drover(['plan', dir]);
  ok(p, 'plan');
  noCrash(p, 'plan');
  assert.match(p.stdout + p.stderr, /TLS handshake failed/);
});

test('the right certificate again: the node is back and nothing needs to change', async (ctx) => {
  const bed = ctx.bed!;
  const drover = ctx.drover!;
  const dir = manifests(ctx, { ca: `${pki(bed)}/ca.pem`, cert: `${pki(bed)}/client-cert.pem`, key: `${pki(bed)}/client-key.pem` });
  ok(await drover(['plan', dir, '--detailed-exitcode']), 'plan --detailed-exitcode');
  const st = await drover.json<StatusJson>(['status', dir]);
  assert.equal(st.nodes.map((n) => n.health), ['up', 'up']);
});

test.run();
