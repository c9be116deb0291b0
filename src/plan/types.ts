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
  /** What apply runs now: everything outside a disruption budget, and each group's first wave. */
  readonly operations: readonly Operation[];
  /** Later waves (plan/budgets.ts): shown, never run from this plan; planned again once wave 1 runs. */
  readonly deferred: readonly Operation[];
  /** instance → its wave, for the instances whose operations take a group member down (1 = now). */
  readonly waves: Readonly<Record<string, number>>;
  readonly warnings: readonly string[];
  readonly errors: readonly PlanError[];
  readonly pending: readonly Pending[];
}
