/**
 * Runs operations as machines: one instance's operations in order, different instances at once
 * within the per-node and total limits. Every transition's snapshot goes to the store before the
 * next step's effect can be acknowledged, so a master killed at any instant resumes where it was.
 */
import * as os from 'node:os';
import { createActor, type Actor } from 'xstate';
import type { Driver } from '../drivers/driver.ts';
import { nodesOf, recoveryPointOf, withCause, type Operation } from '../model/operations.ts';
import { describeCause } from '../plan/reasons.ts';
import type { Store } from '../store/store.ts';
import type { JobRecord, JobTags, MachineRecord, StepTiming } from '../store/types.ts';
import type { EventSink } from './events.ts';
import type { FenceResult } from './fence.ts';
import type { ReplicationMode } from '../model/desired.ts';
import { backoffMs, buildMachine, isRetryState, type MachineContext, type OperationMachine, type StepRequest } from './machine.ts';
import { CURRENT_VERSIONS, resumePoint, UNVERSIONED, type VersionTables } from './resume.ts';
import { stepsOf, type Step, type StepContext } from './steps.ts';

export interface Limits {
  readonly perNode: number;
  readonly total: number;
}

export interface ExecutorOptions {
  readonly driver: Driver;
  readonly store: Store;
  readonly events: EventSink;
  readonly limits: Limits;
  readonly fence: (node: string) => Promise<FenceResult>;
  /** How an instance, if a running VM, is replicated (its cluster's replication.mode); absent: sync. */
  readonly replicationMode?: (instance: string) => ReplicationMode | undefined;
  readonly now?: () => number;
  /** Extra journal fields for an operation (its drift, the run's git commit). */
  readonly tag?: (op: Operation) => JobTags | undefined;
  /** The step lists' versions and migrations (default: steps.ts's); tests bring their own. */
  readonly versions?: VersionTables;
}

export interface Failure {
  readonly op: Operation;
  readonly error: string;
}

export interface RunResult {
  readonly succeeded: number;
  readonly failed: readonly Failure[];
  /** Operations not run because an earlier one of the same instance failed. */
  readonly skipped: number;
}

interface Running {
  readonly op: Operation;
  readonly steps: ReadonlyMap<string, Step>;
  readonly ctx: StepContext;
  /** What its steps noted, for the journal (e.g. migration downtime). */
  readonly notes: string[];
  /** How long each step this master ran took, in order (a retried step once per attempt): for the journal. */
  readonly timings: StepTiming[];
}

type OperationActor = Actor<OperationMachine>;

interface Chain {
  readonly ops: readonly Operation[];
  next: number;
}

export class Executor {
  private readonly machines = new Map<string, OperationMachine>();
  private readonly running = new Map<string, Running>();
  private readonly now: () => number;
  private stepsInFlight = 0;
  private parking: { resolve: () => void; done: Promise<void> } | undefined;

  constructor(private readonly options: ExecutorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Finish the machines a previous master left in flight, before anything new is planned. */
  async resume(records: readonly MachineRecord[]): Promise<RunResult> {
    const results = await Promise.all(records.map((r) => this.runOne(withCause(r.op), r.id, r)));
    return tally(results.map((error, i) => ({ op: records[i]!.op, error })), 0);
  }

  /**
   * Start no new step; resolves once the steps in flight have finished. Their machines stay in
   * the store at a step boundary, so the next master resumes them (and the run() promises never settle).
   */
  park(): Promise<void> {
    if (!this.parking) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => { resolve = r; });
      this.parking = { resolve, done };
      if (this.stepsInFlight === 0) resolve();
    }
    // setImmediate: the transitions those steps trigger persist in microtasks; let them queue first.
    return this.parking.done.then(() => new Promise((r) => setImmediate(r))).then(() => this.options.store.flush());
  }

  /** Run a plan's operations; each instance's in plan order. */
  run(ops: readonly Operation[]): Promise<RunResult> {
    const byInstance = new Map<string, Operation[]>();
    for (const op of ops) {
      const list = byInstance.get(op.instance);
      if (list) list.push(op);
      else byInstance.set(op.instance, [op]);
    }
    return this.schedule([...byInstance.values()].map((o) => ({ ops: o, next: 0 })));
  }

  private schedule(chains: Chain[]): Promise<RunResult> {
    const { perNode, total } = this.options.limits;
    const queue: (Chain | null)[] = [...chains];
    const load = new Map<string, number>();
    const outcomes: { op: Operation; error: string | undefined }[] = [];
    let head = 0;
    let active = 0;
    let skipped = 0;
    return new Promise((resolve) => {
      const fits = (nodes: readonly string[]) => nodes.every((n) => (load.get(n) ?? 0) < perNode);
      const pump = () => {
        if (this.parking) return;
        for (let i = head; i < queue.length && active < total; i++) {
          const chain = queue[i];
          if (!chain) { if (i === head) head++; continue; }
          const op = chain.ops[chain.next]!;
          const nodes = [...new Set(loadedNodes(op))];
          if (!fits(nodes)) continue;
          queue[i] = null;
          if (i === head) head++;
          start(chain, op, nodes);
        }
        if (active === 0 && head >= queue.length) resolve(tally(outcomes, skipped));
      };
      const start = (chain: Chain, op: Operation, nodes: string[]) => {
        active++;
        for (const n of nodes) load.set(n, (load.get(n) ?? 0) + 1);
        void this.runOne(op, this.options.store.nextJobId()).then((error) => {
          active--;
          for (const n of nodes) load.set(n, load.get(n)! - 1);
          outcomes.push({ op, error });
          chain.next++;
          if (error) skipped += chain.ops.length - chain.next;
          else if (chain.next < chain.ops.length) {
            queue.push(chain); // behind the others: fair between instances
          }
          pump();
        });
      };
      pump();
    });
  }

  /** Run one operation's machine to its end; resolves to its error, or undefined on success. */
  private async runOne(op: Operation, id: string, resumed?: MachineRecord): Promise<string | undefined> {
    const { store, events } = this.options;
    const steps = stepsOf(op);
    const names = steps.map(([name]) => name);
    const versions = this.options.versions ?? CURRENT_VERSIONS;
    const point = resumed ? resumePoint(resumed, names, versions) : undefined;
    if (point?.kind === 'parked') return this.parkRecord(resumed!, point.why);
    const startedAt = resumed?.startedAt ?? this.now();
    const notes: string[] = [];
    const timings: StepTiming[] = [];
    this.running.set(id, { op, steps: new Map(steps), ctx: this.contextFor(op, id, notes), notes, timings });
    events({ type: 'operation-started', id, op, resumed: !!resumed });
    const job = this.jobFor(op, id, startedAt, !!resumed);
    // A machine from an older step list starts afresh at the step its old one maps to.
    const from = point?.kind === 'mapped' ? point.step : names[0]!;
    if (point?.kind === 'mapped') notes.push(`resumed at ${point.step} (was ${point.was} of step list v${point.from})`);
    const restore = point?.kind === 'snapshot';
    const machine = this.machineFor(names, from);
    const actor = restore
      ? createActor(machine, { snapshot: resumed!.snapshot as never, input: { opId: id } })
      : createActor(machine, { input: { opId: id } });
    const record = (): MachineRecord => ({ id, op, snapshot: actor.getPersistedSnapshot(), startedAt, stepsVersion: versions.versions[op.type] ?? UNVERSIONED });
    const persist = () => store.putMachine(record());
    // The machine before its 'running' journal entry, in one batch: a master killed here (even
    // mid-write) never leaves a job 'running' that no machine will ever finish.
    const first = !resumed ? [persist()] : restore ? [] : [store.replaceMachine(record())];
    await Promise.all([...first, store.putJob(job)]);
    const outcome = await this.drive(actor, id, op, persist, restore ? undefined : from);
    this.running.delete(id);
    const end = this.now();
    const error = outcome.failed ? outcome.error ?? 'failed' : undefined;
    const note = notes.length ? notes.join('; ') : undefined;
    const migration = store.jobs.get(id)?.migration; // written by the step that knew it, maybe before a restart
    // The journal's result before the machine's removal (one batch): a torn write can leave the
    // machine to be resumed (its last step is idempotent), never a job 'running' without a machine.
    await Promise.all([
      store.putJob({ ...job, end, result: error ? 'failed' : 'succeeded', ...(error && { error }), ...(note && { note }), ...(migration && { migration }), ...(timings.length && { steps: timings }) }),
      store.deleteMachine(id),
    ]);
    events({ type: 'operation-finished', id, op, result: error ? 'failed' : 'succeeded', durationMs: end - startedAt, ...(error && { error }), ...(note && { note }), ...(migration && { migration }) });
    return error;
  }

  /**
   * A machine this master cannot resume safely stays in the store, not run (its instance is left
   * alone by the planner meanwhile); the journal and a failed event say which and why.
   */
  private async parkRecord(r: MachineRecord, why: string): Promise<string> {
    const { store, events } = this.options;
    const error = `cannot resume ${r.op.type} ${r.op.instance} (job ${r.id}): ${why}; parked, left in the store`;
    const job = store.jobs.get(r.id) ?? this.jobFor(r.op, r.id, r.startedAt, false);
    await store.putJob({ ...job, result: 'parked', error });
    events({ type: 'operation-finished', id: r.id, op: r.op, result: 'failed', error, durationMs: 0 });
    return error;
  }

  /** The journal entry of an operation starting (or resuming: counted). */
  private jobFor(op: Operation, id: string, start: number, resumed: boolean): JobRecord {
    const previous = this.options.store.jobs.get(id);
    return {
      id, type: op.type, instance: op.instance, reason: describeCause(op.cause), start, result: 'running',
      ...('changes' in op && op.changes.length > 0 && { changes: op.changes }),
      ...('spec' in op && op.spec.nics?.length && { nics: op.spec.nics.map(({ network, ip, mac }) => ({ network, ip, mac })) }),
      ...(op.type === 'FailoverInstance' && { recovery: recoveryPointOf(op)! }),
      ...(previous?.drift && { drift: previous.drift }), ...(previous?.migration && { migration: previous.migration }), ...this.options.tag?.(op),
      ...(resumed && { resumed: (previous?.resumed ?? 0) + 1, resumedAt: this.now() }), master: MASTER,
    };
  }

  /** Start the actor, persist and report every new state, resolve at its final state. */
  private drive(actor: OperationActor, id: string, op: Operation, persist: () => Promise<void>, initial: string | undefined): Promise<MachineContext & { failed: boolean }> {
    return new Promise((resolve) => {
      let last: unknown = initial;
      actor.subscribe((snap) => {
        if (snap.value !== last) {
          last = snap.value;
          this.report(id, op, snap.value, snap.context);
          if (snap.status === 'active') void persist();
        }
        if (snap.status === 'done') resolve({ ...snap.context, failed: snap.value === 'failed' });
      });
      actor.start();
      // Timers do not survive a restore: a machine resumed in a backoff state retries at once.
      if (!initial && isRetryState(actor.getSnapshot().value)) actor.send({ type: 'RETRY' });
    });
  }

  private report(id: string, op: Operation, value: unknown, context: MachineContext): void {
    if (typeof value !== 'string' || value === 'done' || value === 'failed') return;
    if (isRetryState(value)) {
      const step = value.slice(0, -'_retry'.length);
      this.options.events({ type: 'retry', id, instance: op.instance, step, error: context.error ?? '', attempt: context.attempts, delayMs: backoffMs(context.attempts) });
    } else this.options.events({ type: 'step', id, instance: op.instance, step: value });
  }

  private contextFor(op: Operation, id: string, notes: string[]): StepContext {
    const { driver, store, events, fence } = this.options;
    return {
      op, driver, store, fence, now: this.now, replicationMode: this.options.replicationMode?.(op.instance),
      progress: (bytesDone, bytesTotal) => events({ type: 'progress', id, instance: op.instance, bytesDone, bytesTotal }),
      note: (text) => void notes.push(text),
      migrated: async (migration) => {
        const job = store.jobs.get(id);
        if (job) await store.putJob({ ...job, migration });
      },
    };
  }

  private machineFor(names: readonly string[], from: string): OperationMachine {
    const key = `${names.join(',')}@${from}`;
    let m = this.machines.get(key);
    if (!m) {
      m = buildMachine(names, (req) => this.runStep(req), from);
      this.machines.set(key, m);
    }
    return m;
  }

  private runStep(req: StepRequest): Promise<void> {
    if (this.parking) return new Promise<never>(() => {}); // parked before this step: it re-runs on resume
    const r = this.running.get(req.opId);
    const step = r?.steps.get(req.step);
    if (!r || !step) return Promise.reject(new Error(`no step ${req.step} for operation ${req.opId}`));
    this.stepsInFlight++;
    const started = this.now();
    return step(r.ctx).finally(() => {
      r.timings.push({ step: req.step, ms: this.now() - started });
      if (--this.stepsInFlight === 0) this.parking?.resolve();
    });
  }
}

/** Who acts, for the journal: with a standby master (etcd store), each job says which one ran it. */
const MASTER = { host: os.hostname(), pid: process.pid } as const;

/**
 * The nodes an operation keeps busy, for the per-node limit. A failover's old primary is dead and
 * does no work: counting it would let only perNode of its instances fail over at a time.
 */
function loadedNodes(op: Operation): string[] {
  return op.type === 'FailoverInstance' ? [op.to] : nodesOf(op);
}

function tally(outcomes: readonly { op: Operation; error: string | undefined }[], skipped: number): RunResult {
  const failed = outcomes.filter((o) => o.error !== undefined).map((o) => ({ op: o.op, error: o.error! }));
  return { succeeded: outcomes.length - failed.length, failed, skipped };
}

