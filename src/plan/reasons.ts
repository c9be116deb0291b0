/**
 * The one place a cause becomes the sentence people read: plan text and markdown, `--json`'s
 * `reason`, pending lines, `status`, watch and the journal all print what these return.
 */
import { refusalText } from '../alloc/allocator.ts';
import type { Cause, FailoverBlock, HoldCause, Unfit } from '../model/causes.ts';
import { formatDuration } from '../model/quantity.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

/** `web1`, `web1 and web2`, `web1, web2 and web3`. */
const listed = (names: readonly string[]): string => (names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`);

export function describeCause(c: Cause): string {
  switch (c.kind) {
    case 'new-instance': return 'new instance';
    case 'node-removed': return `node ${c.node} is no longer in the manifests`;
    case 'node-offline': return `node ${c.node} is offline`;
    case 'node-drained': return `node ${c.node} is drained`;
    case 'node-dead': return `primary ${c.node} down since ${iso(c.since)}`;
    case 'failed-over': return `${c.node} failed`;
    case 'pinned': return `pinned to ${c.role} ${c.node}`;
    case 'balance': return c.note;
    case 'template-plain': return 'disk template is now plain';
    case 'template-replicated': return 'disk template is now replicated';
    case 'secondary-lost': return 'secondary lost';
    case 'secondary-promoted': return 'secondary became primary';
    case 'secondary-unusable': return `secondary ${c.node} cannot hold replicas (down, drained, offline or fenced)`;
    case 'container-missing': return `container missing on ${c.node}`;
    case 'disks-missing': return `disks missing on ${c.node}`;
    case 'spec-changed': return 'spec changed';
    case 'nics-changed': return `NICs on ${c.node} differ from the assigned addresses and MACs`;
    case 'state-changed': return c.want === 'running' ? 'should be running' : 'state: stopped';
    case 'paused': return `paused on ${c.node} with no backup holding it: thaw it`;
    case 'replica-missing': return `replica missing on ${c.node}`;
    case 'replica-unsynced': return `replica on ${c.node} never synced`;
    case 'mode-changed': return c.want === 'async'
      ? `replication.mode is async: the synchronous mirror into ${c.node} gives way to increments`
      : `replication.mode is sync: increments into ${c.node} give way to a synchronous mirror (one new full copy)`;
    case 'mirror-stopped': return `the mirror into ${c.node} stopped (last in sync ${new Date(c.since).toISOString()})`;
    case 'replica-stale': return `replica on ${c.node} is ${formatDuration(c.age)} old (replication.interval ${formatDuration(c.interval)})`;
    case 'renamed': return `renamed from ${c.from} (metadata.renamedFrom)`;
    case 'state-absent': return 'state: absent';
    case 'not-in-manifest': return 'in no manifest (--prune)';
    case 'unknown-copy': return 'no manifest wants it (--prune)';
    case 'stale-copy': return 'stale copy';
    case 'fenced-stale-copy': return `stale copy (left on ${c.node} when it was fenced)`;
    case 'no-secondary-wanted': return 'no secondary wanted';
    case 'secondary-changes': return 'secondary changes';
    case 'legacy-reason': return c.reason;
    case 'duplicate-address': return `address ${c.ip}${c.network ? ` on network "${c.network}"` : ''} is used by ${listed(c.instances)}`;
    case 'duplicate-mac': return `MAC ${c.mac} is used by ${listed(c.instances)}`;
    case 'nic-mismatch': return `${c.instance}: nic${c.nic} on ${c.node} ${c.observed ? `has ${c.observed.ip} ${c.observed.mac}` : 'is missing'}, but Drover assigned ${c.assigned.ip} ${c.assigned.mac}`;
    case 'pool-low': return `network "${c.network}": ${c.used} of the pool's ${c.size} addresses are held${c.used >= c.size ? '; the next instance without a static address gets none' : ''}`;
    default: return describeHold(c);
  }
}

/** Why an instance waits or cannot be placed now. */
function describeHold(c: HoldCause): string {
  switch (c.kind) {
    case 'node-down':
      return `primary ${c.node} unreachable since ${iso(c.since)} (${c.error ?? 'no answer'}); failover at ${iso(c.deadAt)} if it stays down`;
    case 'failover-blocked': return `${c.node} is down: ${describeFailoverBlock(c.block)}`;
    case 'no-takeover': return `${c.node} is down and the secondary ${c.secondary ?? '(none)'} cannot take over; lost until ${c.node} returns`;
    case 'plain-lost': return `${c.node} is down and ${c.instance} is plain (no replica); lost until ${c.node} returns`;
    case 'partition-guard': return `${c.node} is down, but automatic failover is stopped: ${describeGuard(c)}`;
    case 'disruption-budget': return `wave ${c.wave} of group "${c.group}": waits until ${listed(c.unavailable)} ${c.unavailable.length === 1 ? 'runs' : 'run'} again (reconcile.maxUnavailable: ${c.limit} member${c.limit === 1 ? '' : 's'} of a group down at a time)`;
    case 'pin-unusable':
      return `pinned ${c.role} ${c.node} cannot take ${c.role === 'primary' ? 'instances' : 'replicas'} now: ${describeUnfit(c.unfit)}`;
    case 'no-placement': return `cannot place ${c.instance}: ${refusalText(c.refusal)}`;
    case 'no-secondary': return `no new secondary for ${c.instance}: ${refusalText(c.refusal)}`;
    case 'rename-waits': return `rename from ${c.from} waits for ${c.node}, which holds a copy under the old name and does not answer`;
    case 'rename-unsupported': return `cannot rename ${c.from} in place: the ${c.backend} backend cannot rename instances yet`;
    case 'held-disks-missing-on-primary':
      return `disks of ${c.instance} are missing on its primary ${c.node} but its replica on ${c.secondary} holds them (synced ${iso(c.syncedAt)}); `
        + `not recreating them empty. To recover from the replica, mark ${c.node} offline (the instance fails over to ${c.secondary}).`;
    case 'address-taken':
      return `${c.instance}: ${c.address} on network "${c.network}" is held by instance ${c.holder} (assigned before); change one of them, or remove ${c.holder} first`;
    case 'pool-exhausted':
      return `network "${c.network}": the pool (${c.size} addresses) has no free address left; ${listed(c.instances)} ${c.instances.length === 1 ? 'gets' : 'get'} none (widen spec.pool, or give static addresses)`;
    case 'link-missing':
      return `${c.instance}: node ${c.node} has no link "${c.link}" for network "${c.network}" (create it there, or set spec.nodeLinks/groupLinks)`;
    case 'too-many-nics':
      return `${c.instance}: ${c.count} NICs, but the engine of node ${c.node} sets up ${c.max} per instance (upgrade it, pin the instance to another node, or give it ${c.max})`;
  }
}

/** The partition guard, as `status` and `watch` say it. */
export function describeGuard(g: { readonly cluster: string; readonly unreachable: number; readonly nodes: number; readonly limit: number }): string {
  return `${g.unreachable} of ${g.nodes} nodes of cluster "${g.cluster}" are unreachable at once, more than failover.maxUnreachableShare (${g.limit}); `
    + 'this master may be the one cut off (partition-guard). Bring the nodes back, or mark the dead ones offline to fail them over';
}

export function describeUnfit(u: Unfit): string {
  switch (u.kind) {
    case 'no-manifest': return 'it is in no manifest';
    case 'unreachable': return `it is unreachable (${u.error ?? 'no answer'})`;
    case 'offline': return 'it is offline';
    case 'drained': return 'it is drained';
    case 'fenced': return 'it was fenced and its stale copies are not cleaned yet';
    case 'held': return 'it failed too often lately and is held back';
    case 'busy': return 'it cannot take work now';
  }
}

export function describeFailoverBlock(b: FailoverBlock): string {
  switch (b.kind) {
    case 'no-manifest': return 'the node is in no manifest';
    case 'automatic-off': return `automatic failover is off in Cluster "${b.cluster}" (failover.automatic: false)`;
    case 'no-fence': return `Cluster "${b.cluster}" has no failover.fenceCommand, so the node cannot be fenced and nothing fails over`;
  }
}
