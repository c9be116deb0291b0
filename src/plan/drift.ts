/**
 * Drift: what changed on the nodes outside Drover, read off a plan. The planner is level-triggered
 * and already corrects it; this names it, so a run can say "someone stopped web1 by hand" instead
 * of only "started web1". Pure: plan + observed + the store's record of what Drover last applied.
 */
import { ADOPTED_GENERATION, type DriftKind, type StoreView } from '../store/types.ts';
import { specMatches } from '../model/hash.ts';
import type { Observed } from '../model/observed.ts';
import type { Operation } from '../model/operations.ts';
import type { Plan } from './types.ts';
import { instancesInFlight } from './facts.ts';

export interface DriftItem {
  readonly instance: string;
  readonly node: string;
  readonly kind: DriftKind;
  readonly detail: string;
  /** `corrected` by an operation of this plan, or `left` alone because a policy says so. */
  readonly action: 'corrected' | 'left';
  /** The operation that corrects it. */
  readonly op?: Operation;
}

export function classifyDrift(p: Plan, observed: Observed, store: StoreView): DriftItem[] {
  const items: DriftItem[] = [];
  for (const op of p.operations) {
    const item = fromOperation(op, observed, store);
    if (item) items.push(item);
  }
  items.push(...heldDisks(p), ...unknownCopies(p, observed, store));
  return items;
}

function fromOperation(op: Operation, observed: Observed, store: StoreView): DriftItem | undefined {
  const placed = store.placements.get(op.instance);
  // nothing Drover made (not placed, or adopted and not created yet): no drift, only new work
  if (!placed || placed.generation === ADOPTED_GENERATION) return undefined;
  const applied = placed.applied;
  const item = (node: string, kind: DriftKind, detail: string): DriftItem => ({ instance: op.instance, node, kind, detail, action: 'corrected', op });
  switch (op.type) {
    case 'RecreateInstance': {
      if (op.cause.kind === 'container-missing') return item(op.primary, 'container-removed', `container removed on ${op.primary} outside Drover; recreated`);
      if (op.cause.kind === 'disks-missing') return item(op.primary, 'volume-gone', `volume(s) gone on ${op.primary}; recreated`);
      if (op.cause.kind === 'nics-changed') return item(op.primary, 'spec-changed', `NICs of the container on ${op.primary} changed outside Drover; recreated with the assigned addresses and MACs`);
      const seen = observed.nodes.get(op.primary)?.containers.find((c) => c.instance === op.instance);
      // Only when the manifests still want what Drover applied is a different container the node's doing.
      if (!applied || !seen || seen.specHash === applied.specHash || !specMatches(applied.specHash, op.spec)) return undefined;
      return item(op.primary, 'spec-changed', `container on ${op.primary} changed outside Drover (spec ${seen.specHash}, applied ${applied.specHash}); recreated`);
    }
    case 'ModifyInstance':
    case 'RestartInstance': {
      // The manifests still want what Drover applied, yet the node's limits differ: someone resized it.
      if (!applied?.spec || applied.spec.memory !== op.spec.memory || applied.spec.vcpus !== op.spec.vcpus) return undefined;
      const changes = op.changes.map((c) => `${c.path} ${c.from}, manifest ${c.to}`).join('; ');
      return item(op.primary, 'resized-by-hand', `limits changed on ${op.primary} outside Drover (${changes}); set back in place`);
    }
    case 'StartInstance':
      if (op.cause.kind === 'paused') return item(op.primary, 'paused-left', `left paused on ${op.primary} with no backup holding it; thawed`);
      return applied?.running === false ? undefined : item(op.primary, 'stopped-by-hand', `stopped on ${op.primary} outside Drover; started again`);
    case 'StopInstance':
      return applied?.running === true ? undefined : item(op.primary, 'started-by-hand', `started on ${op.primary} outside Drover but its manifest says state: stopped; stopped again`);
    case 'SyncDisks':
      return op.cause.kind === 'replica-missing' && placed.lastSync?.node === op.secondary
        ? item(op.secondary, 'replica-gone', `replica volume(s) gone on ${op.secondary}; recreated and resynced`) : undefined;
    default:
      return undefined;
  }
}

/** The planner holds an instance whose primary lost its disks while the replica has them. */
function heldDisks(p: Plan): DriftItem[] {
  return p.pending.flatMap(({ instance, cause }): DriftItem[] => (cause.kind === 'held-disks-missing-on-primary'
    ? [{ instance, node: cause.node, kind: 'volume-gone', detail: `volume(s) gone on the primary; held, not recreated empty (the replica has the data)`, action: 'left' }]
    : []));
}

/** Containers or volumes with Drover's labels that no placement accounts for. */
function unknownCopies(p: Plan, observed: Observed, store: StoreView): DriftItem[] {
  const removed = new Set(p.operations.flatMap((o) => (o.type === 'RemoveOrphan' ? [`${o.instance}@${o.node}`] : [])));
  const items: DriftItem[] = [];
  const inFlight = instancesInFlight(store);
  for (const n of observed.nodes.values()) {
    const names = new Set([...n.containers.map((c) => c.instance), ...n.volumes.map((v) => v.instance)]);
    for (const instance of names) {
      if (store.placements.has(instance) || inFlight.has(instance)) continue;
      const corrected = removed.has(`${instance}@${n.name}`);
      items.push({
        instance, node: n.name, kind: 'unknown-container', action: corrected ? 'corrected' : 'left',
        detail: corrected ? `unknown copy with Drover's labels on ${n.name}; removed (--prune)` : `unknown copy with Drover's labels on ${n.name}, in no placement; left alone (--prune removes it)`,
      });
    }
  }
  return items;
}

