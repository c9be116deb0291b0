/**
 * verify's NIC checks: one address or MAC on the NICs of several instances, an instance whose NICs on its
 * primary are not the ones Drover assigned (ENICMISMATCH), and pools nearly used up. Read from what the
 * nodes show (ObservedContainer.nics; a driver that cannot tell shows none, and is not judged).
 */
import type { NicCause } from '../model/causes.ts';
import type { ObservedNic } from '../model/nics.ts';
import { poolUsage, type PoolUsage } from '../net/usage.ts';
import { copiesByInstance } from './facts.ts';
import { describeCause } from './reasons.ts';
import type { PlanInput } from './types.ts';

export type NicCode = 'EDUPADDRESS' | 'EDUPMAC' | 'ENICMISMATCH' | 'ENETPOOL';

export interface NicFinding {
  readonly code: NicCode;
  readonly severity: 'error' | 'warning';
  readonly node?: string;
  readonly instance?: string;
  readonly message: string;
  readonly cause: NicCause;
}

/** A pool this full is reported (a warning; an error once nothing is left). */
const LOW_SHARE = 0.9;

export function nicFindings(input: PlanInput): NicFinding[] {
  const seen = seenNics(input);
  const out: NicFinding[] = [...duplicates(seen), ...mismatches(input)];
  for (const u of pools(input)) {
    if (u.size === 0 || u.used < u.size * LOW_SHARE) continue;
    out.push(finding('ENETPOOL', u.used >= u.size ? 'error' : 'warning', { kind: 'pool-low', network: u.network, used: u.used, size: u.size }));
  }
  return out;
}

export const pools = (input: PlanInput): PoolUsage[] => poolUsage(input.desired.networks?.values() ?? [], input.store.placements.values());

/** Every NIC the reachable nodes show on running containers, with its instance. */
function seenNics(input: PlanInput): { instance: string; nic: ObservedNic }[] {
  return [...input.observed.nodes.values()].flatMap((n) => n.containers
    .filter((c) => c.state === 'running')
    .flatMap((c) => (c.nics ?? []).map((nic) => ({ instance: c.instance, nic }))));
}

function duplicates(seen: readonly { instance: string; nic: ObservedNic }[]): NicFinding[] {
  const byIp = new Map<string, { network?: string; ip: string; instances: Set<string> }>();
  const byMac = new Map<string, Set<string>>();
  for (const { instance, nic } of seen) {
    const key = `${nic.network ?? ''} ${nic.ip}`;
    const e = byIp.get(key) ?? { ...(nic.network && { network: nic.network }), ip: nic.ip, instances: new Set<string>() };
    byIp.set(key, e);
    e.instances.add(instance);
    byMac.set(nic.mac, (byMac.get(nic.mac) ?? new Set()).add(instance));
  }
  const out: NicFinding[] = [];
  for (const e of byIp.values()) {
    if (e.instances.size > 1) out.push(finding('EDUPADDRESS', 'error', { kind: 'duplicate-address', ...(e.network && { network: e.network }), ip: e.ip, instances: [...e.instances].sort() }));
  }
  for (const [mac, names] of byMac) if (names.size > 1) out.push(finding('EDUPMAC', 'error', { kind: 'duplicate-mac', mac, instances: [...names].sort() }));
  return out;
}

/** The container on the primary against the store's assignment, NIC by NIC. */
function mismatches(input: PlanInput): NicFinding[] {
  const copies = copiesByInstance(input);
  const out: NicFinding[] = [];
  for (const p of input.store.placements.values()) {
    if (!p.nics?.length) continue;
    const ctr = copies.get(p.instance)?.find((c) => c.node === p.primary)?.container;
    if (!ctr?.nics || ctr.state !== 'running') continue; // no container (another finding), a driver that cannot tell, or not running
    p.nics.forEach((a, nic) => {
      const o = ctr.nics![nic];
      if (o && o.ip === a.ip && o.mac === a.mac) return;
      out.push(finding('ENICMISMATCH', 'error', {
        kind: 'nic-mismatch', node: p.primary, instance: p.instance, nic, assigned: { ip: a.ip, mac: a.mac }, ...(o && { observed: { ip: o.ip, mac: o.mac } }),
      }));
    });
  }
  return out;
}

function finding(code: NicCode, severity: NicFinding['severity'], cause: NicCause): NicFinding {
  const where = cause.kind === 'nic-mismatch' ? { node: cause.node, instance: cause.instance } : {};
  return { code, severity, ...where, message: describeCause(cause), cause };
}
