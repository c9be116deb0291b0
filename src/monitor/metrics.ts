/**
 * The master's state as Prometheus metrics (prom-client, one Registry per master, never the
 * global one). Fed by what the master already produces: the events apply/ emits, the watch loop's
 * run reports, the status snapshot after each run, the N+1 of the API's views, and the lease. Every name is documented in
 * docs/metrics.md; the names and labels are a public interface (alert rules read them).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ApplyEvent } from '../apply/events.ts';
import type { WatchEvent, WatchOptions } from '../apply/watch.ts';
import { statusSnapshot, type N1State, type StatusSnapshot } from './snapshot.ts';

export interface MasterMetrics {
  readonly contentType: string;
  /** An event of apply/ (as `apply --json` prints it) or of the watch loop (its `run` reports). */
  observeEvent(e: ApplyEvent | WatchEvent): void;
  /** The status snapshot after a run: replaces every per-node and per-instance series. */
  observeStatus(s: StatusSnapshot): void;
  /** N+1 as the API's views found it for the master's latest look (computed once there, not again here). */
  observeN1(n1: N1State): void;
  /** Who holds the cluster lease (this master's description), or undefined when nobody does. */
  observeLease(holder: string | undefined): void;
  render(): Promise<string>;
}

/** Reconcile runs take from milliseconds (nothing to do) to many minutes (a rolling update). */
const RUN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

export function createMetrics(): MasterMetrics {
  const registry = new Registry();
  let recoveryPoints: ReadonlyMap<string, number> = new Map();
  const m = instruments(registry, () => recoveryPoints);
  return {
    contentType: registry.contentType,
    observeEvent: (e) => observeEvent(m, e),
    observeStatus: (s) => { recoveryPoints = observeStatus(m, s); },
    observeN1: (n1) => m.n1Failing.set(n1.failingNodes.length),
    observeLease: (holder) => {
      m.leaseHolder.reset();
      if (holder !== undefined) m.leaseHolder.set({ holder }, 1);
    },
    render: () => registry.metrics(),
  };
}

type Instruments = ReturnType<typeof instruments>;

function instruments(registers: Registry, points: () => ReadonlyMap<string, number>) {
  const gauge = (name: string, help: string, labelNames: readonly string[] = []) => new Gauge({ name, help, labelNames, registers: [registers] });
  const counter = (name: string, help: string, labelNames: readonly string[] = []) => new Counter({ name, help, labelNames, registers: [registers] });
  return {
    nodeUp: gauge('drover_node_up', '1 when the node answered the last probe, 0 when it is unreachable or fenced.', ['node']),
    nodeFenced: gauge('drover_node_fenced', '1 when the node was fenced after it went down (until it is cleaned).', ['node']),
    nodeDrained: gauge('drover_node_drained', '1 when the manifests drain the node (no new instances).', ['node']),
    nodeOffline: gauge('drover_node_offline', '1 when the manifests mark the node offline.', ['node']),
    nodeDownSince: gauge('drover_node_down_since_timestamp_seconds', 'When the node was first seen unreachable (only for nodes down now).', ['node']),
    instances: gauge('drover_instances', 'Instances by observed state (running, stopped, missing, node-down, unplaced, absent).', ['state']),
    degradedTotal: gauge('drover_instances_degraded', 'Replicated instances whose replica is not in sync.'),
    degraded: gauge('drover_instance_degraded', '1 for each replicated instance whose replica is not in sync (absent when in sync).', ['instance']),
    // The age grows between snapshots: computed at scrape time from the last snapshot's points.
    recoveryAge: new Gauge({
      name: 'drover_instance_recovery_point_age_seconds', help: 'Seconds since the replica\'s last good sync: what a failover would lose.', labelNames: ['instance'], registers: [registers],
      collect() {
        this.reset();
        const now = Date.now();
        for (const [instance, at] of points()) this.set({ instance }, Math.max(0, (now - at) / 1000));
      },
    }),
    n1Failing: gauge('drover_n1_failing_nodes', 'Nodes that could not absorb a peer\'s failure (N+1, Ganeti\'s rule); absent until known.'),
    guarded: gauge('drover_failover_guarded_clusters', 'Clusters whose automatic failover the partition guard stops now.'),
    statusTime: gauge('drover_status_timestamp_seconds', 'When the nodes were last observed for these metrics.'),
    operations: counter('drover_operations_total', 'Operations finished, by type and result (succeeded, failed).', ['type', 'result']),
    failovers: counter('drover_failovers_total', 'Instances failed over to their secondary after their primary went down.'),
    runs: counter('drover_reconcile_runs_total', 'Reconcile runs, by result (ok, failed: an operation or the plan failed).', ['result']),
    runSeconds: new Histogram({ name: 'drover_reconcile_duration_seconds', help: 'How long a reconcile run took.', buckets: RUN_BUCKETS, registers: [registers] }),
    lastRunFailed: gauge('drover_reconcile_last_run_failed', '1 when the last reconcile run had failures, 0 when it did not.'),
    lastRunTime: gauge('drover_reconcile_last_run_timestamp_seconds', 'When the last reconcile run ended.'),
    leaseHolder: gauge('drover_lease_holder', '1 for the holder of the cluster lease, as this master sees it.', ['holder']),
  };
}

function observeEvent(m: Instruments, e: ApplyEvent | WatchEvent): void {
  switch (e.type) {
    case 'operation-finished':
      m.operations.inc({ type: e.op.type, result: e.result });
      if (e.op.type === 'FailoverInstance' && e.result === 'succeeded') m.failovers.inc();
      break;
    case 'run': // the watch loop's run
      endRun(m, e.durationMs, e.failed > 0);
      break;
    case 'summary': // a one-shot apply's run
      endRun(m, e.durationMs, e.failed > 0);
      break;
    default:
  }
}

function endRun(m: Instruments, durationMs: number, failed: boolean): void {
  m.runs.inc({ result: failed ? 'failed' : 'ok' });
  m.runSeconds.observe(durationMs / 1000);
  m.lastRunFailed.set(failed ? 1 : 0);
  m.lastRunTime.set(Date.now() / 1000);
}

/** Sets every snapshot series afresh; returns the recovery points the age gauge reads at scrape time. */
function observeStatus(m: Instruments, s: StatusSnapshot): ReadonlyMap<string, number> {
  for (const g of [m.nodeUp, m.nodeFenced, m.nodeDrained, m.nodeOffline, m.nodeDownSince, m.instances, m.degraded]) g.reset();
  for (const n of s.nodes) {
    m.nodeUp.set({ node: n.name }, n.health === 'up' ? 1 : 0);
    m.nodeFenced.set({ node: n.name }, n.health === 'fenced' ? 1 : 0);
    m.nodeDrained.set({ node: n.name }, n.flags.includes('drained') ? 1 : 0);
    m.nodeOffline.set({ node: n.name }, n.flags.includes('offline') ? 1 : 0);
    if (n.nodeDownSince !== undefined) m.nodeDownSince.set({ node: n.name }, n.nodeDownSince / 1000);
  }
  const byState = new Map<string, number>();
  const points = new Map<string, number>();
  for (const i of s.instances) {
    byState.set(i.state, (byState.get(i.state) ?? 0) + 1);
    // only the degraded ones: 20,000 zeros would double a big cluster's scrape for nothing
    if (i.degraded) m.degraded.set({ instance: i.name }, 1);
    if (i.recoveryPoint !== undefined) points.set(i.name, i.recoveryPoint);
  }
  for (const [state, count] of byState) m.instances.set({ state }, count);
  m.degradedTotal.set(s.instances.filter((i) => i.degraded).length);
  m.guarded.set(s.guards.length);
  m.statusTime.set((s.at ?? Date.now()) / 1000);
  return points;
}

/**
 * The watch loop's options with `metrics` fed from them: every apply event and run report, and
 * the status after each run. N+1 is not computed here: the API's views compute it for each look
 * (cli/api.ts hands it to observeN1); without the API nobody could read it. What the loop itself
 * does is unchanged.
 */
export function metered(metrics: MasterMetrics, o: WatchOptions): WatchOptions {
  return {
    ...o,
    events: (e) => { metrics.observeEvent(e); o.events(e); },
    report: (e) => { metrics.observeEvent(e); o.report(e); },
    onLook: (look) => {
      // Monitoring never stops the master: on a failure here the previous snapshot's series stay.
      if (look.kind === 'run-end') try { metrics.observeStatus(statusSnapshot(look.seen)); } catch { /* kept: the last good series */ }
      o.onLook?.(look);
    },
  };
}
