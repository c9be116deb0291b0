/**
 * The allocator's model of one cluster as it stands: nodes with their capacities (manifest first,
 * then what the node reports) and every placed instance where the store says it is. Used by the
 * planner and by balance, capacity and verify.
 */
import type { ClusterModel, InstanceModel, NodeModel } from '../alloc/model.ts';
import type { DesiredCluster, DesiredInstance } from '../model/desired.ts';
import { nodeCapacity, type NodeFacts } from './facts.ts';
import { diskBytes, hostMemory } from './spec.ts';
import type { PlanInput } from './types.ts';

/**
 * `usable`: a node that cannot take work now counts as drained (placement); `declared`: only what
 * the manifests say (verify reports unreachable nodes on their own, not as drained).
 */
export type NodeFlags = 'usable' | 'declared';

export function nodeModels(input: PlanInput, cluster: DesiredCluster, facts: ReadonlyMap<string, NodeFacts>, flags: NodeFlags = 'usable'): Map<string, NodeModel> {
  const nodes = new Map<string, NodeModel>();
  for (const f of facts.values()) {
    if (f.desired?.cluster !== cluster.name) continue;
    nodes.set(f.name, {
      name: f.name,
      group: f.desired.group,
      ...nodeCapacity(f.desired, input.observed.nodes.get(f.name)?.capacity),
      drained: flags === 'declared' ? f.desired.drained : !f.usable || f.held, // held nodes keep what they have and get nothing new
      offline: f.desired.offline || (flags === 'usable' && !f.up && f.dead),
      labels: f.desired.labels,
    });
  }
  return nodes;
}

export function instanceModel(i: DesiredInstance, primary: string | undefined, secondary: string | undefined): InstanceModel {
  return {
    name: i.name,
    memory: hostMemory(i),
    vcpus: i.vcpus,
    disk: diskBytes(i),
    template: i.diskTemplate,
    running: i.state === 'running',
    antiAffinity: i.antiAffinity,
    ...(primary && { primary }),
    ...(secondary && { secondary }),
  };
}

/** The cluster's current placement as a model (instances the store has placed and the manifests want). */
export function currentModel(input: PlanInput, cluster: DesiredCluster, facts: ReadonlyMap<string, NodeFacts>, flags: NodeFlags = 'usable'): ClusterModel {
  const instances = new Map<string, InstanceModel>();
  for (const d of input.desired.instances.values()) {
    const p = input.store.placements.get(d.name);
    if (d.cluster !== cluster.name || d.state === 'absent' || !p) continue;
    instances.set(d.name, instanceModel(d, p.primary, d.diskTemplate === 'replicated' ? p.secondary : undefined));
  }
  return { nodes: nodeModels(input, cluster, facts, flags), instances, policy: cluster.policy };
}
