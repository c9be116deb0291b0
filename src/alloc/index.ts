/**
 * alloc/: Ganeti's htools (hail, hbal, hspace, N+1 checks) as pure functions over a ClusterModel.
 * No I/O, no clock, no randomness: the same model in gives the same decisions out.
 *
 * Entry points
 * - `new Allocator(model, { n1?: 'prefer' | 'strict' })` — placement state for one plan:
 *     `.place(instance): PlaceResult`          best primary (+ secondary for 'replicated'), committed;
 *                                              callers placing many must go largest first, or use
 *     `.placeAll(instances)`                   which sorts largest first (memory, disk, vcpus, name);
 *     `.replaceSecondary(name, exclude): PlaceResult`
 *     `.nPlusOneFailures(): N1Failure[]`       { node, failingPeer, needed, free } (bytes)
 *     `.score(): number`, `.breakdown(): ScoreBreakdown`, `.placements()`
 * - `clusterScore(model): ScoreBreakdown`       Ganeti's score, each component as hinfo prints it.
 *
 * Quantities are bytes, as in model.ts. See the files for the rules; ganeti.md §4.5/§6 for the origin.
 */
import type { ClusterModel } from './model.ts';
import type { ScoreBreakdown } from './metrics.ts';
import { ClusterState } from './state.ts';

export { Allocator, largestFirst, type PlaceResult, type N1Failure, type AllocatorOptions } from './allocator.ts';
export { METRICS, type MetricComponent, type ScoreBreakdown } from './metrics.ts';
export type { ClusterModel, NodeModel, InstanceModel, AllocPolicy } from './model.ts';

/** Ganeti's cluster score of the model as it stands (hbal/hinfo "Cluster score"). */
export function clusterScore(model: ClusterModel): ScoreBreakdown {
  return new ClusterState(model).breakdown();
}
