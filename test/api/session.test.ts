/** The browser session: HttpOnly SameSite=Strict cookie, CSRF token and Origin on every state change. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TokenFile } from '../../src/api/tokens.ts';
import { fixture, type Fixture } from './support.ts';

let f: Fixture;
test.before(async () => { f = await fixture(); });
test.after(async () => { await f.close(); });

const ORIGIN = 'http://localhost:80';
const login = async (token: string, origin = ORIGIN) => {
  const r = await f.app.inject({ method: 'POST', url: '/api/session', headers: { host: 'localhost:80', origin }, payload: { token } });
  const set = String(r.headers['set-cookie'] ?? '');
  return { status: r.statusCode, body: r.json(), setCookie: set, cookie: set.split(';')[0]! };
};
const drain = (headers: Record<string, string>) => f.app.inject({ method: 'POST', url: '/api/nodes/node2/drain', headers: { host: 'localhost:80', ...headers } });

test('logging in sets an HttpOnly, SameSite=Strict session cookie and returns a CSRF token', async () => {
  const s = await login(f.tokens.operator);
  assert.is(s.status, 200);
  assert.match(s.setCookie, /^drover_session=[\w-]{40,};/);
  assert.match(s.setCookie, /HttpOnly/);
  assert.match(s.setCookie, /SameSite=Strict/);
  assert.equal([s.body.name, s.body.role], ['alice', 'operator']);
  assert.ok(s.body.csrf.length >= 40);
  const me = await f.app.inject({ method: 'GET', url: '/api/session', headers: { cookie: s.cookie } });
  assert.equal(me.json(), s.body, 'a reloaded page gets its CSRF token back from the session');
  assert.is((await f.app.inject({ method: 'GET', url: '/api/nodes', headers: { cookie: s.cookie } })).statusCode, 200);
});

test('a bad token does not log in; a login from another origin is refused', async () => {
  assert.is((await login('drover_nope')).status, 401);
  const foreign = await login(f.tokens.operator, 'https://evil.example');
  assert.is(foreign.status, 403);
  assert.is(foreign.setCookie, '');
});

test('a state change with the cookie alone (what a cross-site form would send): 403, nothing changed', async () => {
  const s = await login(f.tokens.operator);
  const r = await drain({ cookie: s.cookie, origin: ORIGIN });
  assert.is(r.statusCode, 403);
  assert.is(r.json().error, 'csrf');
  assert.is(f.store.nodes.get('node2')?.override, undefined);
});

test('the right CSRF token from another origin, or with no origin at all: 403', async () => {
  const s = await login(f.tokens.operator);
  assert.is((await drain({ cookie: s.cookie, 'x-csrf-token': s.body.csrf, origin: 'https://evil.example' })).statusCode, 403);
  assert.is((await drain({ cookie: s.cookie, 'x-csrf-token': s.body.csrf })).statusCode, 403);
  assert.is((await drain({ cookie: s.cookie, 'x-csrf-token': 'x'.repeat(s.body.csrf.length), origin: ORIGIN })).statusCode, 403);
  const other = await login(f.tokens.operator);
  assert.is((await drain({ cookie: s.cookie, 'x-csrf-token': other.body.csrf, origin: ORIGIN })).statusCode, 403, "another session's token");
  assert.is(f.store.nodes.get('node2')?.override, undefined);
});

test('cookie + its CSRF token + this origin: the action goes through (and a Referer stands in for a missing Origin)', async () => {
  const s = await login(f.tokens.operator);
  const r = await drain({ cookie: s.cookie, 'x-csrf-token': s.body.csrf, origin: ORIGIN });
  assert.is(r.statusCode, 200, r.body);
  assert.is(f.store.nodes.get('node2')?.override?.by, 'alice');
  const u = await f.app.inject({ method: 'POST', url: '/api/nodes/node2/undrain', headers: { host: 'localhost:80', cookie: s.cookie, 'x-csrf-token': s.body.csrf, referer: `${ORIGIN}/` } });
  assert.is(u.statusCode, 200);
});

test('a viewer session writing: 403 even with a valid CSRF token', async () => {
  const s = await login(f.tokens.viewer);
  const r = await drain({ cookie: s.cookie, 'x-csrf-token': s.body.csrf, origin: ORIGIN });
  assert.is(r.statusCode, 403);
  assert.is(r.json().error, 'forbidden');
});

test('revoking the token ends its sessions; logging out ends one', async () => {
  const file = new TokenFile(f.sb.state);
  const secret = file.create('carol', 'viewer');
  const s = await login(secret);
  assert.is((await f.app.inject({ method: 'GET', url: '/api/nodes', headers: { cookie: s.cookie } })).statusCode, 200);
  assert.ok(file.revoke('carol'));
  assert.is((await f.app.inject({ method: 'GET', url: '/api/nodes', headers: { cookie: s.cookie } })).statusCode, 401);
  const t = await login(f.tokens.viewer);
  const out = await f.app.inject({ method: 'DELETE', url: '/api/session', headers: { host: 'localhost:80', cookie: t.cookie, origin: ORIGIN } });
  assert.is(out.statusCode, 200);
  assert.is((await f.app.inject({ method: 'GET', url: '/api/nodes', headers: { cookie: t.cookie } })).statusCode, 401);
});

test('every response carries the security headers (CSP, no framing)', async () => {
  for (const url of ['/', '/ui/app.js', '/api/nodes', '/api/openapi.json']) {
    const r = await f.app.inject({ method: 'GET', url });
    assert.match(String(r.headers['content-security-policy']), /default-src 'self'/, url);
    assert.is(r.headers['x-frame-options'], 'DENY', url);
  }
});

test.run();
