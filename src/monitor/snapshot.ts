/**
 * What monitoring reads: `drover status`'s snapshot, plus N+1 (Ganeti's rule, as `drover verify`
 * checks it) and when the nodes were looked at. Pure.
 */
import { clusterStatus, type ClusterStatus } from '../plan/status.ts';
import type { PlanInput } from '../plan/types.ts';
import { modelFindings } from '../plan/verify.ts';

export interface N1State {
  /** Nodes that could not absorb some peer's failure, sorted. */
  readonly failingNodes: readonly string[];
  /** Ganeti's ENODEN1 sentences, one per (node, peer). */
  readonly messages: readonly string[];
}

/** `drover status`'s snapshot and when the nodes were looked at. */
export type StatusSnapshot = ClusterStatus & { readonly at?: number };

/** A ClusterStatus is one: N+1 and the time are added when known. */
export type MonitorStatus = StatusSnapshot & { readonly n1?: N1State };

export function monitorStatus(input: PlanInput): MonitorStatus {
  return { ...statusSnapshot(input), n1: nPlusOne(input) };
}

/** The snapshot without N+1 (the costly part: a model of every instance), for readers who have it already. */
export function statusSnapshot(input: PlanInput): StatusSnapshot {
  return { ...clusterStatus(input.desired, input.observed, input.store), at: input.observed.at };
}

export function nPlusOne(input: PlanInput): N1State {
  return n1Of(modelFindings(input));
}

/** N+1 read off verify's findings (the ENODEN1 ones), wherever they were computed. */
export function n1Of(findings: readonly { readonly code: string; readonly node?: string; readonly message: string }[]): N1State {
  const n1 = findings.filter((f) => f.code === 'ENODEN1');
  return { failingNodes: [...new Set(n1.map((f) => f.node!))].sort(), messages: n1.map((f) => f.message) };
}
