/**
 * Address and MAC assignment: Drover's decisions, made here as a pure function of the manifests and the
 * store. What the store holds is kept (an address follows its instance while it exists); a static address
 * or MAC is taken as written; a pooled NIC gets the first free address of its network's pool; a MAC not
 * written is generated once from the cluster's prefix (net/mac.ts). Nothing held by a placement is handed
 * to anyone else until the placement is removed, whether the instance is still wanted or not.
 */
import type { HoldCause } from '../model/causes.ts';
import type { DesiredCluster, DesiredInstance, DesiredNetwork, DesiredNic } from '../model/desired.ts';
import type { NicAssignment } from '../model/nics.ts';
import { formatIp } from './ipv4.ts';
import { defaultMacPrefix, generateMac } from './mac.ts';
import { poolSize, unusable, viewOf, type NetView } from './network.ts';

/** What assignNics reads of a placement. */
export interface Held {
  readonly instance: string;
  readonly nics?: readonly NicAssignment[];
}

export type NicRefusal = Extract<HoldCause, { kind: 'address-taken' | 'pool-exhausted' }>;

export interface NicDecisions {
  /** Instance → the assignment of each of its NICs, in the manifest's order. */
  readonly assigned: ReadonlyMap<string, readonly NicAssignment[]>;
  /** Instances that get none now, and why (one pool-exhausted cause per network names them all). */
  readonly refused: ReadonlyMap<string, NicRefusal>;
}

/**
 * `instances`: the cluster's wanted instances (not absent). `held`: every placement in the store: those
 * of instances not wanted keep their addresses until they are removed.
 */
export function assignNics(cluster: DesiredCluster, networks: ReadonlyMap<string, DesiredNetwork>, instances: readonly DesiredInstance[], held: Iterable<Held>): NicDecisions {
  const withNics = instances.filter((d) => d.nics?.length).sort((a, b) => (a.name < b.name ? -1 : 1));
  const wanted = new Set(instances.map((d) => d.name)); // a wanted instance without NICs (any more) holds none
  const ips = new Map<string, string>(); // "network ip" → holder
  const macs = new Map<string, string>();
  const kept = new Map<string, (Kept | undefined)[]>();
  const byName = new Map<string, Held>();
  for (const p of held) {
    byName.set(p.instance, p);
    if (!wanted.has(p.instance)) for (const a of p.nics ?? []) take(ips, macs, a, p.instance);
  }
  for (const d of withNics) {
    const keep = d.nics!.map((nic, i) => keptOf(nic, byName.get(d.name)?.nics?.[i]));
    kept.set(d.name, keep);
    for (const a of keep) if (a?.ip) ips.set(`${a.network} ${a.ip}`, d.name);
    for (const a of keep) if (a?.mac) macs.set(a.mac, d.name);
  }
  const refused = new Map<string, NicRefusal>();
  for (const d of withNics) {
    d.nics!.forEach((nic, i) => {
      const k = kept.get(d.name)![i];
      if (nic.ip !== undefined && k?.ip === undefined) claimStatic(ips, refused, d.name, nic.network, nic.ip);
      if (nic.mac !== undefined && k?.mac === undefined) claimStatic(macs, refused, d.name, nic.network, nic.mac, 'mac');
    });
  }
  const assigned = new Map<string, readonly NicAssignment[]>();
  const pools = new Pools(networks, ips);
  const prefix = cluster.macPrefix ?? defaultMacPrefix(cluster.name);
  const taken = new Set(macs.keys());
  for (const d of withNics) {
    if (refused.has(d.name)) continue;
    const held = byName.get(d.name)?.nics;
    const keep = kept.get(d.name)!;
    if (held?.length === keep.length && keep.every((k) => k?.ip !== undefined && k.mac !== undefined)) { assigned.set(d.name, held); continue; } // all as stored
    const out: NicAssignment[] = [];
    for (const [i, nic] of d.nics!.entries()) {
      const k = keep[i];
      const ip = k?.ip ?? nic.ip ?? pools.next(nic.network, d.name);
      if (ip === undefined) break;
      const mac = k?.mac ?? nic.mac ?? generateMac(prefix, d.name, i, taken);
      taken.add(mac);
      out.push({ network: nic.network, ip, mac });
    }
    if (out.length === d.nics!.length) assigned.set(d.name, out);
  }
  for (const [network, names] of pools.exhausted) {
    for (const name of names) refused.set(name, { kind: 'pool-exhausted', network, instances: names, size: pools.size(network) });
  }
  return { assigned, refused };
}

function take(ips: Map<string, string>, macs: Map<string, string>, a: NicAssignment, holder: string): void {
  ips.set(`${a.network} ${a.ip}`, holder);
  macs.set(a.mac, holder);
}

type Kept = Partial<NicAssignment> & { readonly network: string };

/** What of the stored assignment of NIC i still stands: the address and MAC, each unless the manifest now fixes another. */
function keptOf(nic: DesiredNic, was: NicAssignment | undefined): Kept | undefined {
  if (!was || was.network !== nic.network) return undefined;
  return {
    network: nic.network,
    ...((nic.ip === undefined || nic.ip === was.ip) && { ip: was.ip }),
    ...((nic.mac === undefined || nic.mac === was.mac) && { mac: was.mac }),
  };
}

/** A static value newly written: refused while another instance holds it (the manifest checks clashes between statics). */
function claimStatic(seen: Map<string, string>, refused: Map<string, NicRefusal>, instance: string, network: string, value: string, what: 'ip' | 'mac' = 'ip'): void {
  const key = what === 'ip' ? `${network} ${value}` : value;
  const holder = seen.get(key);
  if (holder !== undefined && holder !== instance) refused.set(instance, { kind: 'address-taken', network, address: value, holder, instance });
  else seen.set(key, instance);
}

/** The first free address of each pool, scanning forward only: one plan hands out in order. */
class Pools {
  readonly exhausted = new Map<string, string[]>();
  private readonly cursor = new Map<string, number>();
  private readonly views = new Map<string, NetView>();

  constructor(private readonly networks: ReadonlyMap<string, DesiredNetwork>, private readonly used: Map<string, string>) {}

  next(network: string, instance: string): string | undefined {
    const v = this.view(network);
    if (!v) return undefined;
    for (let ip = this.cursor.get(network) ?? v.pool.first; ip <= v.pool.last; ip++) {
      const text = formatIp(ip);
      if (unusable(v, ip) || this.used.has(`${network} ${text}`)) continue;
      this.used.set(`${network} ${text}`, instance);
      this.cursor.set(network, ip + 1);
      return text;
    }
    this.cursor.set(network, v.pool.last + 1);
    this.exhausted.set(network, [...(this.exhausted.get(network) ?? []), instance]);
    return undefined;
  }

  size(network: string): number {
    const v = this.view(network);
    return v ? poolSize(v) : 0;
  }

  private view(network: string): NetView | undefined {
    const n = this.networks.get(network);
    if (!n) return undefined;
    let v = this.views.get(network);
    if (!v) { v = viewOf(n); this.views.set(network, v); }
    return v;
  }
}

