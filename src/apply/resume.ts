/**
 * Where a machine persisted by a previous master resumes. Its record carries the version of its
 * operation type's step list (steps.ts): the same version resumes from its snapshot, as always;
 * an older one resumes at the step STEP_MIGRATIONS maps its step to; anything else is parked with
 * the reason, so that no machine ever re-runs a step it was not in.
 */
import type { MachineRecord } from '../store/types.ts';
import { isRetryState } from './machine.ts';
import { STEP_MIGRATIONS, STEPS_VERSION, type StepMigration } from './steps.ts';

/** Records written before versions existed hold the first version's step lists. */
export const UNVERSIONED = 1;

export type ResumePoint =
  | { readonly kind: 'snapshot' }
  | { readonly kind: 'mapped'; readonly step: string; readonly from: number; readonly was: string }
  | { readonly kind: 'parked'; readonly why: string };

export interface VersionTables {
  readonly versions: Readonly<Record<string, number>>;
  readonly migrations: Readonly<Partial<Record<string, readonly StepMigration[]>>>;
}

export const CURRENT_VERSIONS: VersionTables = { versions: STEPS_VERSION, migrations: STEP_MIGRATIONS };

/** `names`: the operation's current step list. Pure. */
export function resumePoint(record: MachineRecord, names: readonly string[], tables: VersionTables = CURRENT_VERSIONS): ResumePoint {
  const type = record.op.type;
  const version = record.stepsVersion ?? UNVERSIONED;
  const current = tables.versions[type] ?? UNVERSIONED;
  if (version === current) return { kind: 'snapshot' };
  const was = stepOf(record.snapshot);
  const at = was === undefined ? '' : ` at step "${was}"`;
  if (version > current) {
    return { kind: 'parked', why: `it was written${at} by a newer Drover (${type} step list v${version}; this one knows v${current}): finish it with that version` };
  }
  const step = was === undefined ? undefined : tables.migrations[type]?.find((m) => m.from === version)?.steps[was];
  if (step !== undefined && names.includes(step)) return { kind: 'mapped', step, from: version, was: was! };
  return { kind: 'parked', why: `it stopped${at} of ${type} step list v${version}, and this Drover (v${current}) knows no step to resume it at: finish it with the Drover that started it` };
}

/** The step a persisted snapshot was in (a retry state counts as its step). */
function stepOf(snapshot: unknown): string | undefined {
  const value = (snapshot as { value?: unknown } | null)?.value;
  if (typeof value !== 'string') return undefined;
  return isRetryState(value) ? value.slice(0, -'_retry'.length) : value;
}
