/**
 * converge(): resume what a previous master left in flight, then observe → plan → run, round
 * after round, until nothing is left to do; waits (re-probing) for an unreachable node's grace
 * to pass, so that one `apply` carries a failover through.
 */
import type { Driver } from '../drivers/driver.ts';
import type { Desired, DesiredNode } from '../model/desired.ts';
import type { Observed } from '../model/observed.ts';
import type { Operation } from '../model/operations.ts';
import { observe } from '../observe/index.ts';
import { plan, type Plan } from '../plan/index.ts';
import type { Store } from '../store/store.ts';
import type { EventSink } from './events.ts';
import { Executor, type Failure, type Limits } from './executor.ts';

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
}

export interface ConvergeResult {
  readonly succeeded: number;
  readonly failed: readonly Failure[];
  readonly skipped: number;
  readonly pending: Plan['pending'];
  readonly errors: Plan['errors'];
  readonly warnings: readonly string[];
  readonly rounds: number;
}

export async function converge(o: ConvergeOptions): Promise<ConvergeResult> {
  const nodes = [...o.desired.nodes.values()];
  const executor = new Executor({ driver: o.driver, store: o.store, events: o.events, limits: limitsOf(o.desired), fence: fencer(o.driver, o.desired) });
  let succeeded = 0, skipped = 0;
  const failed: Failure[] = [];
  const add = (r: { succeeded: number; failed: readonly Failure[]; skipped: number }) => { succeeded += r.succeeded; failed.push(...r.failed); skipped += r.skipped; };
  if (o.store.machines.size) add(await executor.resume([...o.store.machines.values()]));
  if (o.operations) {
    add(await executor.run(o.operations));
    return { succeeded, failed, skipped, pending: [], errors: [], warnings: [], rounds: 1 };
  }
  const deadline = Date.now() + (o.maxWaitMs ?? 10 * 60_000);
  let last: Plan = { operations: [], warnings: [], errors: [], pending: [] };
  let rounds = 0;
  for (; rounds < (o.maxRounds ?? 10); rounds++) {
    const observed = await observeAndRecord(o.driver, nodes, o.store, o.probeTimeoutMs);
    last = plan({ desired: o.desired, observed, store: o.store, now: Date.now(), ...(o.prune && { prune: true }) });
    if (await clearCleanedNodes(o.store, observed, last)) {
      last = plan({ desired: o.desired, observed, store: o.store, now: Date.now(), ...(o.prune && { prune: true }) });
    }
    if (last.errors.length) break;
    if (last.operations.length) {
      o.events({ type: 'round', round: rounds + 1, operations: last.operations.length });
      const r = await executor.run(last.operations);
      add(r);
      // Nothing moved: another round now would repeat it, unless a node's grace is running out.
      if (!(r.failed.length && r.succeeded === 0)) continue;
      if (!last.pending.some((p) => p.retryAt !== undefined)) break;
    }
    const retryAt = Math.min(...last.pending.map((p) => p.retryAt ?? Infinity));
    if (!Number.isFinite(retryAt) || retryAt > deadline) break;
    o.events({ type: 'waiting', reason: last.pending.find((p) => p.retryAt === retryAt)!.reason, untilMs: retryAt });
    await sleep(Math.max(250, Math.min(1000, retryAt - Date.now()))); // re-probe every second
    rounds--; // waiting is not a round of work
  }
  return { succeeded, failed, skipped, pending: last.pending, errors: last.errors, warnings: last.warnings, rounds };
}

/** Observe, and keep each node's `nodeDownSince` in the store: Drover measures unreachability itself. */
export async function observeAndRecord(driver: Driver, nodes: readonly DesiredNode[], store: Store, timeoutMs?: number, options: { record: boolean } = { record: true }): Promise<Observed> {
  const observed = await observe(driver, nodes, timeoutMs);
  if (!options.record) return observed; // read-only commands (plan, status) only look
  const writes: Promise<void>[] = [];
  for (const n of observed.nodes.values()) {
    const rec = store.nodes.get(n.name);
    if (n.health === 'unreachable' && rec?.nodeDownSince === undefined) {
      writes.push(store.putNode({ ...rec, name: n.name, nodeDownSince: observed.at }));
    } else if (n.health === 'up' && rec?.nodeDownSince !== undefined) {
      const { nodeDownSince: _, ...rest } = rec;
      writes.push(store.putNode(rest));
    }
  }
  await Promise.all(writes);
  return observed;
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

function limitsOf(desired: Desired): Limits {
  const clusters = [...desired.clusters.values()];
  return {
    perNode: Math.min(...clusters.map((c) => c.reconcile.concurrency.perNode), Infinity) || 4,
    total: Math.min(...clusters.map((c) => c.reconcile.concurrency.total), Infinity) || 32,
  };
}

function fencer(driver: Driver, desired: Desired): (node: string) => Promise<boolean> {
  return (node) => driver.fence(node, desired.nodes.get(node)?.endpoint);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
