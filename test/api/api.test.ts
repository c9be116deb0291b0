/** The API in this process (fastify's inject): reads, roles, actions journaled with who asked. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EventHub } from '../../src/api/master.ts';
import { buildServer } from '../../src/api/server.ts';
import { TokenFile } from '../../src/api/tokens.ts';
import { bearer, fixture, type Fixture } from './support.ts';

let f: Fixture;
test.before(async () => { f = await fixture(); });
test.after(async () => { await f.close(); });

const get = async (url: string, token = f.tokens.viewer) => {
  const r = await f.app.inject({ method: 'GET', url, headers: bearer(token) });
  return { status: r.statusCode, body: r.json() };
};
const post = async (url: string, token = f.tokens.operator) => {
  const r = await f.app.inject({ method: 'POST', url, headers: bearer(token) });
  return { status: r.statusCode, body: r.json() };
};

test('no token: 401 on every /api route but login and the document; a bad token: 401', async () => {
  for (const url of ['/api/clusters', '/api/nodes', '/api/instances', '/api/plan', '/api/journal', '/api/verify', '/api/drift', '/api/events']) {
    const r = await f.app.inject({ method: 'GET', url });
    assert.is(r.statusCode, 401, url);
    assert.match(r.headers['www-authenticate'] as string, /^Bearer/);
  }
  assert.is((await f.app.inject({ method: 'POST', url: '/api/reconcile' })).statusCode, 401);
  assert.is((await get('/api/nodes', 'drover_not-a-token')).status, 401);
  assert.is((await get('/api/nodes', `${f.tokens.viewer}x`)).status, 401);
  assert.is((await f.app.inject({ method: 'GET', url: '/api/openapi.json' })).statusCode, 200);
});

test('the reads: clusters, nodes, a node, instances with placement and recovery point, plan, verify, drift', async () => {
  const c = (await get('/api/clusters')).body.clusters[0];
  assert.equal([c.name, c.nodes.total, c.nodes.up, c.instances.total], ['lab', 3, 3, 5]);
  assert.ok(c.n1.ok && typeof c.score === 'number');
  const nodes = (await get('/api/nodes')).body.nodes;
  assert.equal(nodes.map((n: { name: string }) => n.name), ['node1', 'node2', 'node3']);
  const i = (await get('/api/instances')).body;
  assert.is(i.total, 5);
  const web1 = i.instances.find((x: { name: string }) => x.name === 'web1');
  assert.ok(web1.primary && web1.secondary && web1.image === 'busybox' && web1.disks.length === 1 && typeof web1.recoveryPoint === 'number', JSON.stringify(web1));
  assert.is(web1.degraded, false);
  const one = (await get(`/api/nodes/${web1.primary}`)).body;
  assert.ok(one.primaries.some((x: { name: string }) => x.name === 'web1'));
  assert.is((await get('/api/instances?limit=2&offset=1')).body.instances.length, 2);
  assert.is((await get(`/api/instances?node=${web1.primary}`)).body.instances.every((x: { primary: string; secondary: string }) => x.primary === web1.primary || x.secondary === web1.primary), true);
  assert.is((await get('/api/instances/web1')).body.instance.name, 'web1');
  assert.is((await get('/api/instances/nope')).status, 404);
  assert.is((await get('/api/nodes/nope')).status, 404);
  assert.equal((await get('/api/plan')).body.operations, []);
  assert.ok(Array.isArray((await get('/api/verify')).body.findings));
  assert.equal((await get('/api/drift')).body.drift, []);
});

test('a viewer writing: 403, and nothing changes', async () => {
  const before = f.store.jobs.size;
  for (const url of ['/api/reconcile', '/api/nodes/node1/drain', '/api/instances/web1/migrate', '/api/lease/break']) {
    const r = await post(url, f.tokens.viewer);
    assert.is(r.status, 403, url);
    assert.is(r.body.error, 'forbidden');
  }
  assert.is(f.store.jobs.size, before);
  assert.equal(f.pokes, []);
});

test('drain as operator: a runtime override the plan shows, journaled with who asked; undrain lifts it', async () => {
  const r = await post('/api/nodes/node3/drain');
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.is(f.store.nodes.get('node3')?.override?.by, 'alice');
  assert.equal(f.pokes, ['api:alice']);
  await f.look();
  const p = (await get('/api/plan')).body;
  assert.ok(p.warnings.some((w: string) => /node node3 is drained by alice through the API/.test(w)), JSON.stringify(p.warnings));
  assert.ok((await get('/api/nodes/node3')).body.node.flags.includes('drained'));
  const j = (await get('/api/journal?by=alice&limit=1')).body.jobs[0];
  assert.equal([j.type, j.instance, j.by, j.result], ['DrainNode', 'node3', 'alice', 'succeeded']);
  assert.is((await post('/api/nodes/node3/undrain')).status, 200);
  assert.is(f.store.nodes.get('node3')?.override, undefined, 'the same as the manifest: no override left');
  assert.is((await post('/api/nodes/nope/drain')).status, 404);
});

test('migrate as operator: a placement target for the next run; failover refused while the primary is up', async () => {
  const p = f.store.placements.get('web1')!;
  const r = await post('/api/instances/web1/migrate');
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.equal({ ...f.store.targets.get('web1') }, { instance: 'web1', primary: p.secondary, secondary: p.primary, reason: `migrate web1 to ${p.secondary}, asked by alice through the API` });
  const refused = await post('/api/instances/web1/failover');
  assert.is(refused.status, 409);
  assert.match(refused.body.message, /is up: migrate it instead/);
  assert.is((await post('/api/instances/scratch/migrate')).status, 409, 'a plain instance has no secondary');
  await f.store.deleteTarget('web1');
});

test('reconcile now pokes the master and is journaled; the lease break refuses a free lease', async () => {
  const r = await post('/api/reconcile');
  assert.is(r.status, 200);
  assert.is(f.store.jobs.get(r.body.job)?.type, 'Reconcile');
  const b = await post('/api/lease/break');
  assert.is(b.status, 409);
  assert.match(b.body.message, /free/);
});

test('the journal pages newest first and filters', async () => {
  const all = (await get('/api/journal?limit=1000')).body.jobs as { id: string; start: number }[];
  assert.ok(all.length >= 8);
  const p1 = (await get('/api/journal?limit=3')).body;
  const p2 = (await get(`/api/journal?limit=3&before=${p1.next}`)).body;
  assert.equal([...p1.jobs, ...p2.jobs].map((j: { id: string }) => j.id), all.slice(0, 6).map((j) => j.id));
  assert.ok((await get('/api/journal?type=CreateInstance')).body.jobs.every((j: { type: string }) => j.type === 'CreateInstance'));
  assert.is((await get('/api/journal?result=bogus')).status, 400);
});

test('tokens are kept hashed, the file readable by its owner only', async () => {
  const file = path.join(f.sb.state, 'api-tokens.json');
  const text = fs.readFileSync(file, 'utf8');
  assert.not.ok(text.includes(f.tokens.operator.slice(7)) || text.includes(f.tokens.viewer.slice(7)));
  assert.is(fs.statSync(file).mode & 0o777, 0o600);
});

test('/metrics: open by default; with metricsAuth a viewer token is needed', async () => {
  const metrics = { contentType: 'text/plain; version=0.0.4; charset=utf-8', render: async () => 'drover_up 1\n' };
  const master = { views: () => undefined, jobs: () => [], hub: new EventHub(), location: { kind: 'file' as const, stateDir: f.sb.state }, act: async () => { throw new Error('no'); } };
  for (const metricsAuth of [false, true]) {
    const app = await buildServer({ master, tokens: new TokenFile(f.sb.state), metrics, metricsAuth });
    const open = await app.inject({ method: 'GET', url: '/metrics' });
    assert.is(open.statusCode, metricsAuth ? 401 : 200);
    const withToken = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(f.tokens.viewer) });
    assert.equal([withToken.statusCode, withToken.body, String(withToken.headers['content-type'])], [200, 'drover_up 1\n', metrics.contentType]);
    await app.close();
  }
});

test('no unexpected error met', () => { assert.equal(f.errors, []); });

test.run();
