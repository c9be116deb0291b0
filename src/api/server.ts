/**
 * The master's HTTP server: the read API, the operators' actions, the live event stream, the
 * dashboard's files and the OpenAPI document. fastify: each route's JSON schema validates its
 * input and is the source of the OpenAPI document (@fastify/swagger), so the two cannot disagree;
 * it is maintained and fast. Every /api route but login and the document needs a token.
 */
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiMaster } from './master.ts';
import { actionRoutes } from './routes-act.ts';
import { readRoutes } from './routes-read.ts';
import { ERROR, SECURITY_HEADERS } from './http.ts';
import { sameSecret, Sessions, COOKIE, CSRF_HEADER } from './sessions.ts';
import type { Principal, TokenFile } from './tokens.ts';

export type Access = 'public' | 'viewer' | 'operator';

declare module 'fastify' {
  interface FastifyRequest { principal?: Principal }
  interface FastifyContextConfig { access?: Access }
}

/** What serves /metrics (src/monitor/metrics.ts): the exposition text and its content type. */
export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

export interface ServerOptions {
  readonly master: ApiMaster;
  readonly tokens: TokenFile;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly metrics?: MetricsSource;
  /** /metrics wants a viewer token (default: open, as Prometheus scrapes usually are on a trusted network). */
  readonly metricsAuth?: boolean;
  /** Where an unexpected error is told (the master's stderr). */
  readonly onError?: (e: Error) => void;
}

const DASHBOARD = fileURLToPath(new URL('../../dashboard/', import.meta.url));
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function buildServer(o: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false, forceCloseConnections: true, bodyLimit: 64 * 1024, routerOptions: { maxParamLength: 300 },
    ...(o.tls && { https: { cert: o.tls.cert, key: o.tls.key } }),
  }) as unknown as FastifyInstance;
  // The response schemas document (OpenAPI); plain JSON.stringify writes: they are open objects, and
  // fast-json-stringify's path for open objects is slower than JSON.stringify at 20,000 rows.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  const sessions = new Sessions();
  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Drover master API', version: '1', description: 'Read the cluster as the running master sees it; operators trigger actions. Manifests stay the one place that declares instances.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: COOKIE } } },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  app.addHook('onSend', async (_req, reply) => { reply.headers(SECURITY_HEADERS); });
  app.addHook('onRequest', async (req, reply) => guard(req, reply, o.tokens, sessions));
  app.setErrorHandler((e: FastifyError, _req, reply) => {
    const code = e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    if (code === 500) o.onError?.(e);
    return reply.code(code).send({ error: code === 500 ? 'internal' : e.code ?? 'bad-request', message: code === 500 ? 'internal error (the master logged it)' : e.message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not-found', message: `no route ${req.method} ${req.url.split('?')[0]}` }));
  sessionRoutes(app, o.tokens, sessions);
  readRoutes(app, o.master);
  actionRoutes(app, o.master);
  if (o.metrics) metricsRoute(app, o.metrics, o.metricsAuth ?? false);
  dashboardRoutes(app);
  app.get('/api/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () => app.swagger());
  return app;
}

/** Who asks (bearer token, else session cookie), and may they: 401, 403, or on. */
async function guard(req: FastifyRequest, reply: FastifyReply, tokens: TokenFile, sessions: Sessions): Promise<FastifyReply | undefined> {
  const access = req.routeOptions.config?.access ?? 'public';
  if (access === 'public') return undefined;
  const auth = req.headers.authorization;
  let principal: Principal | undefined;
  if (auth !== undefined) {
    const m = /^Bearer ([!-~]{1,300})$/.exec(auth);
    principal = m ? tokens.check(m[1]!) : undefined;
  } else {
    const s = sessions.get(req.cookies[COOKIE]);
    if (s && tokens.has(s.tokenHash)) {
      // A cookie rides along on any request the browser makes: state changes also need the page's secret, from our origin.
      if (!SAFE.has(req.method) && !(sameSecret(header(req, CSRF_HEADER), s.csrf) && sameOrigin(req))) {
        return reply.code(403).send({ error: 'csrf', message: `a state-changing request from a browser session needs the ${CSRF_HEADER} header and this site's Origin` });
      }
      principal = s.principal;
    }
  }
  if (!principal) return reply.code(401).header('www-authenticate', 'Bearer realm="drover"').send({ error: 'unauthorized', message: 'log in, or send Authorization: Bearer TOKEN (drover token create)' });
  if (access === 'operator' && principal.role !== 'operator') return reply.code(403).send({ error: 'forbidden', message: `${principal.name} is a ${principal.role}: this needs an operator token` });
  req.principal = principal;
  return undefined;
}

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
};

/** The Origin (or, without one, the Referer) is this server: what a browser sends on its own pages' requests. */
function sameOrigin(req: FastifyRequest): boolean {
  const self = `${req.protocol}://${req.host}`;
  const origin = header(req, 'origin');
  if (origin !== undefined) return origin === self;
  const referer = header(req, 'referer');
  return referer !== undefined && (referer === self || referer.startsWith(`${self}/`));
}

function sessionRoutes(app: FastifyInstance, tokens: TokenFile, sessions: Sessions): void {
  const session = { type: 'object', properties: { name: { type: 'string' }, role: { type: 'string', enum: ['viewer', 'operator'] }, csrf: { type: 'string' } } } as const;
  app.post('/api/session', {
    config: { access: 'public' },
    schema: { summary: 'Log in with a token: sets the session cookie, returns the CSRF token to send back', tags: ['session'], security: [],
      body: { type: 'object', required: ['token'], additionalProperties: false, properties: { token: { type: 'string', minLength: 1, maxLength: 300 } } },
      response: { 200: session, '4xx': ERROR } },
  }, async (req, reply) => {
    if (header(req, 'origin') !== undefined && !sameOrigin(req)) return reply.code(403).send({ error: 'csrf', message: 'log in from this site only' });
    const who = tokens.check((req.body as { token: string }).token);
    if (!who) return reply.code(401).send({ error: 'unauthorized', message: 'unknown or revoked token' });
    const { id, session: s } = sessions.create({ name: who.name, role: who.role }, who.hash);
    reply.setCookie(COOKIE, id, { httpOnly: true, sameSite: 'strict', path: '/', secure: req.protocol === 'https' });
    return { ...s.principal, csrf: s.csrf };
  });
  app.get('/api/session', {
    config: { access: 'viewer' },
    schema: { summary: 'Who this session (or token) is, and its CSRF token', tags: ['session'], response: { 200: session } },
  }, async (req) => ({ ...req.principal!, csrf: sessions.get(req.cookies[COOKIE])?.csrf ?? '' }));
  app.delete('/api/session', {
    config: { access: 'public' }, schema: { summary: 'Log out', tags: ['session'] },
  }, async (req, reply) => {
    if (header(req, 'origin') !== undefined && !sameOrigin(req)) return reply.code(403).send({ error: 'csrf', message: 'log out from this site only' });
    sessions.end(req.cookies[COOKIE]);
    reply.clearCookie(COOKIE, { path: '/' });
    return { ok: true };
  });
}

function metricsRoute(app: FastifyInstance, metrics: MetricsSource, auth: boolean): void {
  app.get('/metrics', { config: { access: auth ? 'viewer' : 'public' }, schema: { summary: 'Prometheus metrics', tags: ['monitoring'] } },
    async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()));
}

/** The dashboard: files from the tree, no CDN; only plain names under dashboard/. */
function dashboardRoutes(app: FastifyInstance): void {
  const types: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' };
  const send = (file: string, reply: FastifyReply) => {
    const ext = path.extname(file).slice(1);
    const full = path.join(DASHBOARD, file);
    if (!types[ext] || !fs.existsSync(full)) return reply.code(404).send({ error: 'not-found', message: `no file ${file}` });
    return reply.type(types[ext]!).header('cache-control', 'no-cache').send(fs.readFileSync(full));
  };
  app.get('/', { config: { access: 'public' }, schema: { hide: true } }, async (_req, reply) => send('index.html', reply));
  app.get('/ui/:file', { config: { access: 'public' }, schema: { hide: true, params: { type: 'object', properties: { file: { type: 'string', pattern: '^[a-z0-9-]{1,40}\\.(html|js|css|svg)$' } } } } },
    async (req, reply) => send((req.params as { file: string }).file, reply));
}
