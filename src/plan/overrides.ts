/**
 * Operators' runtime overrides (a node drained or undrained through the API), read from the store
 * like `balance`'s targets: the planner and `status` see the node as the override says, and the
 * plan says so, until the manifest says the same. Pure.
 */
import type { Desired } from '../model/desired.ts';
import type { StoreView } from '../store/types.ts';

export interface Overridden {
  readonly desired: Desired;
  /** One sentence per override in force, for the plan's warnings. */
  readonly notes: readonly string[];
}

export function withOverrides(desired: Desired, store: StoreView): Overridden {
  const changed = [...store.nodes.values()].filter((r) => r.override && desired.nodes.get(r.name)?.drained === !r.override.drained);
  if (!changed.length) return { desired, notes: [] };
  const nodes = new Map(desired.nodes);
  const notes = changed.map(({ name, override: o }) => {
    nodes.set(name, { ...nodes.get(name)!, drained: o!.drained });
    return `node ${name} is ${o!.drained ? 'drained' : 'undrained'} by ${o!.by} through the API (since ${new Date(o!.at).toISOString()}), not by its manifest: set drained: ${o!.drained} there to keep it`;
  });
  return { desired: { ...desired, nodes }, notes };
}

/** Overrides the manifests now agree with: nothing left to override (the store drops them). */
export function settledOverrides(desired: Desired, store: StoreView): readonly string[] {
  return [...store.nodes.values()].filter((r) => r.override && desired.nodes.get(r.name)?.drained === r.override.drained).map((r) => r.name);
}
