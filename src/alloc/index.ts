/**
 * alloc/: Ganeti's htools (hail, hbal, hspace, the N+1 and policy checks of verify) as pure functions
 * over a ClusterModel. No I/O, no clock, no randomness: the same model in gives the same decisions out.
 * Quantities are bytes (model.ts), except the Ganeti text structures, which stay in MiB like the files.
 *
 * Entry points (for plan/ and cli/)
 * - Placement, one plan at a time (hail):
 *     new Allocator(model, { n1?: 'prefer' | 'strict' })
 *       .place(instance): PlaceResult                 best primary (+ secondary), committed; go largest
 *       .placeAll(instances)                          first, or let placeAll sort them so
 *       .replaceSecondary(name, exclude): PlaceResult
 *     a refusal is data: { kind: 'no-node', counts: Record<FailMode, number> } (nodes turned down per
 *     rule); refusalText(refusal) is its sentence, failModes(counts) the rules by weight
 *       .nPlusOneFailures(): N1Failure[]              { node, failingPeer, needed, free }
 *       .score(), .breakdown(), .placements()
 * - Score (hinfo):      clusterScore(model): ScoreBreakdown        { score, components[{name, weight, value}] }
 *   per group (hcheck): groupScores(model): Map<group, ScoreBreakdown>
 * - Balance (hbal):     balance(model, { maxMoves?, noDiskMoves?, minGain?, minGainLimit?, compress?, pairs?,
 *                         ignoreSoftErrors? }):
 *                         BalanceResult { initialScore, finalScore, moves[{instance, kind, code, from, to,
 *                         score, dataCopied}], placements }
 * - Capacity (hspace):  capacityStandard(model, spec, { maxInstances? }): CapacityRun
 *                       capacityTiered(model, startSpec, { maxInstances? }): CapacityRun
 *                         spec { memory, disk, vcpus, template }; run { count, limitingResource, stoppedBy,
 *                         tiers[{spec, count}], placements[], score }
 * - Verify:             verifyModel(model): Finding[]               { code, severity, node?, instance?, message }
 * - Instance policy:    policyViolation(instance, policyFor(model.policy, group)): PolicyViolation | undefined
 *                         (Ganeti's instMatchesPolicy); violationText(v) is its sentence
 * - Maintenance rolls (hroller): planRolls(model, { group?, offlineMaintenance? }): RollPlan
 *                         { heuristic, groups[{ nodes, nonRedundant }] }, reboot order
 * - Ganeti text format: parseGanetiText(text, file): GanetiCluster (throws GanetiTextError with .line)
 *                       formatGanetiText(cluster): string           (exact round trip)
 *                       ganetiToModel(cluster, file): ClusterModel  (throws GanetiTextError for what the
 *                                                                    model cannot represent)
 *                       modelToGaneti(model, base?): GanetiCluster  (export; `base` keeps a source file's
 *                                                                    groups, statuses, tags, policies)
 *                       withPlacements(cluster, placements): GanetiCluster (moves applied, free mem/disk
 *                                                                    adjusted like `hbal -S`)
 */
import type { ClusterModel } from './model.ts';
import type { ScoreBreakdown } from './metrics.ts';
import { ClusterState } from './state.ts';

export { Allocator, largestFirst, failModes, refusalText, type PlaceResult, type N1Failure, type AllocatorOptions } from './allocator.ts';
export { METRICS, type MetricComponent, type ScoreBreakdown } from './metrics.ts';
export { balance, type BalanceMove, type BalanceOptions, type BalanceResult, type MoveKind } from './balance.ts';
export { capacityStandard, capacityTiered, type CapacityOptions, type CapacityPlacement, type CapacityRun, type CapacitySpec } from './capacity.ts';
export { verifyModel, type Finding, type FindingCode } from './verify.ts';
export { planRolls, type RollGroup, type RollOptions, type RollPlan } from './roll.ts';
export { policyFor, policyViolation, templateOf, violationText, type PolicyField, type PolicyViolation } from './policy.ts';
export {
  formatGanetiText, parseGanetiText, GanetiTextError,
  type GanetiCluster, type GanetiGroup, type GanetiInstance, type GanetiNode, type GanetiPolicy, type ISpec,
} from './ganeti-text.ts';
export { ganetiToModel, modelToGaneti, withPlacements, MiB } from './ganeti-model.ts';
export type { ClusterModel, NodeModel, InstanceModel, AllocPolicy, InstancePolicy, InstanceSpec, DiskTemplateName } from './model.ts';

/** Ganeti's cluster score of the model as it stands (hbal/hinfo "Cluster score"). */
export function clusterScore(model: ClusterModel): ScoreBreakdown {
  return new ClusterState(model).breakdown();
}

/**
 * The score of each node group on its own (hcheck's and `hbal -G`'s group score): the group's nodes
 * and the instances whose primary is there. On a one-group cluster it is clusterScore.
 */
export function groupScores(model: ClusterModel): ReadonlyMap<string, ScoreBreakdown> {
  const groups = [...new Set([...model.nodes.values()].map((n) => n.group))].sort();
  return new Map(groups.map((g) => {
    const nodes = new Map([...model.nodes].filter(([, n]) => n.group === g));
    const instances = new Map([...model.instances].filter(([, i]) => i.primary !== undefined && nodes.has(i.primary)));
    return [g, clusterScore({ ...model, nodes, instances })] as const;
  }));
}
