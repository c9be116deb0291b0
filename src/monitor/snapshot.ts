/**
 * What monitoring reads: `drover status`'s snapshot, plus N+1 (Ganeti's rule, as `drover verify`
 * checks it) and when the nodes were looked at. Pure.
 */
import { verifyModel } from '../alloc/verify.ts';
import { nodeFacts } from '../plan/facts.ts';
import { currentModel } from '../plan/model.ts';
import { clusterStatus, type ClusterStatus } from '../plan/status.ts';
import type { PlanInput } from '../plan/types.ts';

export interface N1State {
  /** Nodes that could not absorb some peer's failure, sorted. */
  readonly failingNodes: readonly string[];
  /** Ganeti's ENODEN1 sentences, one per (node, peer). */
  readonly messages: readonly string[];
}

/** A ClusterStatus is one: N+1 and the time are added when known. */
export type MonitorStatus = ClusterStatus & { readonly n1?: N1State; readonly at?: number };

export function monitorStatus(input: PlanInput): MonitorStatus {
  return { ...clusterStatus(input.desired, input.observed, input.store), n1: nPlusOne(input), at: input.observed.at };
}

export function nPlusOne(input: PlanInput): N1State {
  const facts = nodeFacts(input);
  const findings = [...input.desired.clusters.values()]
    .flatMap((c) => verifyModel(currentModel(input, c, facts, 'declared')))
    .filter((f) => f.code === 'ENODEN1');
  return { failingNodes: [...new Set(findings.map((f) => f.node!))].sort(), messages: findings.map((f) => f.message) };
}
