/**
 * Drover's own state: only what it decided. The manifests say what is wanted and the nodes say what
 * is; the store remembers placements, operations in flight, node health history and the journal.
 */
import type { FieldChange, InstanceSpec, MigrationPath, Operation, RecoveryPoint } from '../model/operations.ts';
import type { NicAssignment } from '../model/nics.ts';

/**
 * The generation of a placement adopted from elsewhere (`drover import ganeti`): where the instance
 * runs, taken over as Drover's decision; Drover has created nothing for it yet (its first create,
 * recreate or move makes it 1).
 */
export const ADOPTED_GENERATION = 0;

export interface Placement {
  readonly instance: string;
  readonly primary: string;
  readonly secondary?: string;
  /** Bumped on every create, recreate, migrate and failover; copies with an older one are stale. */
  readonly generation: number;
  /**
   * The last good sync of the replica: its age is the instance's recovery point. `mirror` (VMs replicated
   * block by block): `in-sync`, a synchronous mirror kept it in sync, last seen so at `at` (nothing lost);
   * `stopped`, the mirror was seen ended: writes after `at` are not on the replica.
   */
  readonly lastSync?: { readonly at: number; readonly node: string; readonly mirror?: 'in-sync' | 'stopped' };
  /**
   * What Drover last made the container (spec hash, running or not). Lets drift/ tell a change on
   * the node (drift) from a change in the manifests: absent on placements older than it.
   */
  readonly applied?: AppliedSpec;
  /**
   * The address and MAC Drover assigned each NIC, in the manifest's order: written before the instance
   * is created, kept while it exists (through moves, migrations, failovers), dropped with the placement.
   */
  readonly nics?: readonly NicAssignment[];
}

/** What Drover last made an instance's container. */
export interface AppliedSpec {
  readonly specHash: string;
  readonly running: boolean;
  /** Its fields, for the plan's field diffs; absent on placements written before them (the diff then says so). */
  readonly spec?: InstanceSpec;
}

export interface NodeRecord {
  readonly name: string;
  /** Set when Drover first failed to reach the node; cleared when it answers again. */
  readonly nodeDownSince?: number;
  /** Set once the node is fenced; it gets no work until its stale copies are cleaned. */
  readonly fencedAt?: number;
  /** When the node went unreachable, within the flapping window: a node that keeps failing is held back. */
  readonly failures?: readonly number[];
  /** Takes no new instances or replicas before this (ms since epoch): it failed too often. */
  readonly holdUntil?: number;
  /**
   * An operator's runtime drain/undrain (the API): the planner treats it like the manifest's
   * `drained`, and says so, until the manifest says the same (then it is dropped).
   */
  readonly override?: NodeOverride;
}

export interface NodeOverride {
  readonly drained: boolean;
  /** The API token's name that asked. */
  readonly by: string;
  readonly at: number;
}

/** What an operator asked through the API: journaled beside the operations it leads to. */
export type RequestType = 'Reconcile' | 'DrainNode' | 'UndrainNode' | 'MigrateRequest' | 'FailoverRequest' | 'BreakLease';

/** An operation in flight: its xstate snapshot, persisted after every step. */
export interface MachineRecord {
  readonly id: string;
  readonly op: Operation;
  readonly snapshot: unknown;
  readonly startedAt: number;
  /** The version of its operation type's step list (apply/steps.ts); absent on records from before versions: 1. */
  readonly stepsVersion?: number;
}

/** parked: left in flight, not resumed (a machine this master cannot resume safely; `error` says why). */
export type JobResult = 'running' | 'succeeded' | 'failed' | 'parked';

/**
 * What a journal entry records: an operation Drover ran, or `adopted` (a placement Drover took over
 * as its own decision without running anything: `drover import ganeti` records where Ganeti ran it).
 */
export type JournalType = Operation['type'] | 'adopted' | RequestType;

/** One run of one step of an operation: its name and how long it took. */
export interface StepTiming {
  readonly step: string;
  readonly ms: number;
}

export interface JobRecord {
  readonly id: string;
  readonly type: JournalType;
  /** The instance, or for a request on a node (DrainNode) or the cluster (Reconcile, BreakLease) the node or ''. */
  readonly instance: string;
  /** A request: the API token's name that asked. */
  readonly by?: string;
  readonly reason: string;
  readonly start: number;
  readonly end?: number;
  readonly result: JobResult;
  readonly error?: string;
  /** How many times a master resumed it after a crash. */
  readonly resumed?: number;
  /** The fields it changed (ModifyInstance, RestartInstance, RecreateInstance, GrowDisk), applied → wanted. */
  readonly changes?: readonly FieldChange[];
  /** The addresses and MACs the operation made the container with (operations that make one, with NICs). */
  readonly nics?: readonly NicAssignment[];
  /** What the operation noted on its way (e.g. "live, downtime 812 ms"). */
  readonly note?: string;
  /** A migration: which path it took (written as soon as it is known, so a resumed one keeps it). */
  readonly migration?: MigrationPath;
  /** A failover: the recovery point the instance came back with (none lost from an in-sync mirror, or a last sync). */
  readonly recovery?: RecoveryPoint;
  /**
   * How long each step took, in order, as the master that finished the operation ran them (a retried step
   * once per attempt; the steps of a master that died are not there): where a failover's time went.
   */
  readonly steps?: readonly StepTiming[];
  /** When the last resume started: from then on `master` ran it (the journal shows who acted when). */
  readonly resumedAt?: number;
  /** The master process that ran it (last, when resumed). */
  readonly master?: { readonly host: string; readonly pid: number };
  /** Set when the operation corrects a change made on the node outside Drover. */
  readonly drift?: { readonly kind: DriftKind; readonly detail: string };
  /** The manifests' git commit when the run that made this job started. */
  readonly git?: GitInfo;
  /** What started the run: apply, or a watch trigger (manifest, interval, health, signal). */
  readonly trigger?: string;
}

/** The manifests' git work tree at the start of a run. */
export interface GitInfo {
  readonly commit: string;
  /** Uncommitted changes under the manifest paths. */
  readonly dirty: boolean;
}

/** What changed on a node outside Drover. */
export type DriftKind =
  | 'stopped-by-hand' | 'started-by-hand' | 'container-removed' | 'spec-changed'
  | 'volume-gone' | 'replica-gone' | 'unknown-container'
  /** Left frozen on its node (a backup killed mid-freeze, or `docker pause`): thawed. */
  | 'paused-left'
  /** Its limits changed on the node (e.g. `docker update`), not in the manifests. */
  | 'resized-by-hand';

/** What a run adds to each of its journal entries. */
export type JobTags = Pick<JobRecord, 'drift' | 'git' | 'trigger'>;

/**
 * Where `drover balance` decided an instance should be. The planner treats it like a pin the
 * manifests did not write (a manifest pin wins); it is dropped once reached.
 */
export interface BalanceTarget {
  readonly instance: string;
  readonly primary: string;
  readonly secondary?: string;
  /** Why, for the plan: e.g. "rebalance: score 12.41 → 9.87". */
  readonly reason: string;
}

/** What plan/ reads of the store. */
export interface StoreView {
  readonly placements: ReadonlyMap<string, Placement>;
  /** Rebalancing decisions not carried out yet. */
  readonly targets?: ReadonlyMap<string, BalanceTarget>;
  readonly nodes: ReadonlyMap<string, NodeRecord>;
  readonly machines: ReadonlyMap<string, MachineRecord>;
  /** The journal, for facts over time (failovers in the last hour); optional for plain views. */
  readonly jobs?: ReadonlyMap<string, JobRecord>;
}
