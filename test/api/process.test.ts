/**
 * curl against a real `drover watch --listen` (and `drover serve` with TLS): the API answers,
 * 401/403 are enforced, the OpenAPI document lists every route, /metrics parses, the stream
 * carries the master's events. Loopback only, port 0.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseExposition } from '../monitor/exposition.ts';
import { drover, sandbox, WatchProcess, type Sandbox } from '../support/watch.ts';

const hasCurl = (() => { try { execFileSync('curl', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();

/** One request with curl (status and body); fetch where curl is absent (said once, below). */
async function curl(url: string, o: { token?: string; method?: string; insecure?: boolean } = {}): Promise<{ status: number; body: string }> {
  const headers = o.token ? { authorization: `Bearer ${o.token}` } : undefined;
  if (!hasCurl) {
    const r = await fetch(url, { method: o.method ?? 'GET', ...(headers && { headers }) });
    return { status: r.status, body: await r.text() };
  }
  const args = ['-sS', '--max-time', '20', '-X', o.method ?? 'GET', '-w', '\n%{http_code}', ...(o.insecure ? ['-k'] : []), ...(headers ? ['-H', `authorization: ${headers.authorization}`] : []), url];
  const out = await new Promise<string>((resolve, reject) => {
    const c = spawn('curl', args);
    let s = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => { s += d; });
    c.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`curl ${args.join(' ')} exited ${code}`))));
  });
  const cut = out.lastIndexOf('\n');
  return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
}

function tokens(sb: Sandbox): { operator: string; viewer: string } {
  const create = (name: string, role: string) => {
    const r = drover(sb, ['token', 'create', name, '--role', role]);
    assert.is(r.code, 0, r.err);
    assert.match(r.err, /shown this once/);
    return r.out.trim();
  };
  return { operator: create('alice', 'operator'), viewer: create('bob', 'viewer') };
}

const ROUTES = ['/api/clusters', '/api/nodes', '/api/nodes/{name}', '/api/instances', '/api/instances/{name}', '/api/plan', '/api/drift', '/api/verify', '/api/journal', '/api/lease',
  '/api/events', '/api/session', '/api/reconcile', '/api/nodes/{name}/drain', '/api/nodes/{name}/undrain', '/api/instances/{name}/migrate', '/api/instances/{name}/failover', '/api/lease/break', '/metrics'];

test(`watch --listen: the API answers, 401/403 enforced, OpenAPI lists every route, /metrics parses (${hasCurl ? 'curl' : 'fetch: curl absent'})`, async () => {
  const sb = sandbox();
  const t = tokens(sb);
  assert.not.match(drover(sb, ['token', 'list']).out, new RegExp(t.operator.slice(8, 20)), 'never printed after creation');
  const w = new WatchProcess(sb, ['--listen', '127.0.0.1:0']);
  try {
    const base = (await w.waitFor(/API and dashboard on (http:\/\/127\.0\.0\.1:\d+)\//, 30_000))[1]!;
    await w.waitFor(/Run 1 \(start\)/, 30_000);
    assert.is((await curl(`${base}/api/instances`)).status, 401);
    const list = await curl(`${base}/api/instances`, { token: t.viewer });
    assert.is(list.status, 200);
    assert.is(JSON.parse(list.body).total, 5);
    const refused = await curl(`${base}/api/nodes/node1/drain`, { token: t.viewer, method: 'POST' });
    assert.is(refused.status, 403);
    assert.is(JSON.parse(refused.body).error, 'forbidden');
    const doc = JSON.parse((await curl(`${base}/api/openapi.json`)).body) as { openapi: string; paths: Record<string, unknown> };
    assert.match(doc.openapi, /^3\./);
    assert.equal(ROUTES.filter((r) => !(r in doc.paths)), [], 'every route in the document');
    const metrics = await curl(`${base}/metrics`);
    assert.is(metrics.status, 200);
    assert.ok(parseExposition(metrics.body).size > 5, 'the exposition parses');
    // N+1, found once per look by the API's views thread, reaches the master's metrics
    for (const deadline = Date.now() + 30_000; !/^drover_n1_failing_nodes 0$/m.test((await curl(`${base}/metrics`)).body);) {
      assert.ok(Date.now() < deadline, 'drover_n1_failing_nodes 0 in /metrics');
      await new Promise((r) => setTimeout(r, 100));
    }
    const page = await curl(`${base}/`);
    assert.match(page.body, /<script type="module" src="\/ui\/app.js">/);
    // the live stream: an operator's reconcile shows up as the master's events
    const ctl = new AbortController();
    const stream = await fetch(`${base}/api/events`, { headers: { authorization: `Bearer ${t.viewer}` }, signal: ctl.signal });
    assert.match(String(stream.headers.get('content-type')), /text\/event-stream/);
    const ok = await curl(`${base}/api/reconcile`, { token: t.operator, method: 'POST' });
    assert.is(ok.status, 200, ok.body);
    const seen = await readUntil(stream.body!, /event: watch\ndata: \{"type":"run"[^\n]*"trigger":"api:alice"/, 30_000);
    ctl.abort();
    assert.match(seen, /event: journal\ndata: [^\n]*reconcile asked by alice/);
    await w.waitFor(/Run 2 \(api:alice\)/, 30_000);
    assert.is(await w.stop(), 0);
  } finally { w.child.kill('SIGKILL'); }
});

test('serve with the operator\'s certificate: HTTPS, read-only; plain HTTP beyond loopback refused', async () => {
  const sb = sandbox();
  const t = tokens(sb);
  assert.is(drover(sb, ['apply', sb.manifests]).code, 0);
  const cert = path.join(sb.dir, 'api.crt');
  const key = path.join(sb.dir, 'api.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const refused = drover(sb, ['serve', sb.manifests, '--listen', '0.0.0.0:0']);
  assert.is(refused.code, 1);
  assert.match(refused.err, /plain HTTP beyond loopback would send tokens in clear/);
  const child = spawn(process.execPath, [path.resolve('bin/drover.js'), 'serve', sb.manifests, '--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key, '--every', '1s'],
    { cwd: sb.dir, env: { ...process.env, DROVER_STATE_DIR: sb.state, DROVER_FSYNC: '0' } });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  try {
    const deadline = Date.now() + 30_000;
    while (!/on https:\/\/127\.0\.0\.1:\d+\//.test(err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const base = /on (https:\/\/127\.0\.0\.1:\d+)\//.exec(err)?.[1];
    assert.ok(base, err);
    if (!hasCurl) return;
    assert.is((await curl(`${base}/api/nodes`, { insecure: true })).status, 401);
    let nodes = await curl(`${base}/api/nodes`, { insecure: true, token: t.viewer });
    while (nodes.status === 503 && Date.now() < deadline) { await new Promise((r) => setTimeout(r, 200)); nodes = await curl(`${base}/api/nodes`, { insecure: true, token: t.viewer }); }
    assert.is(nodes.status, 200, nodes.body);
    assert.is(JSON.parse(nodes.body).nodes.length, 3);
    const act = await curl(`${base}/api/reconcile`, { insecure: true, token: t.operator, method: 'POST' });
    assert.is(act.status, 409);
    assert.match(JSON.parse(act.body).message, /only reads/);
  } finally { child.kill('SIGTERM'); }
  assert.ok(fs.existsSync(cert));
});

test('serve breaks the lease a (stuck) master holds: the master stops at once; the break is journaled', async () => {
  const sb = sandbox();
  const t = tokens(sb);
  const w = new WatchProcess(sb, []);
  const child = spawn(process.execPath, [path.resolve('bin/drover.js'), 'serve', sb.manifests, '--listen', '127.0.0.1:0', '--every', '1s'],
    { cwd: sb.dir, env: { ...process.env, DROVER_STATE_DIR: sb.state, DROVER_FSYNC: '0' } });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  try {
    await w.waitFor(/Run 1 \(start\)/, 30_000);
    const deadline = Date.now() + 30_000;
    while (!/on http:\/\/127\.0\.0\.1:\d+\//.test(err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const base = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(err)?.[1];
    assert.ok(base, err);
    const lease = JSON.parse((await curl(`${base}/api/lease`, { token: t.viewer })).body) as { holder: { pid: number } };
    assert.is(lease.holder.pid, w.child.pid);
    assert.is((await curl(`${base}/api/lease/break`, { token: t.viewer, method: 'POST' })).status, 403);
    const r = await curl(`${base}/api/lease/break`, { token: t.operator, method: 'POST' });
    assert.is(r.status, 200, r.body);
    assert.is(await w.exited, 1);
    assert.match(w.err, /lost the cluster lease/);
    const jobs = (JSON.parse(drover(sb, ['jobs', '--json']).out) as { jobs: { type: string; by?: string }[] }).jobs;
    assert.ok(jobs.some((j) => j.type === 'BreakLease' && j.by === 'alice'));
    assert.is((await curl(`${base}/api/lease/break`, { token: t.operator, method: 'POST' })).status, 409, 'free now: nothing to break');
  } finally { child.kill('SIGTERM'); w.child.kill('SIGKILL'); }
});

async function readUntil(body: ReadableStream<Uint8Array>, re: RegExp, ms: number): Promise<string> {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let text = '';
  const deadline = Date.now() + ms;
  while (!re.test(text)) {
    if (Date.now() > deadline) throw new Error(`stream: no ${re} in:\n${text.slice(-2000)}`);
    const next = await Promise.race([reader.read(), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), deadline - Date.now()))]);
    if (next === 'timeout') continue;
    if (next.done) throw new Error(`stream ended before ${re}:\n${text.slice(-2000)}`);
    text += dec.decode(next.value);
  }
  return text;
}

test.run();
