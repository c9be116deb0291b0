/**
 * The watch loop: converge(), again and again, for the life of the process. A run starts when a
 * manifest file changes (debounced), when the cluster's reconcile interval has passed, when a node's
 * health changes (cheap probes between runs), when a node's grace ends, and on SIGHUP. One worker
 * does everything that touches the driver, so runs and probes never overlap.
 */
import { watch as chokidar, type FSWatcher } from 'chokidar';
import { formatError } from '../manifest/index.ts';
import type { Desired } from '../model/desired.ts';
import type { Driver } from '../drivers/driver.ts';
import type { Observed } from '../model/observed.ts';
import type { Plan } from '../plan/types.ts';
import { observe } from '../observe/index.ts';
import type { DriftItem } from '../plan/drift.ts';
import { guardsIn, type PartitionGuard } from '../plan/facts.ts';
import { describeGuard } from '../plan/reasons.ts';
import type { PlanInput } from '../plan/types.ts';
import type { Store } from '../store/store.ts';
import type { GitInfo } from '../store/types.ts';
import { converge, type ConvergeResult } from './converge.ts';
import type { EventSink } from './events.ts';

/** A failed load: its diagnostics as printed, and how many of them are errors (counted, never read off the text). */
export type Loaded = { readonly ok: true; readonly desired: Desired } | { readonly ok: false; readonly diagnostics: readonly string[]; readonly errors: number };

export type WatchEvent =
  | { readonly type: 'watch-started'; readonly paths: readonly string[]; readonly intervalMs: number }
  | { readonly type: 'reload-failed'; readonly trigger: string; readonly diagnostics: readonly string[]; readonly errors: number }
  | { readonly type: 'health-changed'; readonly down: readonly string[]; readonly up: readonly string[] }
  | { readonly type: 'run'; readonly run: number; readonly trigger: string; readonly changes: number; readonly failed: number; readonly pending: number; readonly guards: readonly (PartitionGuard & { readonly reason: string })[]; readonly drift: readonly DriftItem[]; readonly durationMs: number; readonly git?: GitInfo; readonly parked: boolean; readonly errors: readonly string[] }
  | { readonly type: 'stopping'; readonly reason: string }
  | { readonly type: 'stopped' };

/**
 * What the loop saw, for the master's readers: each round's look (the API serves the latest), and
 * at each run's end the manifests, what the run last saw of the nodes and the store (monitoring
 * builds its status from them).
 */
export type WatchLook =
  | { readonly kind: 'round'; readonly desired: Desired; readonly observed: Observed; readonly plan: Plan; readonly drift: readonly DriftItem[] }
  | { readonly kind: 'run-end'; readonly seen: PlanInput };

export interface WatchOptions {
  /** Files and folders to watch (what the manifests were loaded from). */
  readonly paths: readonly string[];
  /** The manifests as loaded at start: watch only starts from good ones. */
  readonly desired: Desired;
  /** Re-read every manifest (called after a change, never trusting the event). */
  readonly load: () => Promise<Loaded>;
  readonly openDriver: (desired: Desired) => Promise<Driver>;
  readonly store: Store;
  readonly events: EventSink;
  readonly report: (e: WatchEvent) => void;
  /** Aborted on SIGTERM/SIGINT: the run in flight parks, the loop ends. */
  readonly signal: AbortSignal;
  readonly git?: () => Promise<GitInfo | undefined>;
  /** Overrides the clusters' reconcile.interval. */
  readonly intervalMs?: number;
  readonly probeEveryMs?: number;
  readonly debounceMs?: number;
  readonly prune?: boolean;
  /** Each round's look and each run's end (WatchLook). */
  readonly onLook?: (look: WatchLook) => void;
}

export interface WatchHandle {
  /** Ask for a run (a trigger name for the report); `reload` re-reads the manifests first. */
  readonly poke: (trigger: string, reload?: boolean) => void;
  readonly done: Promise<void>;
}

export function startWatch(o: WatchOptions): WatchHandle {
  const queue = new Queue(o.signal);
  const files = watchFiles(o.paths, o.debounceMs ?? 300, () => queue.push('manifest', true));
  const done = loop(o, queue).finally(() => files.close());
  queue.push('start', false);
  return { poke: (t, reload = false) => queue.push(t, reload), done };
}

async function loop(o: WatchOptions, queue: Queue): Promise<void> {
  let desired = o.desired;
  let driver = await o.openDriver(desired);
  let intervalMs = o.intervalMs ?? intervalOf(desired);
  let probeMs = o.probeEveryMs ?? probeEveryOf(desired);
  let runs = 0;
  let down = downNodes(o.store);
  let seenDownAt = new Map<string, number>();
  o.report({ type: 'watch-started', paths: o.paths, intervalMs });
  try {
    for (;;) {
      const work = await queue.next(probeMs);
      if (o.signal.aborted) break;
      if (!work) { // quiet: a cheap look at node health
        const changed = await healthChange(driver, desired, down);
        if (!changed) continue;
        for (const n of changed.down) seenDownAt.set(n, changed.at);
        o.report({ type: 'health-changed', down: changed.down, up: changed.up });
        queue.note('health');
      }
      const { triggers, reload } = queue.take();
      if (reload) {
        const r = await o.load();
        if (!r.ok) {
          o.report({ type: 'reload-failed', trigger: triggers.join('+'), diagnostics: r.diagnostics, errors: r.errors });
          if (triggers.every((t) => t === 'manifest')) continue; // the last good manifests stay in force; nothing to do
        } else {
          desired = r.desired;
          await driver.close();
          driver = await o.openDriver(desired);
          intervalMs = o.intervalMs ?? intervalOf(desired);
          probeMs = o.probeEveryMs ?? probeEveryOf(desired);
        }
      }
      const r = await runOnce(o, desired, driver, ++runs, triggers.join('+') || 'health', seenDownAt);
      seenDownAt = new Map();
      down = downNodes(o.store);
      if (r.observed) o.onLook?.({ kind: 'run-end', seen: { desired, observed: r.observed, store: o.store, now: Date.now() } });
      if (r.parked) break;
      queue.timer('interval', intervalMs);
      const retryAt = Math.min(...r.pending.map((p) => p.retryAt ?? Infinity));
      if (Number.isFinite(retryAt)) queue.timer('grace', Math.max(250, retryAt - Date.now()));
    }
  } finally {
    await driver.close();
    await o.store.flush();
    o.report({ type: 'stopped' });
  }
}

async function runOnce(o: WatchOptions, desired: Desired, driver: Driver, run: number, trigger: string, seenDownAt: ReadonlyMap<string, number>): Promise<ConvergeResult> {
  const started = Date.now();
  const git = await o.git?.();
  // maxWaitMs 0: never sit out a node's grace inside a run; the loop comes back at its end.
  const r = await converge({ desired, driver, store: o.store, events: o.events, signal: o.signal, maxWaitMs: 0, trigger: `watch:${trigger}`, seenDownAt, ...(git && { git }), ...(o.prune && { prune: true }), ...(o.onLook && { onLook: (l) => o.onLook!({ kind: 'round', desired, ...l }) }) });
  o.report({
    type: 'run', run, trigger, changes: r.succeeded, failed: r.failed.length + r.errors.length, pending: r.pending.length, drift: r.drift,
    guards: guardsIn(r.pending).map((g) => ({ ...g, reason: describeGuard(g) })), durationMs: Date.now() - started, parked: r.parked, errors: [...r.errors.map(formatError), ...r.failed.map((f) => formatError({ message: `${f.op.type} ${f.op.instance}: ${f.error}` }))],
    ...(git && { git }),
  });
  return r;
}

function intervalOf(desired: Desired): number {
  // Replicas are re-synced every replication.interval: a run must come at least that often.
  const every = [...desired.clusters.values()].flatMap((c) => [c.reconcile.intervalMs, c.replication.intervalMs]);
  return Math.min(...every, 5 * 60_000) || 5 * 60_000;
}

/**
 * How often the quiet probe looks at the nodes: a third of the shortest automatic-failover grace, between
 * 500 ms and 3 s, so that a dead node is noticed early in its grace (the grace itself is the operator's).
 */
function probeEveryOf(desired: Desired): number {
  const graces = [...desired.clusters.values()].filter((c) => c.failover.automatic).map((c) => c.failover.nodeDownAfterMs);
  return Math.max(500, Math.min(3000, ...graces.map((g) => Math.floor(g / 3))));
}

/** Nodes the store knows as unreachable: what the last run saw. */
function downNodes(store: Store): ReadonlySet<string> {
  return new Set([...store.nodes.values()].filter((n) => n.nodeDownSince !== undefined).map((n) => n.name));
}

async function healthChange(driver: Driver, desired: Desired, down: ReadonlySet<string>): Promise<{ down: string[]; up: string[]; at: number } | undefined> {
  const seen = await observe(driver, [...desired.nodes.values()], 2000);
  const nowDown = [...seen.nodes.values()].filter((n) => n.health !== 'up').map((n) => n.name);
  const fell = nowDown.filter((n) => !down.has(n));
  const rose = [...down].filter((n) => seen.nodes.get(n)?.health === 'up');
  return fell.length || rose.length ? { down: fell, up: rose, at: seen.at } : undefined;
}

/**
 * chokidar on the given files and folders. No globs since chokidar 4: folders are watched whole
 * and non-YAML files filtered. Bursts (editors save in several writes) become one trigger.
 */
function watchFiles(paths: readonly string[], debounceMs: number, fire: () => void): FSWatcher {
  let timer: NodeJS.Timeout | undefined;
  const w = chokidar([...paths], {
    ignoreInitial: true,
    ignored: (p, st) => st?.isFile() === true && !/\.ya?ml$/.test(p),
  });
  w.on('all', () => {
    clearTimeout(timer);
    timer = setTimeout(fire, debounceMs);
  });
  w.on('error', () => { /* a vanished folder: the next load reports it */ });
  return w;
}

/** Pending triggers, the timers that add them, and a wait that ends on work, timeout or stop. */
class Queue {
  private triggers = new Set<string>();
  private reload = false;
  private wake: (() => void) | undefined;
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly signal: AbortSignal) {
    signal.addEventListener('abort', () => { for (const t of this.timers.values()) clearTimeout(t); this.wake?.(); }, { once: true });
  }

  push(trigger: string, reload: boolean): void {
    this.note(trigger);
    this.reload ||= reload;
    this.wake?.();
  }

  note(trigger: string): void { this.triggers.add(trigger); }

  /** Replace the named timer (one interval, one grace wake-up at a time). */
  timer(name: string, ms: number): void {
    clearTimeout(this.timers.get(name));
    this.timers.set(name, setTimeout(() => this.push(name, false), ms));
  }

  /** True when there is work, false after `quietMs` without any. */
  async next(quietMs: number): Promise<boolean> {
    if (this.triggers.size || this.signal.aborted) return true;
    let t: NodeJS.Timeout | undefined;
    const woke = await new Promise<boolean>((resolve) => {
      this.wake = () => resolve(true);
      t = setTimeout(() => resolve(false), quietMs);
    });
    clearTimeout(t);
    this.wake = undefined;
    return woke;
  }

  take(): { triggers: string[]; reload: boolean } {
    const r = { triggers: [...this.triggers], reload: this.reload };
    this.triggers.clear();
    this.reload = false;
    return r;
  }
}
