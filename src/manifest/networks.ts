/**
 * Network documents and the NICs that use them: a subnet, gateway, pool and reserved set that make sense
 * together; subnets of one cluster that do not overlap; NICs naming a network of their cluster, with
 * static addresses inside its subnet, outside its reserved set, and claimed once; static MACs well formed
 * and claimed once. Every error is at the field, and a clash names both places.
 */
import type { Desired, DesiredNetwork, DesiredNic } from '../model/desired.ts';
import { contains, formatCidr, formatIp, hosts, overlaps, parseCidr, parseIp, parseRange, type Cidr } from '../net/ipv4.ts';
import { isMulticast, normalizeMac, normalizePrefix, isLocalUnicast } from '../net/mac.ts';
import { unusable, viewOf } from '../net/network.ts';
import type { Docs } from './build.ts';
import { formatLocation, type Diagnostics } from './diagnostic.ts';
import { checkNicLimits } from './nic-limits.ts';
import type { Gaps } from './gaps.ts';
import { didYouMean } from './suggest.ts';
import type { Manifest, NicDoc } from './types.ts';
import { where } from './types.ts';

type Err = (pointer: string, message: string) => void;

const errorsOf = (m: Manifest, diags: Diagnostics): Err => (pointer, message) =>
  diags.error(where(m, pointer), `${m.title}: ${pointer.slice(1).replaceAll('/', '.').replace(/\.(\d+)(?=\.|$)/g, '[$1]')}: ${message}`);

/** A Network document → DesiredNetwork, or undefined when its subnet is unusable (its errors reported). */
export function resolveNetwork(m: Manifest<'Network'>, diags: Diagnostics): DesiredNetwork | undefined {
  const err = errorsOf(m, diags);
  const { spec } = m;
  const cidr = parseCidr(spec.subnet);
  if (!cidr) {
    err('/spec/subnet', `"${spec.subnet}" is not an IPv4 subnet in CIDR form (e.g. 10.42.0.0/24)`);
    return undefined;
  }
  if (cidr.hostBitsSet) err('/spec/subnet', `"${spec.subnet}" has host bits set; the subnet is ${formatCidr(cidr)}`);
  const inside = (pointer: string, text: string, what: string): number | undefined => {
    const ip = parseIp(text);
    if (ip === undefined) err(pointer, `"${text}" is not an IPv4 address`);
    else if (!contains(cidr, ip)) err(pointer, `${what} ${text} is outside the subnet ${formatCidr(cidr)}`);
    else return ip;
    return undefined;
  };
  if (spec.gateway !== undefined) inside('/spec/gateway', spec.gateway, 'the gateway');
  const pool = poolOf(spec.pool, cidr, err);
  spec.reserved.forEach((r, i) => {
    const range = parseRange(r);
    if (!range) err(`/spec/reserved/${i}`, `"${r}" is not an address or a first-last range of addresses`);
    else if (!contains(cidr, range.first) || !contains(cidr, range.last)) err(`/spec/reserved/${i}`, `"${r}" is outside the subnet ${formatCidr(cidr)}`);
  });
  return {
    name: m.name, labels: m.labels, cluster: spec.cluster, subnet: formatCidr(cidr),
    ...(spec.gateway !== undefined && { gateway: spec.gateway }),
    pool: { first: formatIp(pool.first), last: formatIp(pool.last) },
    reserved: spec.reserved.filter((r) => parseRange(r) !== undefined),
    link: spec.link, nodeLinks: spec.nodeLinks, groupLinks: spec.groupLinks, mode: spec.mode,
    source: m.doc.root,
  };
}

function poolOf(text: string | undefined, cidr: Cidr, err: Err): { first: number; last: number } {
  const all = hosts(cidr);
  if (text === undefined) return all;
  const range = parseRange(text);
  if (!range) err('/spec/pool', `"${text}" is not a range of addresses (first-last, e.g. 10.42.0.100-10.42.0.199)`);
  else if (!contains(cidr, range.first) || !contains(cidr, range.last)) err('/spec/pool', `"${text}" is outside the subnet ${formatCidr(cidr)}`);
  else return range;
  return all;
}

/** An instance's `nics` → DesiredNic[]: MACs in one spelling; malformed addresses and MACs reported here. */
export function resolveNics(m: Manifest<'Instance'>, nics: readonly NicDoc[], diags: Diagnostics): DesiredNic[] {
  const err = errorsOf(m, diags);
  return nics.map((n, i) => {
    if (n.ip !== undefined && parseIp(n.ip) === undefined) err(`/spec/nics/${i}/ip`, `"${n.ip}" is not an IPv4 address`);
    const mac = n.mac === undefined ? undefined : normalizeMac(n.mac);
    if (n.mac !== undefined && mac === undefined) err(`/spec/nics/${i}/mac`, `"${n.mac}" is not a MAC address (six hex octets, e.g. 02:42:ac:11:00:02)`);
    else if (mac !== undefined && isMulticast(mac)) err(`/spec/nics/${i}/mac`, `"${n.mac}" is a multicast address; a NIC needs a unicast one (first octet even)`);
    return { network: n.network, ...(n.ip !== undefined && { ip: n.ip }), ...(mac !== undefined && { mac }) };
  });
}

/** `Cluster.spec.macPrefix`: three octets, locally administered unicast. */
export function resolveMacPrefix(m: Manifest<'Cluster'>, diags: Diagnostics): string | undefined {
  const text = m.spec.macPrefix;
  if (text === undefined) return undefined;
  const prefix = normalizePrefix(text);
  if (prefix && isLocalUnicast(prefix)) return prefix;
  errorsOf(m, diags)('/spec/macPrefix', `"${text}" is not a locally administered unicast prefix (first octet with bit 1 set and bit 0 clear, e.g. 02:4f:a1)`);
  return undefined;
}

/** The checks across documents: overlapping subnets, and every NIC against its network and the other NICs. */
export function checkNetworks(desired: Desired, docs: Docs, gaps: Gaps, diags: Diagnostics): void {
  checkOverlaps(desired, docs, diags);
  checkNicLimits(desired, docs, diags);
  const ips = new Map<string, { instance: string; pointer: string }>(); // "network ip" → first claimant
  const macs = new Map<string, { instance: string; pointer: string }>();
  const networks = desired.networks ?? new Map<string, DesiredNetwork>();
  for (const inst of desired.instances.values()) {
    if (inst.state === 'absent') continue;
    const m = docs.instances.get(inst.name)!;
    const err = errorsOf(m, diags);
    (inst.nics ?? []).forEach((nic, i) => {
      const net = networks.get(nic.network);
      if (!net) {
        if (gaps.mayBe('Network', nic.network)) return;
        const known = [...networks.values()].filter((n) => n.cluster === inst.cluster).map((n) => n.name);
        err(`/spec/nics/${i}/network`, `unknown network "${nic.network}"${didYouMean(nic.network, known) || (known.length ? ` (known: ${known.join(', ')})` : ' (no Network document in this cluster)')}`);
        return;
      }
      if (net.cluster !== inst.cluster) err(`/spec/nics/${i}/network`, `network "${net.name}" is in cluster "${net.cluster}", not "${inst.cluster}"`);
      if (nic.ip !== undefined) checkStaticIp(net, nic, `/spec/nics/${i}/ip`, err, claim(ips, `${net.name} ${nic.ip}`, inst.name, `/spec/nics/${i}/ip`, docs, err, 'address'));
      if (nic.mac !== undefined) claim(macs, nic.mac, inst.name, `/spec/nics/${i}/mac`, docs, err, 'MAC')();
    });
  }
  for (const net of networks.values()) {
    const m = docs.networks.get(net.name)!;
    for (const node of Object.keys(net.nodeLinks)) {
      if (!desired.nodes.has(node) && !gaps.mayBe('Node', node)) diags.warning(where(m, `/spec/nodeLinks/${node}`, 'key'), `${m.title}: spec.nodeLinks: no node "${node}" in the manifests`);
    }
  }
}

/** Remembers the first claimant of a static value; a second one is an error naming both places. */
function claim(seen: Map<string, { instance: string; pointer: string }>, key: string, instance: string, pointer: string, docs: Docs, err: Err, what: string): () => void {
  return () => {
    const first = seen.get(key);
    if (!first) { seen.set(key, { instance, pointer }); return; }
    const at = formatLocation(where(docs.instances.get(first.instance)!, first.pointer));
    err(pointer, `${what} ${key.split(' ').at(-1)} is also claimed by instance "${first.instance}" at ${at}; two NICs cannot share one`);
  };
}

function checkStaticIp(net: DesiredNetwork, nic: DesiredNic, pointer: string, err: Err, claimIt: () => void): void {
  const ip = parseIp(nic.ip!);
  if (ip === undefined) return; // resolveNics said so
  const v = viewOf(net);
  if (!contains(v.cidr, ip)) { err(pointer, `${nic.ip} is outside the subnet ${net.subnet} of network "${net.name}"`); return; }
  const why = unusable(v, ip);
  if (why === 'reserved') err(pointer, `${nic.ip} is in the reserved set of network "${net.name}"`);
  else if (why) err(pointer, `${nic.ip} is the ${why === 'gateway' ? 'gateway' : `${why} address`} of network "${net.name}"`);
  else claimIt();
}

/** Two networks of one cluster whose subnets overlap: an address there would be ambiguous. */
function checkOverlaps(desired: Desired, docs: Docs, diags: Diagnostics): void {
  const seen: DesiredNetwork[] = [];
  for (const net of desired.networks?.values() ?? []) {
    const cidr = parseCidr(net.subnet)!;
    const other = seen.find((o) => o.cluster === net.cluster && overlaps(parseCidr(o.subnet)!, cidr));
    seen.push(net);
    if (!other) continue;
    const m = docs.networks.get(net.name)!;
    const at = formatLocation(where(docs.networks.get(other.name)!, '/spec/subnet'));
    diags.error(where(m, '/spec/subnet'), `${m.title}: spec.subnet: ${net.subnet} overlaps ${other.subnet} of network "${other.name}" at ${at}`);
  }
}

