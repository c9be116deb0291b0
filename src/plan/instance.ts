/**
 * The operations that take one instance from what is to its target, in the order they must run.
 */
import type { HoldCause, RepairCause } from '../model/causes.ts';
import type { DesiredInstance, HealthCheck, ReplicationMode } from '../model/desired.ts';
import type { NicAssignment, NicBinding } from '../model/nics.ts';
import type { InstanceSpec, Operation } from '../model/operations.ts';
import type { BackendCapabilities } from '../drivers/backends.ts';
import { isCurrentHash } from '../model/hash.ts';
import type { ObservedContainer, ObservedReplication, ObservedVolume } from '../model/observed.ts';
import { formatBytes } from '../model/quantity.ts';
import { specDiff, resizeBy } from './changes.ts';
import { mirroredSync, replicaCount, replicaHealth, type Copy, type NodeFacts, type ReplicaHealth } from './facts.ts';
import type { Target } from './targets.ts';
import type { PlanError } from './types.ts';
import { toSpec } from './spec.ts';
import { ADOPTED_GENERATION } from '../store/types.ts';

export interface InstancePlan {
  readonly ops: readonly Operation[];
  /** Set when the safe next step needs a human (never guessed when data could be lost). */
  readonly held?: HoldCause;
  /** Set when the manifest asks for what the planner never does (shrink a disk): nothing is planned for it. */
  readonly refused?: PlanError;
}

/** Time-dependent inputs (the planner never reads the clock), and the cluster's replication settings. */
export interface Timing {
  readonly now: number;
  /** A replica older than this is synced again (the Cluster's replication.interval). */
  readonly replicationIntervalMs: number;
  /** How running VMs are replicated (the Cluster's replication.mode; absent: sync). */
  readonly replicationMode?: ReplicationMode;
}

/** `nics`: the instance's NICs as they attach on its target primary (every operation makes or keeps its container there). */
export function instanceOperations(t: Target, copies: readonly Copy[], facts: ReadonlyMap<string, NodeFacts>, timing: Timing, caps: BackendCapabilities, nics: readonly NicBinding[] = []): InstancePlan {
  const held = lostPrimaryDisks(t, copies);
  if (held) return { ops: [], held };
  const refused = shrunkDisk(t, copies);
  if (refused) return { ops: [], refused };
  return { ops: operationsFor(t, copies, facts, timing, caps, nics) };
}

/** A disk smaller in the manifest than on the primary: shrinking would cut off data, so it is refused at the field. */
function shrunkDisk(t: Target, copies: readonly Copy[]): PlanError | undefined {
  const d = t.instance;
  const volumes = copies.find((c) => c.node === t.placement?.primary)?.volumes ?? [];
  for (const [disk, want] of d.disks.entries()) {
    const have = volumes.find((v) => v.disk === disk)?.size ?? 0;
    if (have <= want.size) continue;
    const path = `disks[${disk}].size`;
    return {
      instance: d.name, source: d.fieldSources?.[path] ?? d.source,
      message: `Instance "${d.name}": spec.${path}: cannot shrink a disk (${formatBytes(have)} → ${formatBytes(want.size)}): its data would not fit; keep ${formatBytes(have)} or more, or make a new disk`,
    };
  }
  return undefined;
}

/**
 * Disks gone from the primary while the synced replica still has them: recreating them empty
 * would be silent data loss, and syncing would spread it. Hold, and say how to recover.
 */
function lostPrimaryDisks(t: Target, copies: readonly Copy[]): HoldCause | undefined {
  const p = t.placement;
  if (!p?.secondary || t.primaryChange.kind !== 'keep' || p.lastSync?.node !== p.secondary) return undefined;
  const count = (node: string) => copies.find((c) => c.node === node)?.volumes.length ?? 0;
  const onPrimary = count(p.primary);
  if (onPrimary >= count(p.secondary) || onPrimary >= t.instance.disks.length) return undefined;
  return { kind: 'held-disks-missing-on-primary', instance: t.instance.name, node: p.primary, secondary: p.secondary, syncedAt: p.lastSync.at };
}

function operationsFor(t: Target, copies: readonly Copy[], facts: ReadonlyMap<string, NodeFacts>, timing: Timing, caps: BackendCapabilities, nics: readonly NicBinding[]): Operation[] {
  const up = (n: string | undefined) => n !== undefined && facts.get(n)?.up === true;
  const d = t.instance;
  const p = t.placement;
  const spec = toSpec(d, nics);
  const start = d.state === 'running';
  const generation = (p?.generation ?? 0) + 1;
  if (!p) {
    return [{ type: 'CreateInstance', instance: d.name, primary: t.primary!, ...(t.secondary && { secondary: t.secondary }), spec, generation, start, cause: { kind: 'new-instance' } }];
  }
  // Adopted (import) and nothing of it on its nodes, which answer: made where it goes now, nothing to copy.
  if (p.generation === ADOPTED_GENERATION && t.primaryChange.kind !== 'failover' && copies.length === 0 && up(p.primary) && (!p.secondary || up(p.secondary))) {
    const why = t.primaryChange.kind === 'keep' ? t.secondaryWhy ?? { kind: 'new-instance' as const } : t.primaryChange.why;
    return [{ type: 'CreateInstance', instance: d.name, primary: t.primary!, ...(t.secondary && { secondary: t.secondary }), spec, generation, start, cause: why }];
  }
  const ops: Operation[] = [];
  let primary = p.primary;
  let secondary = p.secondary;
  const change = t.primaryChange;
  if (change.kind === 'failover') {
    ops.push({ type: 'FailoverInstance', instance: d.name, from: primary, to: t.primary!, spec, generation, start, cause: change.why, ...(p.lastSync && { recoveryPoint: p.lastSync.at }), ...(p.lastSync?.mirror === 'in-sync' && p.lastSync.node === t.primary && { inSync: true as const }) });
    secondary = undefined;
  } else if (change.kind === 'migrate') {
    ops.push({ type: 'MigrateInstance', instance: d.name, from: primary, to: t.primary!, spec, generation, start, cause: change.why, ...healthOf(d) });
    secondary = primary;
  } else if (change.kind === 'move' && secondary && t.secondary === primary) {
    // hbal's "r:x f": copy the replica to the new node, then migrate onto it; the old primary
    // keeps its disks as the new replica. One copy, where a move and a new secondary take two.
    ops.push({ type: 'ReplaceSecondary', instance: d.name, primary, from: secondary, to: t.primary!, disks: d.disks, generation: p.generation, cause: change.why });
    ops.push({ type: 'MigrateInstance', instance: d.name, from: primary, to: t.primary!, spec, generation, start, cause: change.why, ...healthOf(d) });
    secondary = primary;
  } else if (change.kind === 'move') {
    const keep = secondary && secondary !== t.primary && secondary === t.secondary ? secondary : undefined;
    ops.push({ type: 'MoveInstance', instance: d.name, from: primary, to: t.primary!, ...(keep && { secondary: keep }), spec, generation, start, cause: change.why, ...healthOf(d) });
    secondary = keep;
  }
  primary = t.primary!;
  if (t.secondary !== secondary) {
    if (t.secondary) {
      const from = secondary && secondary !== primary ? secondary : undefined;
      ops.push({ type: 'ReplaceSecondary', instance: d.name, primary, ...(from && { from }), to: t.secondary, disks: d.disks, generation: change.kind === 'keep' ? p.generation : generation, cause: t.secondaryWhy ?? { kind: 'secondary-changes' } });
    } else if (secondary && facts.get(secondary)?.up) {
      ops.push({ type: 'RemoveOrphan', instance: d.name, node: secondary, containers: false, volumes: true, cause: t.secondaryWhy ?? { kind: 'no-secondary-wanted' } });
    }
  }
  if (change.kind !== 'keep') return ops;
  return [...ops, ...inPlace(t, copies, up, timing, caps, spec)];
}

/** No move this round: fix the container on the primary and the replica on the secondary. */
function inPlace(t: Target, copies: readonly Copy[], up: (node: string | undefined) => boolean, timing: Timing, caps: BackendCapabilities, spec: InstanceSpec): Operation[] {
  const d = t.instance;
  const p = t.placement!;
  const primary = t.primary!;
  const on = copies.find((c) => c.node === primary);
  const start = d.state === 'running';
  const ops: Operation[] = [];
  const container = on?.container;
  const disksMissing = (on?.volumes.length ?? 0) < d.disks.length;
  const s = t.secondary;
  const replica = s && s === p.secondary && up(s) ? copies.find((c) => c.node === s)?.volumes ?? [] : undefined;
  if (!container || disksMissing) {
    const kind = !container ? 'container-missing' : 'disks-missing';
    ops.push({ type: 'RecreateInstance', instance: d.name, primary, spec, generation: p.generation + 1, start, cause: { kind, node: primary }, changes: [], disruption: 'recreate', ...healthOf(d) });
  } else if (nicsChanged(p.nics, container)) {
    ops.push({ type: 'RecreateInstance', instance: d.name, primary, spec, generation: p.generation + 1, start, cause: { kind: 'nics-changed', node: primary }, changes: [], disruption: 'recreate', ...healthOf(d) });
  } else {
    ops.push(...specOperations(t, container, on.volumes, replica, caps, spec));
    const restarted = ops.some((o) => o.type === 'RecreateInstance' || o.type === 'RestartInstance');
    if (!restarted && start && container.state !== 'running') {
      ops.push({ type: 'StartInstance', instance: d.name, primary, cause: { kind: 'state-changed', want: 'running' }, ...healthOf(d) });
    } else if (!restarted && start && container.paused === 'left') {
      ops.push({ type: 'StartInstance', instance: d.name, primary, cause: { kind: 'paused', node: primary }, ...healthOf(d) });
    } else if (!restarted && !start && container.state === 'running') {
      ops.push({ type: 'StopInstance', instance: d.name, primary, cause: { kind: 'state-changed', want: 'stopped' } });
    }
  }
  if (replica) { // a secondary inside its grace stays degraded, untouched
    // what the primary's QEMU says now (a read-only plan records nothing, and must agree with apply's)
    const last = { ...p, lastSync: mirroredSync(p, container?.state === 'running' ? container.replication : undefined, timing.now) };
    const seen = container?.state === 'running' ? container.replication?.kind : undefined;
    const why = syncCause(replicaHealth(d.disks.length, last, { up: true, volumes: replicaCount(replica) }), timing, last.lastSync?.mirror, seen);
    if (why) ops.push({ type: 'SyncDisks', instance: d.name, primary, secondary: s!, cause: why });
  }
  return ops;
}

/** The spec's changes on a kept container: grown disks first (nothing stops), then the least disruptive change of the rest. */
function specOperations(t: Target, container: ObservedContainer, volumes: readonly ObservedVolume[], replica: readonly ObservedVolume[] | undefined, caps: BackendCapabilities, spec: InstanceSpec): Operation[] {
  const d = t.instance;
  const p = t.placement!;
  const primary = t.primary!;
  const start = d.state === 'running';
  const diff = specDiff(spec, container, volumes, replica, p.applied?.spec);
  const cause = { kind: 'spec-changed', node: primary } as const;
  const ops: Operation[] = [];
  if (diff.grown.length) {
    const changes = diff.grown.map((g) => ({ path: `disks[${g.disk}].size`, from: formatBytes(g.from), to: formatBytes(g.to) }));
    ops.push({ type: 'GrowDisk', instance: d.name, primary, ...(replica && { secondary: t.secondary! }), disks: d.disks, cause, changes, disruption: 'none' });
  }
  // a first-formula hash still holds the sizes the disks had: a grown disk recreates it once (see resizeBy)
  const legacyGrow = diff.grown.length > 0 && !isCurrentHash(container.specHash);
  if (!diff.recreate && !diff.resized.length && !legacyGrow) return ops;
  const how = diff.recreate || legacyGrow ? 'RecreateInstance' : resizeBy(caps, diff.resized, container.specHash);
  const changes = diff.changes.filter((c) => !/^disks\[\d+\]\.size$/.test(c.path)); // GrowDisk's
  switch (how) {
    case 'ModifyInstance': return [...ops, { type: how, instance: d.name, primary, spec, cause, changes, disruption: 'none' }];
    case 'RestartInstance': return [...ops, { type: how, instance: d.name, primary, spec, start, cause, changes, disruption: 'restart', ...healthOf(d) }];
    case 'RecreateInstance': return [...ops, {
      type: how, instance: d.name, primary, spec, generation: p.generation + 1, start, cause, changes, disruption: 'recreate', ...healthOf(d),
      ...(diff.fieldsUnknown && { fieldsUnknown: true as const }),
    }];
  }
}

/**
 * A running container whose driver shows NICs other than the ones Drover assigned and made it with (the
 * store's): an address or MAC changed on the node. A change in the manifests is the spec hash's to see.
 */
function nicsChanged(assigned: readonly NicAssignment[] | undefined, container: ObservedContainer): boolean {
  const want = assigned ?? [];
  const seen = container.nics;
  if (!want.length || !seen || container.state !== 'running') return false;
  return seen.length !== want.length || want.some((n, i) => seen[i]!.ip !== n.ip || seen[i]!.mac !== n.mac);
}

/** The check an operation that brings the instance back waits for (apply/steps.ts). */
const healthOf = (d: DesiredInstance): { health?: HealthCheck } => (d.health ? { health: d.health } : {});

/**
 * Why the replica is synced now: it is degraded (a VM's mirror seen ended, its secondary up: at once), a
 * running VM is replicated the other way than its cluster's replication.mode now says (at once: a mirror in
 * sync renews the last sync at every look, so no interval would ever come due; and a VM meant to lose nothing
 * must not wait one), or it is older than replication.interval.
 */
function syncCause(r: ReplicaHealth, timing: Timing, mirror?: 'in-sync' | 'stopped', seen?: ObservedReplication['kind']): RepairCause | undefined {
  switch (r.kind) {
    case 'missing': return { kind: 'replica-missing', node: r.node };
    case 'never-synced': return { kind: 'replica-unsynced', node: r.node };
    case 'synced': {
      if (mirror === 'stopped') return { kind: 'mirror-stopped', node: r.node, since: r.at };
      const mode = timing.replicationMode ?? 'sync';
      if ((seen === 'in-sync' && mode === 'async') || (seen === 'increments' && mode === 'sync')) return { kind: 'mode-changed', node: r.node, want: mode };
      const age = timing.now - r.at;
      return age >= timing.replicationIntervalMs ? { kind: 'replica-stale', node: r.node, age, interval: timing.replicationIntervalMs } : undefined;
    }
    default: return undefined; // no secondary, or unreachable: nothing to sync to
  }
}
