/**
 * Where a VM's migration stands, read from QEMU alone (query-status, query-migrate, query-jobs on both
 * ends), and what to do about it. QEMU buffers no events, so after a reconnect or a master restart this is
 * the only truth; the decision is pure, so that the same look always ends the same way, and it never leaves
 * two running copies: the destination is resumed only when the source's migration completed (the source
 * is then `postmigrate` and never resumes), the source only when the destination never ran.
 */
import type { JobInfo } from './jobs.ts';

/** One end of a migration as QMP shows it; undefined when its process is gone. */
export interface EndState {
  /** query-status: running, paused, inmigrate, postmigrate, finish-migrate, … */
  readonly status: string;
  /** query-migrate's status (absent: no migration ever started there). */
  readonly migration?: string;
  /** query-migrate's downtime, once a migration completed there (QEMU fills it in a moment after). */
  readonly downtimeMs?: number;
  readonly jobs: readonly JobInfo[];
}

export interface MigrationObservation {
  readonly source?: EndState;
  readonly dest?: EndState;
}

export type MigrationDecision =
  /** The destination has (or will have) the guest: stop its export, resume it, quit the source. */
  | { readonly kind: 'finish'; readonly downtimeMs?: number }
  /** The source keeps the guest: cancel migration and mirror, resume it if paused, quit the destination. */
  | { readonly kind: 'cancel' }
  /** Nothing ran or can run the guest's live state: it must boot from its disk (apply/ does, on the node whose disk is whole). */
  | { readonly kind: 'lost'; readonly why: string };

/**
 * The source's outgoing migration completed: its runstate says so (query-migrate cannot: a source that was
 * itself a migration's destination reports that incoming migration, `completed`). The destination's
 * incoming one: completed and no longer waiting for it.
 */
const sourceDone = (e: EndState | undefined) => e?.status === 'postmigrate';
const destDone = (e: EndState) => e.migration === 'completed' && e.status !== 'inmigrate';

/** Pure. */
export function migrationDecision(o: MigrationObservation): MigrationDecision {
  const finish: MigrationDecision = { kind: 'finish', ...(o.source?.downtimeMs !== undefined && { downtimeMs: o.source.downtimeMs }) };
  if (o.dest?.status === 'running') return finish;
  if (o.dest && (sourceDone(o.source) || destDone(o.dest))) return finish;
  if (o.source) return { kind: 'cancel' };
  return { kind: 'lost', why: o.dest ? `the source is gone and the destination's incoming migration is ${o.dest.migration ?? 'not started'}` : 'neither end is running' };
}
