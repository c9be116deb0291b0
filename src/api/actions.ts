/**
 * The operators' actions, carried out by the master: each is a decision written to the store (a
 * node's drain override, a placement target like `balance` writes) that the master's next run
 * carries out, plus a journal entry naming who asked. Refusals are typed, and change nothing.
 */
import { acquireLease, breakLease, leaseStatus, type LeaseHolder } from '../store/lease.ts';
import type { StoreLocation } from '../store/backend.ts';
import { Store } from '../store/store.ts';
import type { RequestType } from '../store/types.ts';
import type { ActionRequest, Look } from './master.ts';

export type Refusal =
  | { readonly kind: 'not-found'; readonly message: string }
  | { readonly kind: 'conflict'; readonly message: string }
  | { readonly kind: 'not-ready'; readonly message: string };

export type Outcome = { readonly ok: true; readonly message: string; readonly job: string } | { readonly ok: false; readonly refusal: Refusal };

const refused = (kind: Refusal['kind'], message: string): Outcome => ({ ok: false, refusal: { kind, message } });

export interface Performer {
  /** The master's own store (it holds the lease); undefined on `drover serve`, which only reads. */
  readonly store?: Store;
  readonly look: () => Look | undefined;
  /** Ask the master for a run now. */
  readonly reconcile?: (trigger: string) => void;
  readonly location: StoreLocation;
  /** This process's lease, never broken from here. */
  readonly lease?: () => LeaseHolder | undefined;
}

/** Carry out one request on the master's side. */
export async function perform(p: Performer, r: ActionRequest): Promise<Outcome> {
  if (r.kind === 'break-lease') return breakStale(p, r.by);
  const look = p.look();
  if (!p.store || !p.reconcile) return refused('conflict', 'drover serve only reads: act on the converging master (drover watch --listen)');
  if (!look) return refused('not-ready', 'the master has not observed the nodes yet');
  const out = await decide(p.store, look, r);
  if (out.ok) p.reconcile(`api:${r.by}`);
  return out;
}

function decide(store: Store, look: Look, r: Exclude<ActionRequest, { kind: 'break-lease' }>): Promise<Outcome> {
  switch (r.kind) {
    case 'reconcile': return journal(store, 'Reconcile', '', r.by, `reconcile asked by ${r.by} through the API`);
    case 'drain': case 'undrain': return setDrained(store, look, r.node, r.kind === 'drain', r.by);
    case 'migrate': case 'failover': return requestMove(store, look, r.instance, r.kind, r.by);
  }
}

/** Journal a request that was granted. */
async function journal(store: Store, type: RequestType, subject: string, by: string, reason: string): Promise<Outcome> {
  const now = Date.now();
  const id = store.nextJobId();
  await store.putJob({ id, type, instance: subject, by, reason, start: now, end: now, result: 'succeeded' });
  return { ok: true, message: reason, job: id };
}

/** Drain (take no new instances) or undrain a node until its manifest says the same. */
async function setDrained(store: Store, look: Look, node: string, drained: boolean, by: string): Promise<Outcome> {
  const d = look.desired.nodes.get(node);
  if (!d) return refused('not-found', `no node ${node} in the manifests`);
  const { override: _, ...rest } = store.nodes.get(node) ?? { name: node };
  // The same as the manifest: no override needed (and any earlier one is lifted).
  await store.putNode(d.drained === drained ? rest : { ...rest, override: { drained, by, at: Date.now() } });
  const how = d.drained === drained ? 'as its manifest says' : `until its manifest says drained: ${drained}`;
  return journal(store, drained ? 'DrainNode' : 'UndrainNode', node, by, `node ${node} ${drained ? 'drained' : 'undrained'} by ${by} through the API, ${how}`);
}

/**
 * Move an instance to its secondary (the roles swap), as a placement decision the planner carries
 * out: a migration while the primary is up, a failover (after fencing) once it is down.
 */
async function requestMove(store: Store, look: Look, instance: string, kind: 'migrate' | 'failover', by: string): Promise<Outcome> {
  const d = look.desired.instances.get(instance);
  const p = store.placements.get(instance);
  if (!d) return refused('not-found', `no instance ${instance} in the manifests`);
  if (!p) return refused('conflict', `${instance} is not placed yet`);
  if (!p.secondary) return refused('conflict', `${instance} has no secondary to ${kind} to (disk template ${d.diskTemplate})`);
  if (d.primary) return refused('conflict', `${instance} is pinned to ${d.primary} by its manifest: change the manifest to move it`);
  const up = look.observed.nodes.get(p.primary)?.health === 'up';
  if (kind === 'migrate' && !up) return refused('conflict', `${instance}'s primary ${p.primary} is down: fail it over instead`);
  if (kind === 'failover' && up) return refused('conflict', `${instance}'s primary ${p.primary} is up: migrate it instead (no writes lost)`);
  const reason = `${kind} ${instance} to ${p.secondary}, asked by ${by} through the API`;
  await store.putTarget({ instance, primary: p.secondary, secondary: p.primary, reason });
  return journal(store, kind === 'migrate' ? 'MigrateRequest' : 'FailoverRequest', instance, by, reason);
}

/**
 * Break another process's lease, as `drover lock break` does. An expired lease, or one whose
 * holder is gone, is free already (the next master takes it over); what is left to break is a
 * holder that renews but no longer acts (a stuck master). It stops at once when it finds the
 * lease gone, so two masters never act. Never this process's own lease.
 */
async function breakStale(p: Performer, by: string): Promise<Outcome> {
  const holder = await leaseStatus(p.location);
  const self = p.lease?.();
  if (!holder) return refused('conflict', 'the lease is free (or expired, or its holder gone): the next master takes it over, nothing to break');
  if (self && holder.pid === self.pid && holder.host === self.host) return refused('conflict', 'this master holds the lease: stop it instead');
  await breakLease(p.location);
  // Journaled under the lease, as every write to the store is; then let go for the next master.
  const lease = await acquireLease(p.location, `drover serve (lease break by ${by})`, 5000);
  const store = await Store.open(p.location, { lease });
  try {
    return await journal(store, 'BreakLease', '', by, `lease of pid ${holder.pid} on ${holder.host} (${holder.command}) broken by ${by} through the API`);
  } finally { await store.close(); await lease.release(); }
}
