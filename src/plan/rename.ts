/**
 * `metadata.renamedFrom`: an instance Drover knows under its old name is renamed in place (one
 * RenameInstance), never created anew beside an orphan. Its normal planning waits for the next round,
 * when the placement carries the new name. An old name Drover does not know is a warning only: the
 * rename is done already (the field may stay in git), or it is a typo.
 */
import { capabilitiesOf } from '../drivers/backends.ts';
import type { HoldCause } from '../model/causes.ts';
import type { DesiredInstance } from '../model/desired.ts';
import type { Disruption, RenameInstance } from '../model/operations.ts';
import type { NodeFacts } from './facts.ts';
import { describeCause } from './reasons.ts';
import type { Pending, PlanError, PlanInput } from './types.ts';

export interface Renames {
  readonly operations: readonly RenameInstance[];
  readonly pending: readonly Pending[];
  readonly errors: readonly PlanError[];
  readonly warnings: readonly string[];
  /** New names renamed (or held) this round: planned once the rename is done. */
  readonly renaming: ReadonlySet<string>;
  /** Old names being renamed: neither "in no manifest" nor pruned. */
  readonly old: ReadonlySet<string>;
  /**
   * Renames that wait for a node: until then the instance is planned under its old name, so that a
   * dead primary still fails over, a lost secondary is still replaced.
   */
  readonly asOld: readonly DesiredInstance[];
}

const DISRUPTION: Readonly<Record<'in-place' | 'restart', Disruption>> = { 'in-place': 'none', restart: 'restart' };

export function planRenames(input: PlanInput, facts: ReadonlyMap<string, NodeFacts>, inFlight: ReadonlySet<string>): Renames {
  const r = {
    operations: [] as RenameInstance[], pending: [] as Pending[], errors: [] as PlanError[], warnings: [] as string[],
    renaming: new Set<string>(), old: new Set<string>(), asOld: [] as DesiredInstance[],
  };
  for (const d of input.desired.instances.values()) {
    const from = d.renamedFrom;
    if (from === undefined || d.state === 'absent' || input.store.placements.has(d.name)) {
      if (from !== undefined && !input.store.placements.has(from)) r.warnings.push(unknownOld(d, from));
      continue;
    }
    const p = input.store.placements.get(from);
    if (!p) { r.warnings.push(unknownOld(d, from)); continue; }
    r.renaming.add(d.name);
    r.old.add(from);
    if (inFlight.has(from)) continue; // resumed first; renamed on a later round
    const held = holdOf(input, d, from, [p.primary, ...(p.secondary ? [p.secondary] : [])], facts);
    if (held?.kind === 'rename-unsupported') r.errors.push({ instance: d.name, message: describeCause(held), cause: held, source: d.source });
    else if (held) {
      r.pending.push({ instance: d.name, cause: held });
      const { renamedFrom: _, ...rest } = d;
      r.asOld.push({ ...rest, name: from });
    }
    else r.operations.push(renameOp(input, d, from));
  }
  return r;
}

function renameOp(input: PlanInput, d: DesiredInstance, from: string): RenameInstance {
  const p = input.store.placements.get(from)!;
  const how = capabilitiesOf(input.desired.clusters.get(d.cluster)!.backend).rename;
  return {
    type: 'RenameInstance', instance: d.name, from, primary: p.primary, ...(p.secondary && { secondary: p.secondary }),
    changes: [{ path: 'metadata.name', from, to: d.name }], disruption: DISRUPTION[how === 'restart' ? 'restart' : 'in-place'],
    cause: { kind: 'renamed', from },
  };
}

/** The backend cannot rename, or a node holding a copy does not answer (a copy left there would be an orphan). */
function holdOf(input: PlanInput, d: DesiredInstance, from: string, nodes: readonly string[], facts: ReadonlyMap<string, NodeFacts>): HoldCause | undefined {
  const backend = input.desired.clusters.get(d.cluster)!.backend;
  if (capabilitiesOf(backend).rename === 'no') return { kind: 'rename-unsupported', from, backend };
  const down = nodes.find((n) => facts.get(n)?.up !== true);
  return down === undefined ? undefined : { kind: 'rename-waits', node: down, from };
}

function unknownOld(d: DesiredInstance, from: string): string {
  return `${d.name}: metadata.renamedFrom: Drover knows no instance "${from}" (already renamed, or a typo); nothing to rename`;
}
