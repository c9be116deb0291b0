/**
 * Rebalancing as decisions: run the allocator's balance over each cluster's current placement
 * and turn the moves into balance targets the planner carries out. Pure.
 */
import { balance, type BalanceOptions, type BalanceResult } from '../alloc/balance.ts';
import type { DesiredCluster } from '../model/desired.ts';
import type { BalanceTarget } from '../store/types.ts';
import { nodeFacts } from './facts.ts';
import { currentModel } from './model.ts';
import type { PlanInput } from './types.ts';

export interface ClusterBalance extends BalanceResult {
  readonly cluster: string;
  readonly targets: readonly BalanceTarget[];
}

export function rebalance(input: PlanInput, clusters: readonly DesiredCluster[], options: BalanceOptions = {}): ClusterBalance[] {
  const facts = nodeFacts(input);
  return clusters.map((c) => {
    const r = balance(currentModel(input, c, facts), options);
    const reason = `rebalance: score ${r.initialScore.toFixed(4)} → ${r.finalScore.toFixed(4)}`;
    const targets = [...r.placements].map(([instance, to]) => ({ instance, primary: to.primary, ...(to.secondary && { secondary: to.secondary }), reason }));
    return { cluster: c.name, ...r, targets };
  });
}
