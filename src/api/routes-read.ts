/** The read routes: the cluster as the master sees it now, its journal, and the live stream. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { leaseStatus } from '../store/lease.ts';
import type { ApiMaster } from './master.ts';
import { ERROR, SECURITY_HEADERS } from './http.ts';
import { at, CLUSTER, DRIFT, FINDING, INSTANCE, JOB, list, NODE, open } from './schemas.ts';
import { journalPage, type JournalQuery, type ReadViews } from './views.ts';

export const NAME = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$' } as const;
export const nameParams = { type: 'object', required: ['name'], properties: { name: NAME } } as const;
const viewer = { access: 'viewer' as const };

export function readRoutes(app: FastifyInstance, master: ApiMaster): void {
  const ready = (reply: FastifyReply): ReadViews | undefined => {
    const v = master.views();
    if (!v) void reply.code(503).header('retry-after', '2').send({ error: 'not-ready', message: 'the master has not observed the nodes yet' });
    return v;
  };
  const get = (url: string, summary: string, schema: object, fn: (req: FastifyRequest, reply: FastifyReply, v: ReadViews) => unknown) =>
    app.get(url, { config: viewer, schema: { summary, tags: ['cluster'], ...schema } }, async (req, reply) => {
      const v = ready(reply);
      return v ? fn(req, reply, v) : reply;
    });

  get('/api/clusters', 'Clusters: nodes up and down, capacity used, N+1, cluster score', { response: at({ clusters: list(CLUSTER) }) }, (_q, _r, v) => ({ at: v.at, clusters: v.clusters }));
  get('/api/nodes', 'Nodes: health, flags (and an operator\'s override), capacity used, primaries, secondaries', { response: at({ nodes: list(NODE) }) }, (_q, _r, v) => ({ at: v.at, nodes: v.nodes }));
  get('/api/nodes/:name', 'One node, with the instances it holds', { params: nameParams, response: { ...at({ node: NODE, primaries: list(INSTANCE), secondaries: list(INSTANCE) }), '4xx': ERROR } }, (req, reply, v) => {
    const { name } = req.params as { name: string };
    const node = v.nodes.find((n) => n.name === name);
    if (!node) return reply.code(404).send({ error: 'not-found', message: `no node ${name}` });
    return { at: v.at, node, primaries: v.instances.filter((i) => i.primary === name), secondaries: v.instances.filter((i) => i.secondary === name) };
  });
  get('/api/instances', 'Instances (Ganeti Web Manager\'s table): placement, state, recovery point, degraded; filtered, one page at a time', {
    querystring: { type: 'object', properties: {
      node: NAME, state: { type: 'string', maxLength: 40 }, q: { type: 'string', maxLength: 253 }, degraded: { type: 'boolean' },
      limit: { type: 'integer', minimum: 1, maximum: 100_000, default: 1000 }, offset: { type: 'integer', minimum: 0, default: 0 },
    } },
    response: at({ total: { type: 'number' }, instances: list(INSTANCE) }),
  }, (req, _r, v) => {
    const q = req.query as { node?: string; state?: string; q?: string; degraded?: boolean; limit: number; offset: number };
    const all = q.node === undefined && q.state === undefined && q.q === undefined && q.degraded === undefined ? v.instances
      : v.instances.filter((i) => (q.node === undefined || i.primary === q.node || i.secondary === q.node) && (q.state === undefined || i.state === q.state)
        && (q.q === undefined || i.name.includes(q.q)) && (q.degraded === undefined || i.degraded === q.degraded));
    return { at: v.at, total: all.length, instances: all.slice(q.offset, q.offset + q.limit) };
  });
  get('/api/instances/:name', 'One instance', { params: nameParams, response: { ...at({ instance: INSTANCE }), '4xx': ERROR } }, (req, reply, v) => {
    const { name } = req.params as { name: string };
    const instance = v.instances.find((i) => i.name === name);
    return instance ? { at: v.at, instance } : reply.code(404).send({ error: 'not-found', message: `no instance ${name}` });
  });
  get('/api/plan', 'The master\'s last plan: operations with their reasons and field diffs, pending items, warnings', {}, (_q, _r, v) => ({ ...v.plan, at: v.at }));
  get('/api/drift', 'Changes made on the nodes outside Drover, as the last plan found them', { response: at({ drift: list(DRIFT) }) }, (_q, _r, v) => ({ at: v.at, drift: v.drift }));
  get('/api/verify', 'The checks of gnt-cluster verify (N+1, policy, copies, replicas, unreachable nodes)', { response: at({ findings: list(FINDING) }) }, (_q, _r, v) => ({ at: v.at, findings: v.findings }));

  app.get('/api/journal', { config: viewer, schema: { summary: 'The journal, newest first: operations and the requests operators made, with who asked', tags: ['journal'],
    querystring: { type: 'object', properties: {
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, before: { type: 'string', maxLength: 100 },
      instance: { type: 'string', maxLength: 253 }, type: { type: 'string', maxLength: 40 }, result: { type: 'string', enum: ['running', 'succeeded', 'failed', 'parked'] },
      by: { type: 'string', maxLength: 63 }, since: { type: 'integer', minimum: 0 },
    } },
    response: { 200: open({ jobs: list(JOB), next: { type: 'string', description: 'the before= of the next page' } }), '4xx': ERROR } } }, async (req) => journalPage(master.jobs(), req.query as JournalQuery));

  app.get('/api/lease', { config: viewer, schema: { summary: 'Who holds the cluster lease', tags: ['cluster'] } },
    async () => ({ holder: (await leaseStatus(master.location)) ?? null }));

  app.get('/api/events', { config: viewer, schema: { summary: 'Live stream (server-sent events): apply (the events apply --json prints), watch (runs, health changes), look (a new round), journal', tags: ['journal'] } },
    (req, reply) => stream(req, reply, master));
}

/** Server-sent events until the client goes; a client that cannot keep up is let go. */
function stream(req: FastifyRequest, reply: FastifyReply, master: ApiMaster): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write(': drover\n\n');
  const end = () => { off(); clearInterval(ping); res.end(); };
  const off = master.hub.subscribe((e) => {
    if (res.writableLength > 4 * 2 ** 20) return end();
    res.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
  });
  const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
  req.raw.on('close', end);
}
