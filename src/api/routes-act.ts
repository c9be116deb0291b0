/**
 * The operators' actions (operator role): each writes a decision the master's next run carries
 * out, journals who asked, and pokes the master so that the run comes now.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { acquireLease, breakLease, leaseStatus } from '../store/lease.ts';
import { Store } from '../store/store.ts';
import { journal, requestMove, setDrained, type Outcome } from './actions.ts';
import type { ApiMaster, Look } from './master.ts';
import { nameParams } from './routes-read.ts';
import { ERROR } from './http.ts';

const operator = { access: 'operator' as const };
const result = { 200: { type: 'object', properties: { message: { type: 'string' }, job: { type: 'string' } } }, '4xx': ERROR, '5xx': ERROR } as const;

export function actionRoutes(app: FastifyInstance, master: ApiMaster): void {
  const act = (url: string, summary: string, fn: (req: FastifyRequest, look: Look, by: string) => Promise<Outcome>) =>
    app.post(url, { config: operator, schema: { summary, tags: ['actions'], ...(url.includes(':name') && { params: nameParams }), response: result } },
      async (req, reply) => {
        const look = master.look();
        if (!master.reconcile) return refuse(reply, 409, 'read-only', 'drover serve only reads: act on the converging master (drover watch --listen)');
        if (!look) return refuse(reply, 503, 'not-ready', 'the master has not observed the nodes yet');
        const r = await fn(req, look, req.principal!.name);
        if (!r.ok) return refuse(reply, r.refusal.kind === 'not-found' ? 404 : 409, r.refusal.kind, r.refusal.message);
        master.hub.publish('journal', { job: r.job, message: r.message });
        master.reconcile(`api:${req.principal!.name}`);
        return { message: r.message, job: r.job };
      });
  const name = (req: FastifyRequest) => (req.params as { name: string }).name;
  act('/api/reconcile', 'Reconcile now (a run of the master, as a manifest change would start)',
    (_req, _look, by) => journal(master.store(), 'Reconcile', '', by, `reconcile asked by ${by} through the API`));
  act('/api/nodes/:name/drain', 'Drain a node (no new instances) until its manifest says the same; plan shows the override',
    (req, look, by) => setDrained(master.store(), look, name(req), true, by));
  act('/api/nodes/:name/undrain', 'Undrain a node: lift an override, or override the manifest\'s drained: true',
    (req, look, by) => setDrained(master.store(), look, name(req), false, by));
  act('/api/instances/:name/migrate', 'Migrate an instance to its secondary (a placement decision the next run carries out)',
    (req, look, by) => requestMove(master.store(), look, name(req), 'migrate', by));
  act('/api/instances/:name/failover', 'Fail an instance over to its secondary once its primary is down (fenced first, as always)',
    (req, look, by) => requestMove(master.store(), look, name(req), 'failover', by));

  app.post('/api/lease/break', { config: operator, schema: { summary: 'Break a stale cluster lease (expired, or its holder gone); never a live master\'s', tags: ['actions'], response: result } },
    async (req, reply) => {
      const holder = await leaseStatus(master.location);
      const self = master.lease?.();
      if (!holder) return refuse(reply, 409, 'conflict', 'the lease is free: nothing to break');
      if (self && holder.pid === self.pid && holder.host === self.host) return refuse(reply, 409, 'conflict', 'this master holds the lease: stop it instead');
      if (holder.expiresAt > Date.now()) return refuse(reply, 409, 'conflict', `the lease is held by pid ${holder.pid} on ${holder.host} and renewed (until ${new Date(holder.expiresAt).toISOString()}): not stale`);
      await breakLease(master.location);
      const by = req.principal!.name;
      const reason = `stale lease of pid ${holder.pid} on ${holder.host} (${holder.command}) broken by ${by} through the API`;
      // Journaled under the lease, as every write to the store is; then let go for the next master.
      const lease = await acquireLease(master.location, `drover serve (lease break by ${by})`, 5000);
      const store = await Store.open(master.location, { lease });
      try {
        const r = await journal(store, 'BreakLease', '', by, reason);
        if (r.ok) master.hub.publish('journal', { job: r.job, message: reason });
        return r.ok ? { message: reason, job: r.job } : refuse(reply, 409, 'conflict', reason);
      } finally { await store.close(); await lease.release(); }
    });
}

const refuse = (reply: FastifyReply, code: number, error: string, message: string) => reply.code(code).send({ error, message });
