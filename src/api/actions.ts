/**
 * The operators' actions: each is a decision written to the store (a node's drain override, a
 * placement target like `balance` writes) that the master's next run carries out, plus a journal
 * entry naming who asked. Refusals are typed, and change nothing.
 */
import type { Look } from './master.ts';
import type { Store } from '../store/store.ts';
import type { RequestType } from '../store/types.ts';

export type Refusal =
  | { readonly kind: 'not-found'; readonly message: string }
  | { readonly kind: 'conflict'; readonly message: string };

export type Outcome = { readonly ok: true; readonly message: string; readonly job: string } | { readonly ok: false; readonly refusal: Refusal };

const notFound = (message: string): Outcome => ({ ok: false, refusal: { kind: 'not-found', message } });
const conflict = (message: string): Outcome => ({ ok: false, refusal: { kind: 'conflict', message } });

/** Journal a request that was granted. */
export async function journal(store: Store, type: RequestType, subject: string, by: string, reason: string): Promise<Outcome> {
  const now = Date.now();
  const id = store.nextJobId();
  await store.putJob({ id, type, instance: subject, by, reason, start: now, end: now, result: 'succeeded' });
  return { ok: true, message: reason, job: id };
}

/** Drain (take no new instances) or undrain a node until its manifest says the same. */
export async function setDrained(store: Store, look: Look, node: string, drained: boolean, by: string): Promise<Outcome> {
  const d = look.desired.nodes.get(node);
  if (!d) return notFound(`no node ${node} in the manifests`);
  const rec = store.nodes.get(node) ?? { name: node };
  const { override: _, ...rest } = rec;
  // The same as the manifest: no override needed (and any earlier one is lifted).
  await store.putNode(d.drained === drained ? rest : { ...rest, override: { drained, by, at: Date.now() } });
  const verb = drained ? 'drained' : 'undrained';
  const how = d.drained === drained ? `as its manifest says` : `until its manifest says drained: ${drained}`;
  return journal(store, drained ? 'DrainNode' : 'UndrainNode', node, by, `node ${node} ${verb} by ${by} through the API, ${how}`);
}

/**
 * Move an instance to its secondary (the roles swap), as a placement decision the planner carries
 * out: a migration while the primary is up, a failover (after fencing) once it is down.
 */
export async function requestMove(store: Store, look: Look, instance: string, kind: 'migrate' | 'failover', by: string): Promise<Outcome> {
  const d = look.desired.instances.get(instance);
  const p = store.placements.get(instance);
  if (!d) return notFound(`no instance ${instance} in the manifests`);
  if (!p) return conflict(`${instance} is not placed yet`);
  if (!p.secondary) return conflict(`${instance} has no secondary to ${kind} to (disk template ${d.diskTemplate})`);
  if (d.primary) return conflict(`${instance} is pinned to ${d.primary} by its manifest: change the manifest to move it`);
  const up = look.observed.nodes.get(p.primary)?.health === 'up';
  if (kind === 'migrate' && !up) return conflict(`${instance}'s primary ${p.primary} is down: fail it over instead`);
  if (kind === 'failover' && up) return conflict(`${instance}'s primary ${p.primary} is up: migrate it instead (no writes lost)`);
  const reason = `${kind} ${instance} to ${p.secondary}, asked by ${by} through the API`;
  await store.putTarget({ instance, primary: p.secondary, secondary: p.primary, reason });
  return journal(store, kind === 'migrate' ? 'MigrateRequest' : 'FailoverRequest', instance, by, reason);
}
