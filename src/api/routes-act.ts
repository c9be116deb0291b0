/**
 * The operators' actions (operator role): the master carries each out (src/api/actions.ts),
 * journals who asked, and runs now.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ERROR } from './http.ts';
import type { ActionRequest, ApiMaster } from './master.ts';
import { nameParams } from './routes-read.ts';

const operator = { access: 'operator' as const };
const result = { 200: { type: 'object', properties: { message: { type: 'string' }, job: { type: 'string' } } }, '4xx': ERROR, '5xx': ERROR } as const;
const STATUS = { 'not-found': 404, conflict: 409, 'not-ready': 503 } as const;

export function actionRoutes(app: FastifyInstance, master: ApiMaster): void {
  const act = (url: string, summary: string, request: (req: FastifyRequest, by: string) => ActionRequest) =>
    app.post(url, { config: operator, schema: { summary, tags: ['actions'], ...(url.includes(':name') && { params: nameParams }), response: result } },
      async (req, reply) => {
        const r = await master.act(request(req, req.principal!.name));
        if (!r.ok) return reply.code(STATUS[r.refusal.kind]).send({ error: r.refusal.kind, message: r.refusal.message });
        master.hub.publish('journal', { job: r.job, message: r.message });
        return { message: r.message, job: r.job };
      });
  const name = (req: FastifyRequest) => (req.params as { name: string }).name;
  act('/api/reconcile', 'Reconcile now (a run of the master, as a manifest change would start)', (_req, by) => ({ kind: 'reconcile', by }));
  act('/api/nodes/:name/drain', 'Drain a node (no new instances) until its manifest says the same; plan shows the override', (req, by) => ({ kind: 'drain', node: name(req), by }));
  act('/api/nodes/:name/undrain', 'Undrain a node: lift an override, or override the manifest\'s drained: true', (req, by) => ({ kind: 'undrain', node: name(req), by }));
  act('/api/instances/:name/migrate', 'Migrate an instance to its secondary (a placement decision the next run carries out)', (req, by) => ({ kind: 'migrate', instance: name(req), by }));
  act('/api/instances/:name/failover', 'Fail an instance over to its secondary once its primary is down (fenced first, as always)', (req, by) => ({ kind: 'failover', instance: name(req), by }));
  act('/api/lease/break', 'Break the cluster lease another process holds (a stuck master; it stops at once), as drover lock break; never this master\'s own', (_req, by) => ({ kind: 'break-lease', by }));
}
