/** How full each network's pool is, from the assignments the store holds: for status, verify and capacity. */
import type { DesiredNetwork } from '../model/desired.ts';
import type { NicAssignment } from '../model/nics.ts';
import { parseIp } from './ipv4.ts';
import { poolSize, unusable, viewOf } from './network.ts';

export interface PoolUsage {
  readonly network: string;
  readonly cluster: string;
  readonly subnet: string;
  /** Addresses the pool can hand out (gateway and reserved ones left out). */
  readonly size: number;
  /** Of those, held by an instance's NIC. */
  readonly used: number;
  /** NICs on the network with an address outside the pool (static ones). */
  readonly static: number;
}

export function poolUsage(networks: Iterable<DesiredNetwork>, held: Iterable<{ readonly nics?: readonly NicAssignment[] }>): PoolUsage[] {
  const all = [...held].flatMap((p) => p.nics ?? []);
  return [...networks].map((n) => {
    const v = viewOf(n);
    const ips = new Set(all.filter((a) => a.network === n.name).map((a) => parseIp(a.ip)).filter((ip): ip is number => ip !== undefined));
    const inPool = [...ips].filter((ip) => ip >= v.pool.first && ip <= v.pool.last && !unusable(v, ip)).length;
    return { network: n.name, cluster: n.cluster, subnet: n.subnet, size: poolSize(v), used: inPool, static: ips.size - inPool };
  });
}

/** Each network's free pool addresses, and whether they run out before `count` more instances (each with one pooled NIC) fit. */
export function poolLimits(usages: readonly PoolUsage[], count: number): { readonly network: string; readonly free: number; readonly runsOutFirst: boolean }[] {
  return usages.map((u) => ({ network: u.network, free: u.size - u.used, runsOutFirst: u.size - u.used < count }));
}
