/**
 * Drover's own state: only what it decided. The manifests say what is wanted and the nodes say what
 * is; the store remembers placements, operations in flight, node health history and the journal.
 */
import type { Operation } from '../model/operations.ts';

export interface Placement {
  readonly instance: string;
  readonly primary: string;
  readonly secondary?: string;
  /** Bumped on every create, recreate, migrate and failover; copies with an older one are stale. */
  readonly generation: number;
  /** The last good sync of the replica: its age is the instance's recovery point. */
  readonly lastSync?: { readonly at: number; readonly node: string };
}

export interface NodeRecord {
  readonly name: string;
  /** Set when Drover first failed to reach the node; cleared when it answers again. */
  readonly nodeDownSince?: number;
  /** Set once the node is fenced; it gets no work until its stale copies are cleaned. */
  readonly fencedAt?: number;
}

/** An operation in flight: its xstate snapshot, persisted after every step. */
export interface MachineRecord {
  readonly id: string;
  readonly op: Operation;
  readonly snapshot: unknown;
  readonly startedAt: number;
}

export type JobResult = 'running' | 'succeeded' | 'failed';

export interface JobRecord {
  readonly id: string;
  readonly type: Operation['type'];
  readonly instance: string;
  readonly reason: string;
  readonly start: number;
  readonly end?: number;
  readonly result: JobResult;
  readonly error?: string;
  /** How many times a master resumed it after a crash. */
  readonly resumed?: number;
}

/** What plan/ reads of the store. */
export interface StoreView {
  readonly placements: ReadonlyMap<string, Placement>;
  readonly nodes: ReadonlyMap<string, NodeRecord>;
  readonly machines: ReadonlyMap<string, MachineRecord>;
}
