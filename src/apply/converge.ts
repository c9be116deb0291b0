/**
 * converge(): resume what a previous master left in flight, then observe → plan → run, round
 * after round, until nothing is left to do; waits (re-probing) for an unreachable node's grace
 * to pass, so that one `apply` carries a failover through.
 */
import type { Driver } from '../drivers/driver.ts';
import type { Desired, DesiredNode } from '../model/desired.ts';
import type { Observed } from '../model/observed.ts';
import type { Operation } from '../model/operations.ts';
import { healthChecksOf, observe, type HealthChecks } from '../observe/index.ts';
import { plan, type Plan } from '../plan/index.ts';
import { rebalance } from '../plan/rebalance.ts';
import { settledOverrides } from '../plan/overrides.ts';
import { classifyDrift, type DriftItem } from '../plan/drift.ts';
import { describeCause } from '../plan/reasons.ts';
import { mirroredSync } from '../plan/facts.ts';
import { specHash } from '../model/hash.ts';
import type { Store } from '../store/store.ts';
import type { GitInfo, JobTags, NodeRecord, Placement } from '../store/types.ts';
import type { EventSink } from './events.ts';
import { Executor, type Failure, type Limits } from './executor.ts';
import { fencer } from './fence.ts';

export interface ConvergeOptions {
  readonly desired: Desired;
  readonly driver: Driver;
  readonly store: Store;
  readonly events: EventSink;
  readonly prune?: boolean;
  /** Apply exactly these operations once, instead of planning rounds. */
  readonly operations?: readonly Operation[];
  readonly maxRounds?: number;
  /** Longest wait for a node's grace, ms (a one-shot apply should not hang forever). */
  readonly maxWaitMs?: number;
  readonly probeTimeoutMs?: number;
  /** Aborting parks the run: no new step starts, steps in flight finish, machines stay resumable. */
  readonly signal?: AbortSignal;
  /** Recorded in every journal entry of this run. */
  readonly git?: GitInfo;
  readonly trigger?: string;
  /**
   * When a cheap probe between runs (watch) first found each node unreachable: its grace runs from then, if
   * this run's look confirms it (only a run's look counts a node's fall).
   */
  readonly seenDownAt?: ReadonlyMap<string, number>;
  /** Each round's look (what was observed, what was planned): the API serves the master's latest. */
  readonly onLook?: (look: { readonly observed: Observed; readonly plan: Plan; readonly drift: readonly DriftItem[] }) => void;
}

export interface ConvergeResult {
  readonly succeeded: number;
  readonly failed: readonly Failure[];
  readonly skipped: number;
  readonly pending: Plan['pending'];
  readonly errors: Plan['errors'];
  readonly warnings: readonly string[];
  readonly rounds: number;
  /** Changes made on the nodes outside Drover that this run found (corrected or left alone). */
  readonly drift: readonly DriftItem[];
  /** Stopped by the signal before it was done. */
  readonly parked: boolean;
  /** What the last round saw of the nodes (monitoring reads the cluster's status from it); absent when no round looked. */
  readonly observed?: Observed;
}

export async function converge(o: ConvergeOptions): Promise<ConvergeResult> {
  const nodes = [...o.desired.nodes.values()];
  const driftOf = new Map<Operation, DriftItem>();
  const tag = (op: Operation): JobTags => {
    const d = driftOf.get(op);
    return { ...(d && { drift: { kind: d.kind, detail: d.detail } }), ...(o.git && { git: o.git }), ...(o.trigger && { trigger: o.trigger }) };
  };
  const executor = new Executor({ driver: o.driver, store: o.store, events: recordApplied(o.store, o.events), limits: limitsOf(o.desired), fence: fencer(o.driver, o.desired), tag,
    replicationMode: (instance) => o.desired.clusters.get(o.desired.instances.get(instance)?.cluster ?? '')?.replication.mode });
  const parked = parkOn(o.signal, executor);
  let succeeded = 0, skipped = 0;
  const failed: Failure[] = [];
  const drift: DriftItem[] = [];
  const add = (r: { succeeded: number; failed: readonly Failure[]; skipped: number }) => { succeeded += r.succeeded; failed.push(...r.failed); skipped += r.skipped; };
  let seen: Observed | undefined;
  const result = (last: Plan, rounds: number, wasParked = false): ConvergeResult =>
    ({ succeeded, failed, skipped, pending: last.pending, errors: last.errors, warnings: last.warnings, rounds, drift, parked: wasParked, ...(seen && { observed: seen }) });
  const none: Plan = { operations: [], deferred: [], waves: {}, warnings: [], errors: [], pending: [] };
  // Either the work finishes, or the signal parks it: then the run's promise never settles.
  const work = async (p: Promise<{ succeeded: number; failed: readonly Failure[]; skipped: number }>) => {
    const r = await Promise.race([p, parked]);
    if (r === 'parked') return false;
    add(r);
    return true;
  };
  if (o.store.machines.size && !(await work(executor.resume([...o.store.machines.values()])))) return result(none, 0, true);
  if (o.operations) {
    if (!(await work(executor.run(o.operations)))) return result(none, 1, true);
    return result(none, 1);
  }
  const deadline = Date.now() + (o.maxWaitMs ?? 10 * 60_000);
  const checks = healthChecksOf(o.desired);
  let last: Plan = none;
  let rounds = 0;
  let maxRounds = o.maxRounds ?? 10;
  for (; rounds < maxRounds; rounds++) {
    if (o.signal?.aborted) return result(last, rounds, true);
    const observed = await observeAndRecord(o.driver, nodes, o.store, o.probeTimeoutMs, { record: true, holdAfter: holdLimits(o.desired), checks, ...(o.seenDownAt && { seenDownAt: o.seenDownAt }) });
    seen = observed;
    await dropReachedTargets(o.store, o.desired);
    last = plan({ desired: o.desired, observed, store: o.store, now: Date.now(), ...(o.prune && { prune: true }) });
    if (await clearCleanedNodes(o.store, observed, last)) {
      last = plan({ desired: o.desired, observed, store: o.store, now: Date.now(), ...(o.prune && { prune: true }) });
    }
    if (rounds === 0) maxRounds += laterWaves(last); // a rolling update takes a round per wave
    const found = classifyDrift(last, observed, o.store);
    noteDrift(found, drift, driftOf);
    o.onLook?.({ observed, plan: last, drift: found });
    if (last.errors.length) break;
    if (last.operations.length) {
      o.events({ type: 'round', round: rounds + 1, operations: last.operations.length });
      const before = { succeeded, failed: failed.length };
      if (!(await work(executor.run(last.operations)))) return result(last, rounds + 1, true);
      const r = { succeeded: succeeded - before.succeeded, failed: failed.length - before.failed };
      // Nothing moved: another round now would repeat it, unless a node's grace is running out.
      if (!(r.failed && r.succeeded === 0)) continue;
      if (!last.pending.some((p) => p.retryAt !== undefined)) break;
    }
    if (!last.operations.length && !last.pending.length && (await autoRebalance(o.store, o.desired, observed))) continue;
    const retryAt = Math.min(...last.pending.map((p) => p.retryAt ?? Infinity));
    if (!Number.isFinite(retryAt) || retryAt > deadline) break;
    o.events({ type: 'waiting', reason: describeCause(last.pending.find((p) => p.retryAt === retryAt)!.cause), untilMs: retryAt });
    await sleep(Math.max(250, Math.min(1000, retryAt - Date.now()))); // re-probe every second
    rounds--; // waiting is not a round of work
  }
  return result(last, rounds);
}

/** The waves of the plan's rolling updates after the first. */
const laterWaves = (p: Plan): number => Math.max(1, ...Object.values(p.waves)) - 1;

/** Keep each drift once per run (a later round sees what an earlier one already named). */
function noteDrift(found: readonly DriftItem[], drift: DriftItem[], driftOf: Map<Operation, DriftItem>): void {
  for (const d of found) {
    if (d.op) driftOf.set(d.op, d);
    if (!drift.some((x) => x.instance === d.instance && x.kind === d.kind && x.node === d.node)) drift.push(d);
  }
}

/** A promise of 'parked' once the signal fired and the executor's steps in flight are done. */
function parkOn(signal: AbortSignal | undefined, executor: Executor): Promise<'parked'> {
  return new Promise((resolve) => {
    if (!signal) return;
    const park = () => void executor.park().then(() => resolve('parked'));
    if (signal.aborted) park();
    else signal.addEventListener('abort', park, { once: true });
  });
}

/**
 * Remember what Drover made each container (spec hash, running), so drift/ can tell a change on
 * the node from a change in the manifests. Written once an operation succeeds; a crash before it
 * only makes the next run call a node-side change a manifest change (the correction is the same).
 */
function recordApplied(store: Store, events: EventSink): EventSink {
  const before = new Map<string, Placement['applied']>();
  return (e) => {
    if (e.type === 'operation-started') before.set(e.id, store.placements.get(e.op.instance)?.applied);
    if (e.type === 'operation-finished') {
      const kept = before.get(e.id);
      before.delete(e.id);
      const p = store.placements.get(e.op.instance);
      const applied = e.result === 'succeeded' ? appliedAfter(e.op, p?.applied ?? kept) : p?.applied ?? kept;
      if (p && applied && applied !== p.applied) void store.putPlacement({ ...p, applied });
    }
    events(e);
  };
}

function appliedAfter(op: Operation, was: Placement['applied']): Placement['applied'] {
  switch (op.type) {
    case 'CreateInstance': case 'RecreateInstance': case 'FailoverInstance': case 'MigrateInstance': case 'MoveInstance':
      return { specHash: specHash(op.spec), running: op.start, spec: op.spec };
    case 'ModifyInstance': return was && { ...was, spec: op.spec };
    case 'RestartInstance': return was && { ...was, running: op.start, spec: op.spec };
    case 'GrowDisk': return was?.spec ? { ...was, spec: { ...was.spec, disks: op.disks } } : was;
    case 'StartInstance': return was && { ...was, running: true };
    case 'StopInstance': return was && { ...was, running: false };
    default: return was;
  }
}

function holdLimits(desired: Desired): ReadonlyMap<string, number> {
  return new Map([...desired.nodes.values()].map((n) => [n.name, desired.clusters.get(n.cluster)?.failover.holdAfterFailures ?? 3]));
}

/**
 * Observe, and keep each node's `nodeDownSince` in the store: Drover measures unreachability itself, from
 * the first look that found the node unreachable (`seenDownAt`: a cheap probe just before this look).
 * Each fall is also counted: a node that falls `holdAfter` times within the hour is held out of new
 * placements for an hour (the planner reads `holdUntil`).
 */
export async function observeAndRecord(driver: Driver, nodes: readonly DesiredNode[], store: Store, timeoutMs?: number, options: { readonly record: boolean; readonly holdAfter?: ReadonlyMap<string, number>; readonly checks?: HealthChecks; readonly seenDownAt?: ReadonlyMap<string, number> } = { record: true }): Promise<Observed> {
  const observed = await observe(driver, nodes, timeoutMs, options.checks);
  if (!options.record) return observed; // read-only commands (plan, status) only look
  const writes: Promise<void>[] = [];
  for (const n of observed.nodes.values()) {
    const rec = store.nodes.get(n.name);
    if (n.health === 'unreachable' && rec?.nodeDownSince === undefined) {
      const since = Math.min(observed.at, options.seenDownAt?.get(n.name) ?? observed.at);
      writes.push(store.putNode(fell({ ...rec, name: n.name }, since, options.holdAfter?.get(n.name) ?? 3)));
    } else if (n.health === 'up' && rec?.nodeDownSince !== undefined) {
      const { nodeDownSince: _, ...rest } = rec;
      writes.push(store.putNode(rest));
    }
  }
  await Promise.all([...writes, ...mirrorWrites(observed, store)]);
  return observed;
}

/** Each replicated VM's mirror as its primary shows it, into its placement's last sync (mirroredSync). */
function mirrorWrites(observed: Observed, store: Store): Promise<void>[] {
  return [...store.placements.values()].flatMap((p) => {
    const seen = observed.nodes.get(p.primary)?.containers.find((c) => c.instance === p.instance && c.state === 'running')?.replication;
    const next = mirroredSync(p, seen, observed.at);
    return next === p.lastSync ? [] : [store.putPlacement({ ...p, lastSync: next })];
  });
}

const HOUR = 3_600_000;

function fell(rec: NodeRecord, at: number, holdAfter: number): NodeRecord {
  const failures = [...(rec.failures ?? []).filter((t) => t > at - HOUR), at];
  const hold = holdAfter > 0 && failures.length >= holdAfter;
  return { ...rec, nodeDownSince: at, failures, ...(hold && { holdUntil: at + HOUR }) };
}

/**
 * `reconcile.rebalance: auto`: once nothing else is left, store the moves that lower the score
 * (one batch of them; the next round carries them out). True when there is work again.
 */
async function autoRebalance(store: Store, desired: Desired, observed: Observed): Promise<boolean> {
  const auto = [...desired.clusters.values()].filter((c) => c.reconcile.rebalance === 'auto');
  if (!auto.length || store.targets.size) return false;
  const maxMoves = Math.min(...auto.map((c) => c.reconcile.concurrency.total));
  const targets = rebalance({ desired, observed, store, now: Date.now() }, auto, { maxMoves }).flatMap((r) => r.targets);
  for (const t of targets) await store.putTarget(t);
  return targets.length > 0;
}

/** Balance decisions that are carried out (or whose instance is gone) are forgotten. */
async function dropReachedTargets(store: Store, desired: Desired): Promise<void> {
  for (const t of [...store.targets.values()]) {
    const p = store.placements.get(t.instance);
    const reached = p?.primary === t.primary && (t.secondary === undefined || p.secondary === t.secondary);
    if (reached || !desired.instances.has(t.instance)) await store.deleteTarget(t.instance);
  }
  for (const name of settledOverrides(desired, store)) {
    const { override: _, ...rest } = store.nodes.get(name)!;
    await store.putNode(rest);
  }
}

/** A fenced node that is back and holds no stale copies may take work again. */
async function clearCleanedNodes(store: Store, observed: Observed, p: Plan): Promise<boolean> {
  const busy = new Set(p.operations.flatMap((op) => (op.type === 'RemoveOrphan' ? [op.node] : [])));
  let cleared = false;
  for (const rec of [...store.nodes.values()]) {
    if (rec.fencedAt === undefined || busy.has(rec.name) || observed.nodes.get(rec.name)?.health !== 'up') continue;
    const { fencedAt: _, ...rest } = rec;
    await store.putNode(rest);
    cleared = true;
  }
  return cleared;
}

/** One run, one set of limits: the strictest of the clusters' (manifests always have a cluster). */
function limitsOf(desired: Desired): Limits {
  const clusters = [...desired.clusters.values()];
  return {
    perNode: Math.min(...clusters.map((c) => c.reconcile.concurrency.perNode)),
    total: Math.min(...clusters.map((c) => c.reconcile.concurrency.total)),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
