import type { HoldCause } from '../model/causes.ts';
import type { Desired, SourceLocation } from '../model/desired.ts';
import type { Observed } from '../model/observed.ts';
import type { Operation } from '../model/operations.ts';
import type { StoreView } from '../store/types.ts';

export interface PlanInput {
  readonly desired: Desired;
  readonly observed: Observed;
  readonly store: StoreView;
  /** ms since epoch; the planner never reads the clock itself. */
  readonly now: number;
  /** Remove instances and copies that no manifest wants (otherwise they are only reported). */
  readonly prune?: boolean;
}

/** Something the user must fix before the plan can be carried out (e.g. no node fits). */
export interface PlanError {
  readonly instance?: string;
  readonly message: string;
  /** Why, as data, when the planner found it (e.g. no node fits). */
  readonly cause?: HoldCause;
  readonly source?: SourceLocation;
}

/** Work the plan cannot do yet, and when it may become possible. */
export interface Pending {
  readonly instance: string;
  /** Why it waits; its sentence is plan/reasons.ts describeCause(cause). */
  readonly cause: HoldCause;
  /** ms since epoch when re-planning may change the answer (a node's grace ends). */
  readonly retryAt?: number;
}

export interface Plan {
  readonly operations: readonly Operation[];
  readonly warnings: readonly string[];
  readonly errors: readonly PlanError[];
  readonly pending: readonly Pending[];
}
