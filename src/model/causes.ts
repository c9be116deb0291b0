/**
 * Causes: why the planner asks for an operation, or holds an instance back. A discriminated union on
 * `kind`, with the node or figures it concerns. Decisions (drift, the soak's checks, capacity) read
 * these; the sentence people read is rendered from them in one place (plan/reasons.ts).
 */

import type { ReplicationMode } from './desired.ts';

/** Why the allocator turned a node down, in the order it checks (alloc/allocator.ts counts them). */
export type FailMode =
  | 'offline' | 'drained' | 'memory' | 'vcpus' | 'disk' | 'spindles' | 'anti-affinity' | 'n+1' | 'no-secondary';

/** Why the allocator placed nothing: per node, the first rule it broke; or a call it cannot answer. */
export type Refusal =
  | { readonly kind: 'no-node'; readonly counts: Readonly<Record<FailMode, number>> }
  | { readonly kind: 'not-placed' | 'not-replicated'; readonly instance: string };

/** Why a node takes no new instances or replicas. */
export type Unfit =
  | { readonly kind: 'unreachable'; readonly error?: string }
  | { readonly kind: 'no-manifest' | 'offline' | 'drained' | 'fenced' | 'held' | 'busy' };

/** Why a dead node's instances cannot fail over in its cluster. */
export type FailoverBlock =
  | { readonly kind: 'no-manifest' }
  | { readonly kind: 'automatic-off' | 'no-fence'; readonly cluster: string };

type Of<K extends string, T = object> = { readonly kind: K } & Readonly<T>;
type OnNode<K extends string, T = object> = Of<K, { node: string } & T>;

/** A node's flag (or its absence from the manifests) that moves its instances off it. */
export type EvacuationCause = OnNode<'node-removed'> | OnNode<'node-offline'> | OnNode<'node-drained'>;

/** Why an instance's primary or secondary is chosen anew. */
export type PlacementCause =
  | Of<'new-instance'>
  | EvacuationCause
  | OnNode<'node-dead', { since: number }> // failover: the primary is gone for good
  | OnNode<'failed-over'> // the secondary after a failover away from `node`
  | OnNode<'pinned', { role: 'primary' | 'secondary' }>
  /** `drover balance` decided it; `note` is the decision as it stored it (its scores). */
  | Of<'balance', { note: string }>
  | Of<'template-plain'>
  | Of<'template-replicated'>
  | Of<'secondary-lost'>
  | Of<'secondary-promoted'>
  | OnNode<'secondary-unusable'>;

/** Why the container or replica on a kept node is fixed in place. */
export type RepairCause =
  | OnNode<'container-missing'>
  | OnNode<'disks-missing'>
  | OnNode<'spec-changed'>
  /** The running container's NICs are not the addresses and MACs Drover assigned (changed on the node). */
  | OnNode<'nics-changed'>
  | Of<'state-changed', { want: 'running' | 'stopped' }>
  /** Frozen on `node` with no backup holding it so (ObservedContainer.paused `left`): it is thawed. */
  | OnNode<'paused'>
  | OnNode<'replica-missing'>
  | OnNode<'replica-unsynced'>
  /** Older than the Cluster's replication.interval: an interval re-sync. */
  | OnNode<'replica-stale', { age: number; interval: number }>
  /** A VM's synchronous mirror into it was seen ended (its replica server died): a new full copy now. */
  | OnNode<'mirror-stopped', { since: number }>
  /** A running VM replicated into it otherwise than its cluster's replication.mode now says: switched at once. */
  | OnNode<'mode-changed', { want: ReplicationMode }>;

/** Why an instance is renamed in place: `metadata.renamedFrom`. */
export type RenameCause = Of<'renamed', { from: string }>;

/** Why something is removed. */
export type RemovalCause =
  | Of<'state-absent'>
  | Of<'not-in-manifest'> // --prune
  | Of<'unknown-copy'> // --prune
  | Of<'stale-copy'>
  | OnNode<'fenced-stale-copy'>
  | Of<'no-secondary-wanted'>
  | Of<'secondary-changes'>;

/** Why an instance waits, or cannot be placed or moved now. */
export type HoldCause =
  | OnNode<'node-down', { since: number; deadAt: number; error?: string }> // inside its grace
  | OnNode<'failover-blocked', { block: FailoverBlock }>
  | OnNode<'no-takeover', { secondary?: string }> // replicated, but the secondary cannot take over
  | OnNode<'plain-lost', { instance: string }>
  /**
   * The partition guard: `unreachable` of the cluster's `nodes` do not answer at once, more than
   * failover.maxUnreachableShare (`limit`); this master may be the one cut off, so nothing fails over.
   */
  | OnNode<'partition-guard', { cluster: string; unreachable: number; nodes: number; limit: number }>
  /**
   * A later wave of a rolling update: `group` (an antiAffinity value) may have `limit` members down
   * at once, and `unavailable` are down now or go down in this round's wave.
   */
  | Of<'disruption-budget', { group: string; limit: number; unavailable: readonly string[]; wave: number }>
  | OnNode<'pin-unusable', { role: 'primary' | 'secondary'; unfit: Unfit }>
  | Of<'no-placement', { instance: string; refusal: Refusal }>
  | Of<'no-secondary', { instance: string; refusal: Refusal }>
  /** A rename waits until every node holding a copy under the old name answers. */
  | OnNode<'rename-waits', { from: string }>
  /** The cluster's backend has no way to rename an instance in place. */
  | Of<'rename-unsupported', { from: string; backend: string }>
  /** The primary lost its disks while the synced replica on `secondary` has them. */
  | OnNode<'held-disks-missing-on-primary', { instance: string; secondary: string; syncedAt: number }>
  /** A static address or MAC (`address`) newly written for `instance` is held by `holder`'s NIC (net/assign.ts). */
  | Of<'address-taken', { network: string; address: string; holder: string; instance: string }>
  /** The pool of `network` (`size` addresses) has no free address left for `instances`. */
  | Of<'pool-exhausted', { network: string; instances: readonly string[]; size: number }>
  /** `node` shows no `link`, which `instance`'s NIC on `network` attaches to there. */
  | OnNode<'link-missing', { network: string; link: string; instance: string }>
  /** `instance` has `count` NICs; the engine of `node` allows `max` per instance (NodeProbe.maxNics). */
  | OnNode<'too-many-nics', { instance: string; count: number; max: number }>;

/** What verify finds wrong with NICs, as the nodes show them against what Drover assigned (plan/verify-nics.ts). */
export type NicCause =
  /** One address on one network seen on the NICs of several instances. */
  | Of<'duplicate-address', { network?: string; ip: string; instances: readonly string[] }>
  | Of<'duplicate-mac', { mac: string; instances: readonly string[] }>
  /** NIC `nic` of `instance` on `node` is not what the store assigned it (`observed` absent: the NIC is missing). */
  | OnNode<'nic-mismatch', { instance: string; nic: number; assigned: { ip: string; mac: string }; observed?: { ip: string; mac: string } }>
  /** A network's pool is (nearly) used up: `used` of `size` addresses held. */
  | Of<'pool-low', { network: string; used: number; size: number }>;

/** An operation saved in flight by a master older than causes: only its sentence is known. */
export type LegacyCause = Of<'legacy-reason', { reason: string }>;

export type Cause = PlacementCause | RepairCause | RenameCause | RemovalCause | HoldCause | NicCause | LegacyCause;
export type CauseKind = Cause['kind'];
