/**
 * The cluster as `drover status` shows it: per node and per instance, from Desired + Observed +
 * the store. Pure, like the planner.
 */
import type { Desired, DesiredCluster } from '../model/desired.ts';
import { hostMemory } from './spec.ts';
import { failoverBlocked, nodeCapacity, partitionGuard, recoveryState, replicaCount, replicaHealth, type PartitionGuard } from './facts.ts';
import { describeFailoverBlock, describeGuard } from './reasons.ts';
import type { HealthResult, Observed, ObservedReplication } from '../model/observed.ts';
import type { StoreView } from '../store/types.ts';
import { withOverrides } from './overrides.ts';
import type { NicAssignment } from '../model/nics.ts';
import { poolUsage, type PoolUsage } from '../net/usage.ts';

export interface NodeStatus {
  readonly name: string;
  readonly health: 'up' | 'unreachable' | 'fenced';
  readonly flags: readonly string[]; // drained, offline
  readonly memory: { readonly total: number; readonly used: number };
  readonly vcpus: { readonly total: number; readonly used: number };
  readonly disk: { readonly total: number; readonly used: number };
  readonly primaries: number;
  readonly secondaries: number;
  readonly nodeDownSince?: number;
  readonly error?: string;
  /** For a node that does not answer: why its instances would not fail over (no fence command...). */
  readonly failoverBlocked?: string;
}

export interface InstanceStatus {
  readonly name: string;
  /** running, stopped, missing (no container), node-down (primary unreachable), unplaced, absent */
  readonly state: string;
  readonly desiredState: string;
  readonly primary?: string;
  readonly secondary?: string;
  readonly diskTemplate: string;
  readonly memory: number;
  readonly vcpus: number;
  readonly degraded: boolean;
  /**
   * ms since epoch of the replica's last good sync: a failover would lose writes after it. Absent while a
   * VM's synchronous mirror is in sync (`mirror: in-sync`: nothing would be lost) and when never synced.
   */
  readonly recoveryPoint?: number;
  /** A replicated VM's mirror (its primary's block jobs, else as last seen): in sync, or stopped (degraded). */
  readonly mirror?: 'in-sync' | 'stopped';
  /** A running replicated VM's replication as its QEMU reports it now: a full copy's progress, or which disk's mirror stopped and why. */
  readonly replication?: ObservedReplication;
  /** Its health check's last run, when it declares one and runs. */
  readonly health?: HealthResult;
  /** The address and MAC Drover assigned each NIC (the store's), when it has any. */
  readonly nics?: readonly NicAssignment[];
  /** `kvm` for a VM (absent: a container), and the accelerator its QEMU runs with where it runs. */
  readonly hypervisor?: 'kvm';
  readonly accel?: 'kvm' | 'tcg';
}

/** A cluster whose automatic failover the partition guard stops now, and why in words. */
export interface GuardStatus extends PartitionGuard {
  readonly kind: 'partition-guard';
  readonly reason: string;
}

export interface ClusterStatus {
  readonly nodes: readonly NodeStatus[];
  readonly instances: readonly InstanceStatus[];
  /** Clusters where automatic failover is stopped by the partition guard (empty when none). */
  readonly guards: readonly GuardStatus[];
  /** Each network's pool: its size and how much of it instances hold (absent: no networks). */
  readonly networks?: readonly PoolUsage[];
}

export function clusterStatus(declared: Desired, observed: Observed, store: StoreView): ClusterStatus {
  const { desired } = withOverrides(declared, store); // an operator's drain shows as the planner sees it
  const instances = [...desired.instances.values()].map((d) => {
    const p = store.placements.get(d.name);
    const primary = p ? observed.nodes.get(p.primary) : undefined;
    const container = primary?.containers.find((c) => c.instance === d.name);
    // A primary that does not answer says nothing of the instance: "node-down", not "lost".
    const state = !p ? (d.state === 'absent' ? 'absent' : 'unplaced') : primary?.health !== 'up' ? 'node-down' : container ? container.state : 'missing';
    const secondary = p?.secondary ? observed.nodes.get(p.secondary) : undefined;
    const replica = { up: secondary?.health === 'up', volumes: replicaCount(secondary?.volumes.filter((v) => v.instance === d.name) ?? []) };
    const seen = state === 'running' ? container?.replication : undefined;
    const rp = recoveryState(p, seen);
    const mirrored = p?.lastSync?.mirror !== undefined || (seen !== undefined && seen.kind !== 'increments');
    return {
      name: d.name, state, desiredState: d.state, diskTemplate: d.diskTemplate, memory: d.memory, vcpus: d.vcpus,
      ...(d.hypervisor && { hypervisor: d.hypervisor }), ...(container?.accel && { accel: container.accel }),
      degraded: d.diskTemplate === 'replicated' && !!p && (replicaHealth(d.disks.length, p, replica).kind !== 'synced' || (mirrored && rp.kind !== 'none-lost')),
      ...(p && { primary: p.primary }), ...(p?.secondary && { secondary: p.secondary }),
      ...(rp.kind === 'since' && { recoveryPoint: rp.at }),
      ...(d.diskTemplate === 'replicated' && p?.secondary && mirrored && { mirror: rp.kind === 'none-lost' ? 'in-sync' as const : 'stopped' as const }),
      ...(d.diskTemplate === 'replicated' && p?.secondary && seen && { replication: seen }),
      ...(container?.health && { health: container.health }),
      ...(p?.nics?.length && { nics: p.nics }),
    };
  });
  const load = nodeLoad(desired, instances);
  const nodes = [...desired.nodes.values()].map((n) => {
    const o = observed.nodes.get(n.name);
    const rec = store.nodes.get(n.name);
    const l = load.get(n.name) ?? { memory: 0, vcpus: 0, disk: 0, primaries: 0, secondaries: 0 };
    const cap = nodeCapacity(n, o?.capacity);
    return {
      name: n.name,
      health: rec?.fencedAt !== undefined ? 'fenced' as const : o?.health ?? 'unreachable',
      flags: [n.drained && 'drained', n.offline && 'offline'].filter((f): f is string => !!f),
      memory: { total: cap.memory, used: l.memory },
      vcpus: { total: cap.vcpus, used: l.vcpus },
      disk: { total: cap.disk, used: l.disk },
      primaries: l.primaries,
      secondaries: l.secondaries,
      ...(rec?.nodeDownSince !== undefined && { nodeDownSince: rec.nodeDownSince }),
      ...(o?.error && { error: o.error }),
      ...(o?.health !== 'up' && blockedWhy(desired.clusters.get(n.cluster))),
    };
  });
  const networks = desired.networks?.size ? { networks: poolUsage(desired.networks.values(), store.placements.values()) } : {};
  return { nodes, instances, guards: guards(desired, observed, store), ...networks };
}

function guards(desired: Desired, observed: Observed, store: StoreView): GuardStatus[] {
  return [...desired.clusters.values()].flatMap((c) => {
    const nodes = [...desired.nodes.values()].filter((n) => n.cluster === c.name);
    const g = partitionGuard(c, nodes.map((n) => ({
      up: observed.nodes.get(n.name)?.health === 'up',
      settled: n.offline || store.nodes.get(n.name)?.fencedAt !== undefined,
    })));
    return g ? [{ kind: 'partition-guard' as const, ...g, reason: describeGuard(g) }] : [];
  });
}

function blockedWhy(cluster: DesiredCluster | undefined): { failoverBlocked?: string } {
  const why = failoverBlocked(cluster);
  return why ? { failoverBlocked: describeFailoverBlock(why) } : {};
}

interface Load { memory: number; vcpus: number; disk: number; primaries: number; secondaries: number }

/** Per node: what its primaries use (memory, vcpus) and the disk its primaries and replicas hold. */
function nodeLoad(desired: Desired, instances: readonly InstanceStatus[]): Map<string, Load> {
  const load = new Map<string, Load>();
  const at = (node: string) => {
    let l = load.get(node);
    if (!l) load.set(node, (l = { memory: 0, vcpus: 0, disk: 0, primaries: 0, secondaries: 0 }));
    return l;
  };
  for (const i of instances) {
    const disk = desired.instances.get(i.name)?.disks.reduce((a, d) => a + d.size, 0) ?? 0;
    if (i.primary) {
      const l = at(i.primary);
      l.disk += disk;
      if (i.desiredState !== 'absent') { l.memory += i.hypervisor === 'kvm' ? hostMemory(i) : i.memory; l.vcpus += i.vcpus; l.primaries++; }
    }
    if (i.secondary) { const l = at(i.secondary); l.disk += disk; l.secondaries++; }
  }
  return load;
}
