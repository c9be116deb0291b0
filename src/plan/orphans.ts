/**
 * Copies nothing accounts for: a container anywhere but on its primary, volumes anywhere but on
 * its primary and secondary, and everything of instances no manifest or placement knows.
 * Stale copies on a node that was fenced are removed first and always; unknown ones only with prune.
 */
import type { RemovalCause } from '../model/causes.ts';
import { nodesOf, type Operation, type RemoveOrphan } from '../model/operations.ts';
import type { Copy, NodeFacts } from './facts.ts';
import type { PlanInput } from './types.ts';

export interface OrphanResult {
  readonly operations: RemoveOrphan[];
  readonly warnings: string[];
}

export function orphanOperations(
  input: PlanInput,
  copies: ReadonlyMap<string, readonly Copy[]>,
  facts: ReadonlyMap<string, NodeFacts>,
  /** instance → the nodes this plan's operations already deal with. */
  busy: ReadonlyMap<string, ReadonlySet<string>>,
): OrphanResult {
  const operations: RemoveOrphan[] = [];
  const warnings: string[] = [];
  const renamed = renamedAway(input);
  for (const [instance, list] of copies) {
    const placement = input.store.placements.get(instance);
    const wanted = input.desired.instances.get(instance);
    if (!placement) {
      if (renamed.has(instance)) {
        // left under the old name on a node that was down during the rename (fenced, since back)
        for (const c of list) operations.push(orphan(instance, c, staleCause(c.node, facts), true));
      } else if (wanted && wanted.state !== 'absent') {
        warnings.push(`${instance}: copies on ${list.map((c) => c.node).join(', ')} are not in Drover's store; left alone (restore the state directory, or remove them)`);
      } else if (!wanted) {
        if (input.prune) for (const c of list) operations.push(orphan(instance, c, { kind: 'unknown-copy' }, true));
        else warnings.push(`${instance}: found on ${list.map((c) => c.node).join(', ')} but no manifest wants it; use --prune to remove`);
      }
      continue;
    }
    for (const c of list) {
      if (busy.get(instance)?.has(c.node)) continue;
      const stale = staleParts(c, placement.primary, placement.secondary);
      if (!stale) continue;
      operations.push({ type: 'RemoveOrphan', instance, node: c.node, containers: stale.containers, volumes: stale.volumes, cause: staleCause(c.node, facts) });
    }
  }
  return { operations, warnings };
}

const staleCause = (node: string, facts: ReadonlyMap<string, NodeFacts>): RemovalCause =>
  (facts.get(node)?.fenced ? { kind: 'fenced-stale-copy', node } : { kind: 'stale-copy' });

/** Old names whose rename is done (the new name is placed, the old one no longer): their copies are stale. */
function renamedAway(input: PlanInput): ReadonlySet<string> {
  const out = new Set<string>();
  for (const d of input.desired.instances.values()) {
    if (d.renamedFrom && input.store.placements.has(d.name) && !input.store.placements.has(d.renamedFrom)) out.add(d.renamedFrom);
  }
  return out;
}

function staleParts(c: Copy, primary: string, secondary: string | undefined): { containers: boolean; volumes: boolean } | undefined {
  if (c.node === primary) return undefined;
  const containers = c.container !== undefined;
  const volumes = c.node !== secondary && c.volumes.length > 0;
  return containers || volumes ? { containers, volumes } : undefined;
}

function orphan(instance: string, c: Copy, cause: RemovalCause, all: boolean): RemoveOrphan {
  return { type: 'RemoveOrphan', instance, node: c.node, containers: all || !!c.container, volumes: all || c.volumes.length > 0, cause };
}

/** Nodes an operation list touches, per instance. */
export function busyNodes(ops: readonly Operation[]): Map<string, Set<string>> {
  const busy = new Map<string, Set<string>>();
  for (const op of ops) {
    let s = busy.get(op.instance);
    if (!s) busy.set(op.instance, (s = new Set()));
    for (const n of nodesOf(op)) s.add(n);
  }
  return busy;
}
