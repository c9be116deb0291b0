/**
 * A Network document as numbers (net/ipv4.ts), and what it means on one node: which addresses are never
 * handed out, which link a node attaches with, and the NicBinding a driver gets.
 */
import type { DesiredNetwork, DesiredNode } from '../model/desired.ts';
import type { NicAssignment, NicBinding } from '../model/nics.ts';
import { bounds, hosts, parseCidr, parseIp, parseRange, type Cidr } from './ipv4.ts';

export interface NetView {
  readonly cidr: Cidr;
  readonly gateway?: number;
  readonly pool: { readonly first: number; readonly last: number };
  readonly reserved: readonly { readonly first: number; readonly last: number }[];
}

/** The network's numbers; the manifest checked them (manifest/networks.ts), so they parse. */
export function viewOf(n: DesiredNetwork): NetView {
  const cidr = parseCidr(n.subnet)!;
  const gateway = n.gateway === undefined ? undefined : parseIp(n.gateway);
  return {
    cidr,
    ...(gateway !== undefined && { gateway }),
    pool: { first: parseIp(n.pool.first)!, last: parseIp(n.pool.last)! },
    reserved: n.reserved.flatMap((r) => parseRange(r) ?? []),
  };
}

/** Never anyone's: the network and broadcast address, the gateway, the reserved set. */
export function unusable(v: NetView, ip: number): 'network' | 'broadcast' | 'gateway' | 'reserved' | undefined {
  const h = hosts(v.cidr);
  const b = bounds(v.cidr);
  if (ip === b.first && ip < h.first) return 'network';
  if (ip === b.last && ip > h.last) return 'broadcast';
  if (ip === v.gateway) return 'gateway';
  return v.reserved.some((r) => ip >= r.first && ip <= r.last) ? 'reserved' : undefined;
}

/** How many addresses the pool can hand out (reserved ones and the gateway left out). */
export function poolSize(v: NetView): number {
  let n = 0;
  for (let ip = v.pool.first; ip <= v.pool.last; ip++) if (!unusable(v, ip)) n++;
  return n;
}

/** The link a node attaches with: its own override, its group's, or the network's. */
export function linkOn(n: DesiredNetwork, node: Pick<DesiredNode, 'name' | 'group'> | undefined): string {
  return (node && (n.nodeLinks[node.name] ?? n.groupLinks[node.group])) ?? n.link;
}

/** `prefixLength`: the subnet's, when the caller has it at hand (a plan binds every NIC: parsed once per network). */
export function bindingOf(n: DesiredNetwork, a: NicAssignment, node: Pick<DesiredNode, 'name' | 'group'> | undefined, prefixLength = parseCidr(n.subnet)!.prefixLength): NicBinding {
  return {
    network: n.name, ip: a.ip, mac: a.mac, prefixLength, subnet: n.subnet,
    ...(n.gateway !== undefined && { gateway: n.gateway }), link: linkOn(n, node), mode: n.mode,
  };
}
