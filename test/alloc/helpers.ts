import type { AllocPolicy, ClusterModel, InstanceModel, NodeModel } from '../../src/alloc/model.ts';

export const GiB = 2 ** 30;

export function node(name: string, over: Partial<NodeModel> = {}): NodeModel {
  return { name, group: 'default', memory: 64 * GiB, vcpus: 16, disk: 1024 * GiB, drained: false, offline: false, labels: {}, ...over };
}

export function inst(name: string, over: Partial<InstanceModel> = {}): InstanceModel {
  return { name, memory: 4 * GiB, vcpus: 2, disk: 20 * GiB, template: 'replicated', running: true, antiAffinity: [], ...over };
}

export function cluster(
  nodes: readonly NodeModel[],
  instances: readonly InstanceModel[] = [],
  policy: Partial<AllocPolicy> = {},
): ClusterModel {
  return {
    nodes: new Map(nodes.map((n) => [n.name, n])),
    instances: new Map(instances.map((i) => [i.name, i])),
    policy: { vcpuRatio: 4, memoryOvercommit: 1, redundancy: 'n+1', ...policy },
  };
}
