/**
 * The cluster as `drover status` shows it: per node and per instance, from Desired + Observed +
 * the store. Pure, like the planner.
 */
import type { Desired } from '../model/desired.ts';
import type { Observed } from '../model/observed.ts';
import type { StoreView } from '../store/types.ts';

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
}

export interface InstanceStatus {
  readonly name: string;
  /** running, stopped, missing (no container), lost (primary down), unplaced, absent */
  readonly state: string;
  readonly desiredState: string;
  readonly primary?: string;
  readonly secondary?: string;
  readonly diskTemplate: string;
  readonly memory: number;
  readonly vcpus: number;
  readonly degraded: boolean;
  /** ms since epoch of the replica's last good sync: a failover would lose writes after it. */
  readonly recoveryPoint?: number;
}

export interface ClusterStatus {
  readonly nodes: readonly NodeStatus[];
  readonly instances: readonly InstanceStatus[];
}

export function clusterStatus(desired: Desired, observed: Observed, store: StoreView): ClusterStatus {
  const instances = [...desired.instances.values()].map((d) => {
    const p = store.placements.get(d.name);
    const primary = p ? observed.nodes.get(p.primary) : undefined;
    const container = primary?.containers.find((c) => c.instance === d.name);
    const state = !p ? (d.state === 'absent' ? 'absent' : 'unplaced') : primary?.health !== 'up' ? 'lost' : container ? container.state : 'missing';
    const secondary = p?.secondary ? observed.nodes.get(p.secondary) : undefined;
    const replicaOk = !!secondary && secondary.health === 'up'
      && secondary.volumes.filter((v) => v.instance === d.name).length >= d.disks.length && p?.lastSync?.node === p?.secondary;
    return {
      name: d.name, state, desiredState: d.state, diskTemplate: d.diskTemplate, memory: d.memory, vcpus: d.vcpus,
      degraded: d.diskTemplate === 'replicated' && !!p && !replicaOk,
      ...(p && { primary: p.primary }), ...(p?.secondary && { secondary: p.secondary }),
      ...(p?.lastSync && p.lastSync.node === p.secondary && { recoveryPoint: p.lastSync.at }),
    };
  });
  const nodes = [...desired.nodes.values()].map((n) => {
    const o = observed.nodes.get(n.name);
    const rec = store.nodes.get(n.name);
    const mine = instances.filter((i) => i.primary === n.name && i.desiredState !== 'absent');
    const byName = new Map([...desired.instances.values()].map((d) => [d.name, d]));
    const hosted = instances.filter((i) => i.primary === n.name || i.secondary === n.name);
    const disk = hosted.reduce((s, i) => s + (byName.get(i.name)?.disks.reduce((a, d) => a + d.size, 0) ?? 0), 0);
    const cap = { memory: n.capacity?.memory ?? o?.capacity?.memory ?? 0, vcpus: n.capacity?.vcpus ?? o?.capacity?.vcpus ?? 0, disk: n.capacity?.disk ?? o?.capacity?.disk ?? 0 };
    return {
      name: n.name,
      health: rec?.fencedAt !== undefined ? 'fenced' as const : o?.health ?? 'unreachable',
      flags: [n.drained && 'drained', n.offline && 'offline'].filter((f): f is string => !!f),
      memory: { total: cap.memory, used: mine.reduce((s, i) => s + i.memory, 0) },
      vcpus: { total: cap.vcpus, used: mine.reduce((s, i) => s + i.vcpus, 0) },
      disk: { total: cap.disk, used: disk },
      primaries: mine.length,
      secondaries: instances.filter((i) => i.secondary === n.name).length,
      ...(rec?.nodeDownSince !== undefined && { nodeDownSince: rec.nodeDownSince }),
      ...(o?.error && { error: o.error }),
    };
  });
  return { nodes, instances };
}
