/**
 * Where each instance should be after this plan: its target primary and secondary, and why they
 * change. Existing placements stay unless a reason moves them (a dead or evacuated node, a pin);
 * everything that needs a new node goes through one Allocator, largest instances first.
 */
import { Allocator } from '../alloc/index.ts';
import type { ClusterModel, InstanceModel } from '../alloc/model.ts';
import { instanceModel, nodeModels } from './model.ts';
import type { DesiredCluster, DesiredInstance } from '../model/desired.ts';
import type { BalanceTarget, Placement } from '../store/types.ts';
import { unusableWhy, type NodeFacts } from './facts.ts';
import { diskBytes } from './spec.ts';
import type { PlanInput } from './types.ts';

export type PrimaryChange =
  | { readonly kind: 'keep' }
  | { readonly kind: 'failover'; readonly why: string }
  | { readonly kind: 'migrate'; readonly why: string }
  | { readonly kind: 'move'; readonly why: string };

export interface Target {
  readonly instance: DesiredInstance;
  readonly placement?: Placement;
  readonly primary?: string;
  readonly secondary?: string;
  readonly primaryChange: PrimaryChange;
  /** Why the secondary changes, when it does. */
  readonly secondaryWhy?: string;
  /** Set when the instance cannot be placed or moved now. */
  readonly blocked?: string;
}

interface Draft {
  instance: DesiredInstance;
  placement?: Placement;
  primary?: string;
  secondary?: string;
  primaryChange: PrimaryChange;
  secondaryWhy?: string;
  needsPrimary?: string; // why the allocator must choose a primary
  needsSecondary?: string; // why the allocator must choose a secondary
  blocked?: string;
}

export function computeTargets(
  input: PlanInput,
  cluster: DesiredCluster,
  instances: readonly DesiredInstance[],
  facts: ReadonlyMap<string, NodeFacts>,
  warnings: string[],
): Target[] {
  const budget = failoverBudget(input, cluster);
  const drafts = instances.map((d) => draftOf(d, input.store.placements.get(d.name), facts, budget, input.store.targets?.get(d.name)));
  const allocator = new Allocator(modelOf(input, cluster, drafts, facts));
  const unplaced = drafts.filter((d) => d.needsPrimary).sort(largestFirst);
  for (const d of unplaced) {
    const r = allocator.place(instanceModel(d.instance, undefined, undefined));
    if (!r.ok) {
      d.blocked = `cannot place ${d.instance.name}: ${r.reason}`;
      continue;
    }
    warnings.push(...r.warnings.map((w) => `${d.instance.name}: ${w}`));
    d.primary = r.primary;
    if (d.instance.diskTemplate === 'replicated') {
      d.secondaryWhy = d.needsSecondary ?? d.needsPrimary;
      d.secondary = r.secondary;
    }
    delete d.needsSecondary;
  }
  for (const d of drafts.filter((x) => x.needsSecondary && x.primary && !x.blocked)) {
    const r = allocator.replaceSecondary(d.instance.name, [d.primary!, ...(d.placement?.secondary ? [d.placement.secondary] : [])]);
    if (!r.ok) d.blocked = `no new secondary for ${d.instance.name}: ${r.reason}`;
    else {
      warnings.push(...r.warnings.map((w) => `${d.instance.name}: ${w}`));
      d.secondary = r.secondary ?? r.primary;
      d.secondaryWhy = d.needsSecondary;
    }
  }
  return drafts.map(finish);
}

function finish(d: Draft): Target {
  return {
    instance: d.instance,
    primaryChange: d.primaryChange,
    ...(d.placement && { placement: d.placement }),
    ...(d.primary && { primary: d.primary }),
    ...(d.secondary && { secondary: d.secondary }),
    ...(d.secondaryWhy && { secondaryWhy: d.secondaryWhy }),
    ...(d.blocked && { blocked: d.blocked }),
  };
}

const largestFirst = (a: Draft, b: Draft): number =>
  b.instance.memory - a.instance.memory || diskBytes(b.instance) - diskBytes(a.instance) || (a.instance.name < b.instance.name ? -1 : 1);

/** Decide what can be decided without the allocator. */
function draftOf(d: DesiredInstance, p: Placement | undefined, facts: ReadonlyMap<string, NodeFacts>, budget: Budget, target?: BalanceTarget): Draft {
  const replicated = d.diskTemplate === 'replicated';
  const usable = (n: string | undefined) => n !== undefined && facts.get(n)?.usable === true;
  const why = (n: string) => unusableWhy(facts.get(n));
  if (!p) return newInstance(d, replicated, usable, why);
  const draft: Draft = { instance: d, placement: p, primary: p.primary, primaryChange: { kind: 'keep' } };
  if (replicated && p.secondary) draft.secondary = p.secondary;
  const pf = facts.get(p.primary);
  const secondaryOk = replicated && usable(p.secondary);
  if (pf && !pf.up) {
    if (!pf.dead) return draft; // within the grace: nothing moves yet (reported as pending)
    if (pf.failoverBlocked) return { ...draft, blocked: `${p.primary} is down: ${pf.failoverBlocked}` };
    if (!secondaryOk) return { ...draft, blocked: replicated ? `${p.primary} is down and the secondary ${p.secondary ?? '(none)'} cannot take over; lost until ${p.primary} returns` : `${p.primary} is down and ${d.name} is plain (no replica); lost until ${p.primary} returns` };
    if (budget.left <= 0) return { ...draft, blocked: `${p.primary} is down, but ${budget.used} failovers started in the last hour (failover.maxPerHour: ${budget.limit}); waiting` };
    budget.left--;
    draft.primary = p.secondary!;
    delete draft.secondary;
    draft.primaryChange = { kind: 'failover', why: `primary ${p.primary} down since ${new Date(pf.nodeDownSince!).toISOString()}` };
    draft.needsSecondary = `${p.primary} failed`;
    if (d.secondary && d.secondary !== draft.primary && usable(d.secondary)) { draft.secondary = d.secondary; draft.secondaryWhy = `${p.primary} failed`; delete draft.needsSecondary; }
    return draft;
  }
  const evacuate = evacuation(p.primary, pf);
  const pin = pinsOf(d, target, usable);
  if (pin.primary && pin.primary !== p.primary) {
    if (!usable(pin.primary)) return { ...draft, blocked: `pinned primary ${pin.primary} cannot take instances now: ${why(pin.primary)}` };
    moveTo(draft, pin.primary, pin.why ?? `pinned to primary ${pin.primary}`);
  } else if (evacuate) {
    if (secondaryOk) moveTo(draft, p.secondary!, evacuate);
    else { draft.needsPrimary = evacuate; draft.primaryChange = { kind: 'move', why: evacuate }; }
  }
  // A secondary that is only briefly unreachable keeps its role until its grace is over.
  const waiting = (n: string | undefined) => { const f = n ? facts.get(n) : undefined; return !!f && !f.up && !f.dead; };
  return withSecondary(draft, d, p, pin, (n) => usable(n) || waiting(n), why);
}

/** Pins: the manifest's, else a balance decision's (which is dropped, not blocking, when its nodes cannot take it). */
interface Pins { readonly primary?: string; readonly secondary?: string; readonly why?: string }

function pinsOf(d: DesiredInstance, target: BalanceTarget | undefined, usable: (n: string | undefined) => boolean): Pins {
  if (d.primary || d.secondary || !target) return { ...(d.primary && { primary: d.primary }), ...(d.secondary && { secondary: d.secondary }) };
  if (!usable(target.primary) || (target.secondary !== undefined && !usable(target.secondary))) return {};
  return { primary: target.primary, ...(target.secondary && { secondary: target.secondary }), why: target.reason };
}

/** Failovers this plan may still start: the cluster's hourly bound minus the journal's last hour. */
interface Budget { left: number; readonly used: number; readonly limit: number }

function failoverBudget(input: PlanInput, cluster: DesiredCluster): Budget {
  const limit = cluster.failover.maxPerHour ?? 10;
  if (!limit || !input.store.jobs) return { left: Infinity, used: 0, limit };
  const since = input.now - 3_600_000;
  let used = 0;
  for (const j of input.store.jobs.values()) {
    if (j.type === 'FailoverInstance' && j.start > since && j.result !== 'failed' && input.desired.instances.get(j.instance)?.cluster === cluster.name) used++;
  }
  return { left: limit - used, used, limit };
}

function newInstance(d: DesiredInstance, replicated: boolean, usable: (n: string | undefined) => boolean, why: (n: string) => string): Draft {
  const draft: Draft = { instance: d, primaryChange: { kind: 'keep' } };
  if (!d.primary) { draft.needsPrimary = 'new instance'; return draft; }
  if (!usable(d.primary)) return { ...draft, blocked: `pinned primary ${d.primary} cannot take instances now: ${why(d.primary)}` };
  draft.primary = d.primary;
  if (!replicated) return draft;
  if (d.secondary) {
    if (!usable(d.secondary)) return { ...draft, blocked: `pinned secondary ${d.secondary} cannot take replicas now: ${why(d.secondary)}` };
    draft.secondary = d.secondary;
  } else draft.needsSecondary = 'new instance';
  return draft;
}

function evacuation(node: string, f: NodeFacts | undefined): string | undefined {
  if (!f?.desired) return `node ${node} is no longer in the manifests`;
  if (f.desired.offline) return `node ${node} is offline`;
  if (f.desired.drained) return `node ${node} is drained`;
  return undefined;
}

function moveTo(draft: Draft, node: string, why: string): void {
  const p = draft.placement!;
  const kind = node === p.secondary ? 'migrate' : 'move';
  draft.primary = node;
  draft.primaryChange = { kind, why };
  if (kind === 'migrate') draft.secondary = p.primary;
}

/** The secondary after the primary change: kept, pinned, or to be chosen. */
function withSecondary(draft: Draft, d: DesiredInstance, p: Placement, pin: Pins, usable: (n: string | undefined) => boolean, why: (n: string) => string): Draft {
  if (d.diskTemplate !== 'replicated') {
    delete draft.secondary;
    if (p.secondary) draft.secondaryWhy = 'disk template is now plain';
    return draft;
  }
  if (pin.secondary && pin.secondary !== draft.secondary && pin.secondary !== draft.primary) {
    if (!usable(pin.secondary)) return { ...draft, blocked: `pinned secondary ${pin.secondary} cannot take replicas now: ${why(pin.secondary)}` };
    draft.secondary = pin.secondary;
    draft.secondaryWhy = pin.why ?? `pinned to secondary ${pin.secondary}`;
    return draft;
  }
  if (draft.needsPrimary) return draft;
  const s = draft.secondary;
  if (!s) draft.needsSecondary = p.secondary ? 'secondary lost' : 'disk template is now replicated';
  else if (s === draft.primary) draft.needsSecondary = 'secondary became primary';
  else if (!usable(s)) draft.needsSecondary = `secondary ${s} cannot hold replicas (down, drained, offline or fenced)`;
  if (draft.needsSecondary) delete draft.secondary;
  return draft;
}

function modelOf(input: PlanInput, cluster: DesiredCluster, drafts: readonly Draft[], facts: ReadonlyMap<string, NodeFacts>): ClusterModel {
  const instances = new Map<string, InstanceModel>();
  for (const d of drafts) {
    if (d.needsPrimary || !d.primary) continue;
    instances.set(d.instance.name, instanceModel(d.instance, d.primary, d.needsSecondary ? undefined : d.secondary));
  }
  return { nodes: nodeModels(input, cluster, facts), instances, policy: cluster.policy };
}
