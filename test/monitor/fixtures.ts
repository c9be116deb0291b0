/** A status snapshot with something of everything: nodes up, drained, down, fenced; instances degraded, escaped names. */
import type { MonitorStatus } from '../../src/monitor/snapshot.ts';
import type { InstanceStatus, NodeStatus } from '../../src/plan/status.ts';

const res = { total: 8 * 2 ** 30, used: 2 ** 30 };
const node = (name: string, health: NodeStatus['health'], flags: string[] = [], extra: Partial<NodeStatus> = {}): NodeStatus =>
  ({ name, health, flags, memory: res, vcpus: { total: 8, used: 1 }, disk: res, primaries: 1, secondaries: 1, ...extra });
const inst = (name: string, state: string, extra: Partial<InstanceStatus> = {}): InstanceStatus =>
  ({ name, state, desiredState: 'running', primary: 'n1', secondary: 'n2', diskTemplate: 'replicated', memory: 2 ** 30, vcpus: 1, degraded: false, ...extra });

export const STATUS: MonitorStatus = {
  nodes: [node('n1', 'up'), node('n2', 'up', ['drained']), node('n3', 'unreachable', [], { nodeDownSince: 1_700_000_000_000 }), node('n4', 'fenced')],
  instances: [
    inst('web1', 'running', { recoveryPoint: Date.now() - 90_000 }),
    inst('web2', 'running', { degraded: true, recoveryPoint: Date.now() - 3_600_000 }),
    inst('db "main"\\x', 'node-down', { degraded: true }),
    inst('plain', 'stopped', { diskTemplate: 'plain', secondary: undefined }),
  ],
  guards: [],
  n1: { failingNodes: ['n2'], messages: ['node n2: not enough memory'] },
  at: Date.now(),
};

