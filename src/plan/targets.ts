/**
 * Where each instance should be after this plan: its target primary and secondary, and why they
 * change. Existing placements stay unless a reason moves them (a dead or evacuated node, a pin);
 * everything that needs a new node goes through one Allocator, largest instances first.
 */
import { Allocator } from '../alloc/index.ts';
import type { ClusterModel, InstanceModel } from '../alloc/model.ts';
import { allocPolicy, instanceModel, nodeModels, withReportedDisk } from './model.ts';
import type { EvacuationCause, HoldCause, PlacementCause, Unfit } from '../model/causes.ts';
import type { DesiredCluster, DesiredInstance } from '../model/desired.ts';
import type { BalanceTarget, Placement } from '../store/types.ts';
import { guardOf, unfitness, type NodeFacts, type PartitionGuard } from './facts.ts';
import { diskBytes } from './spec.ts';
import type { PlanInput } from './types.ts';

export type PrimaryChange =
  | { readonly kind: 'keep' }
  | { readonly kind: 'failover'; readonly why: PlacementCause }
  | { readonly kind: 'migrate'; readonly why: PlacementCause }
  | { readonly kind: 'move'; readonly why: PlacementCause };

export interface Target {
  readonly instance: DesiredInstance;
  readonly placement?: Placement;
  readonly primary?: string;
  readonly secondary?: string;
  readonly primaryChange: PrimaryChange;
  /** Why the secondary changes, when it does. */
  readonly secondaryWhy?: PlacementCause;
  /** Set when the instance cannot be placed or moved now. */
  readonly blocked?: HoldCause;
  /** A failover that goes ahead without a new secondary (none fits now): it runs degraded, reported as pending. */
  readonly secondaryHeld?: HoldCause;
}

interface Draft {
  instance: DesiredInstance;
  placement?: Placement;
  primary?: string;
  secondary?: string;
  primaryChange: PrimaryChange;
  secondaryWhy?: PlacementCause;
  needsPrimary?: PlacementCause; // why the allocator must choose a primary
  needsSecondary?: PlacementCause; // why the allocator must choose a secondary
  blocked?: HoldCause;
  secondaryHeld?: HoldCause;
}

export function computeTargets(
  input: PlanInput,
  cluster: DesiredCluster,
  instances: readonly DesiredInstance[],
  facts: ReadonlyMap<string, NodeFacts>,
  warnings: string[],
): Target[] {
  const guard = guardOf(cluster, facts);
  const drafts = instances.map((d) => draftOf(d, input.store.placements.get(d.name), facts, guard, input.store.targets?.get(d.name)));
  const allocator = new Allocator(modelOf(input, cluster, drafts, facts));
  const unplaced = drafts.filter((d) => d.needsPrimary).sort(largestFirst);
  for (const d of unplaced) {
    const r = allocator.place(instanceModel(d.instance, undefined, undefined, cluster));
    if (!r.ok) {
      d.blocked = { kind: 'no-placement', instance: d.instance.name, refusal: r.refusal };
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
    if (!r.ok) {
      const held: HoldCause = { kind: 'no-secondary', instance: d.instance.name, refusal: r.refusal };
      // A dead node's instance runs again without a replica rather than stay down for the want of one.
      if (d.primaryChange.kind === 'failover') d.secondaryHeld = held;
      else d.blocked = held;
    } else {
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
    ...(d.secondaryHeld && { secondaryHeld: d.secondaryHeld }),
  };
}

const largestFirst = (a: Draft, b: Draft): number =>
  b.instance.memory - a.instance.memory || diskBytes(b.instance) - diskBytes(a.instance) || (a.instance.name < b.instance.name ? -1 : 1);

/** Decide what can be decided without the allocator. */
function draftOf(d: DesiredInstance, p: Placement | undefined, facts: ReadonlyMap<string, NodeFacts>, guard: PartitionGuard | undefined, target?: BalanceTarget): Draft {
  const replicated = d.diskTemplate === 'replicated';
  const usable = (n: string | undefined) => n !== undefined && facts.get(n)?.usable === true;
  const why = (n: string) => unfitness(facts.get(n));
  if (!p) return newInstance(d, replicated, usable, why);
  const draft: Draft = { instance: d, placement: p, primary: p.primary, primaryChange: { kind: 'keep' } };
  if (replicated && p.secondary) draft.secondary = p.secondary;
  const pf = facts.get(p.primary);
  const secondaryOk = replicated && usable(p.secondary);
  if (pf && !pf.up) {
    if (!pf.dead) return draft; // within the grace: nothing moves yet (reported as pending)
    const node = p.primary;
    if (pf.failoverBlocked) return { ...draft, blocked: { kind: 'failover-blocked', node, block: pf.failoverBlocked } };
    if (!secondaryOk) return { ...draft, blocked: replicated ? { kind: 'no-takeover', node, ...(p.secondary && { secondary: p.secondary }) } : { kind: 'plain-lost', node, instance: d.name } };
    // A node Drover already fenced, or one declared offline, is a decision taken: the guard is for the undecided.
    if (guard && !pf.fenced && !pf.desired?.offline) return { ...draft, blocked: { kind: 'partition-guard', node, ...guard } };
    draft.primary = p.secondary!;
    delete draft.secondary;
    draft.primaryChange = { kind: 'failover', why: { kind: 'node-dead', node, since: pf.nodeDownSince! } };
    draft.needsSecondary = { kind: 'failed-over', node };
    if (d.secondary && d.secondary !== draft.primary && usable(d.secondary)) { draft.secondary = d.secondary; draft.secondaryWhy = { kind: 'failed-over', node }; delete draft.needsSecondary; }
    return draft;
  }
  const evacuate = evacuation(p.primary, pf);
  const pin = pinsOf(d, target, usable);
  if (pin.primary && pin.primary !== p.primary) {
    if (!usable(pin.primary)) return { ...draft, blocked: pinUnusable('primary', pin.primary, why(pin.primary)) };
    moveTo(draft, pin.primary, pin.why ?? { kind: 'pinned', role: 'primary', node: pin.primary });
  } else if (evacuate) {
    if (secondaryOk) moveTo(draft, p.secondary!, evacuate);
    else { draft.needsPrimary = evacuate; draft.primaryChange = { kind: 'move', why: evacuate }; }
  }
  // A secondary that is only briefly unreachable keeps its role until its grace is over.
  const waiting = (n: string | undefined) => { const f = n ? facts.get(n) : undefined; return !!f && !f.up && !f.dead; };
  return withSecondary(draft, d, p, pin, (n) => usable(n) || waiting(n), why);
}

/** Pins: the manifest's, else a balance decision's (which is dropped, not blocking, when its nodes cannot take it). */
interface Pins { readonly primary?: string; readonly secondary?: string; readonly why?: PlacementCause }

function pinsOf(d: DesiredInstance, target: BalanceTarget | undefined, usable: (n: string | undefined) => boolean): Pins {
  if (d.primary || d.secondary || !target) return { ...(d.primary && { primary: d.primary }), ...(d.secondary && { secondary: d.secondary }) };
  if (!usable(target.primary) || (target.secondary !== undefined && !usable(target.secondary))) return {};
  return { primary: target.primary, ...(target.secondary && { secondary: target.secondary }), why: { kind: 'balance', note: target.reason } };
}

function newInstance(d: DesiredInstance, replicated: boolean, usable: (n: string | undefined) => boolean, why: (n: string) => Unfit): Draft {
  const draft: Draft = { instance: d, primaryChange: { kind: 'keep' } };
  if (!d.primary) { draft.needsPrimary = { kind: 'new-instance' }; return draft; }
  if (!usable(d.primary)) return { ...draft, blocked: pinUnusable('primary', d.primary, why(d.primary)) };
  draft.primary = d.primary;
  if (!replicated) return draft;
  if (d.secondary) {
    if (!usable(d.secondary)) return { ...draft, blocked: pinUnusable('secondary', d.secondary, why(d.secondary)) };
    draft.secondary = d.secondary;
  } else draft.needsSecondary = { kind: 'new-instance' };
  return draft;
}

const pinUnusable = (role: 'primary' | 'secondary', node: string, unfit: Unfit): HoldCause => ({ kind: 'pin-unusable', role, node, unfit });

function evacuation(node: string, f: NodeFacts | undefined): EvacuationCause | undefined {
  if (!f?.desired) return { kind: 'node-removed', node };
  if (f.desired.offline) return { kind: 'node-offline', node };
  if (f.desired.drained) return { kind: 'node-drained', node };
  return undefined;
}

function moveTo(draft: Draft, node: string, why: PlacementCause): void {
  const p = draft.placement!;
  const kind = node === p.secondary ? 'migrate' : 'move';
  draft.primary = node;
  draft.primaryChange = { kind, why };
  if (kind === 'migrate') draft.secondary = p.primary;
}

/** The secondary after the primary change: kept, pinned, or to be chosen. */
function withSecondary(draft: Draft, d: DesiredInstance, p: Placement, pin: Pins, usable: (n: string | undefined) => boolean, why: (n: string) => Unfit): Draft {
  if (d.diskTemplate !== 'replicated') {
    delete draft.secondary;
    if (p.secondary) draft.secondaryWhy = { kind: 'template-plain' };
    return draft;
  }
  if (pin.secondary && pin.secondary !== draft.secondary && pin.secondary !== draft.primary) {
    if (!usable(pin.secondary)) return { ...draft, blocked: pinUnusable('secondary', pin.secondary, why(pin.secondary)) };
    draft.secondary = pin.secondary;
    draft.secondaryWhy = pin.why ?? { kind: 'pinned', role: 'secondary', node: pin.secondary };
    return draft;
  }
  if (draft.needsPrimary) return draft;
  const s = draft.secondary;
  if (!s) draft.needsSecondary = p.secondary ? { kind: 'secondary-lost' } : { kind: 'template-replicated' };
  else if (s === draft.primary) draft.needsSecondary = { kind: 'secondary-promoted' };
  else if (!usable(s)) draft.needsSecondary = { kind: 'secondary-unusable', node: s };
  if (draft.needsSecondary) delete draft.secondary;
  return draft;
}

function modelOf(input: PlanInput, cluster: DesiredCluster, drafts: readonly Draft[], facts: ReadonlyMap<string, NodeFacts>): ClusterModel {
  const instances = new Map<string, InstanceModel>();
  for (const d of drafts) {
    if (d.needsPrimary || !d.primary) continue;
    instances.set(d.instance.name, instanceModel(d.instance, d.primary, d.needsSecondary ? undefined : d.secondary, cluster));
  }
  return { nodes: withReportedDisk(nodeModels(input, cluster, facts), instances, cluster, input.desired.nodes), instances, policy: allocPolicy(cluster) };
}
