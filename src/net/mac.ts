/**
 * MAC addresses: lower-case, colon-separated. Generated ones are locally administered unicast (the first
 * octet's second-lowest bit set, its lowest clear), so they never clash with a vendor's.
 */
import { createHash } from 'node:crypto';

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const PREFIX = /^[0-9a-f]{2}(:[0-9a-f]{2}){2}$/;

/** `02:AB:…` or `02-ab-…` → `02:ab:…`; undefined when it is not six octets. */
export function normalizeMac(text: string): string | undefined {
  const mac = text.trim().toLowerCase().replaceAll('-', ':');
  return MAC.test(mac) ? mac : undefined;
}

export function normalizePrefix(text: string): string | undefined {
  const p = text.trim().toLowerCase().replaceAll('-', ':');
  return PREFIX.test(p) ? p : undefined;
}

/** Locally administered and unicast: what a prefix for generated MACs must be. */
export function isLocalUnicast(macOrPrefix: string): boolean {
  const first = Number.parseInt(macOrPrefix.slice(0, 2), 16);
  return (first & 0b10) !== 0 && (first & 0b1) === 0;
}

export const isMulticast = (mac: string): boolean => (Number.parseInt(mac.slice(0, 2), 16) & 1) === 1;

/** A cluster without `macPrefix`: `02:` and two octets of its name's digest (clusters on one segment differ). */
export function defaultMacPrefix(cluster: string): string {
  const d = createHash('sha256').update(`drover-mac:${cluster}`).digest();
  return ['02', d[0]!, d[1]!].map((x) => (typeof x === 'string' ? x : x.toString(16).padStart(2, '0'))).join(':');
}

/**
 * The MAC of NIC `index` of `instance`: the prefix and three octets of a digest of both, so it does not
 * depend on the order instances are planned in; a MAC already taken is passed over (the digest again, with
 * a counter). Drover generates it once: the store keeps it from then on.
 */
export function generateMac(prefix: string, instance: string, index: number, taken: ReadonlySet<string>): string {
  for (let attempt = 0; ; attempt++) {
    const d = createHash('sha256').update(`${instance}/${index}/${attempt}`).digest();
    const mac = `${prefix}:${[d[0]!, d[1]!, d[2]!].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
    if (!taken.has(mac)) return mac;
  }
}
