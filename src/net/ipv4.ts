/**
 * IPv4 addresses and subnets as plain numbers (an address is its 32-bit value), so ranges and pools are
 * arithmetic. Parsing is strict: four decimal octets, no leading zeros (`010` is octal to some tools).
 */

export interface Cidr {
  /** The network address (host bits cleared). */
  readonly network: number;
  readonly prefixLength: number;
  /** The address as written had host bits set (`10.0.0.5/24`): a mistake worth naming. */
  readonly hostBitsSet: boolean;
}

const OCTET = /^(0|[1-9]\d{0,2})$/;

export function parseIp(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function formatIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  const ip = m ? parseIp(m[1]!) : undefined;
  const prefixLength = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(prefixLength >= 0 && prefixLength <= 32)) return undefined;
  const size = 2 ** (32 - prefixLength);
  const network = ip - (ip % size);
  return { network, prefixLength, hostBitsSet: network !== ip };
}

export const formatCidr = (c: Cidr): string => `${formatIp(c.network)}/${c.prefixLength}`;

/** The subnet's first and last address (network and broadcast address included). */
export function bounds(c: Cidr): { readonly first: number; readonly last: number } {
  return { first: c.network, last: c.network + 2 ** (32 - c.prefixLength) - 1 };
}

export function contains(c: Cidr, ip: number): boolean {
  const b = bounds(c);
  return ip >= b.first && ip <= b.last;
}

/** The addresses a host may use: all but the network and broadcast address (both, for /31 and /32). */
export function hosts(c: Cidr): { readonly first: number; readonly last: number } {
  const b = bounds(c);
  return c.prefixLength >= 31 ? b : { first: b.first + 1, last: b.last - 1 };
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const x = bounds(a);
  const y = bounds(b);
  return x.first <= y.last && y.first <= x.last;
}

/** `10.0.0.5` or a range `10.0.0.5-10.0.0.9`, as numbers; undefined when malformed or reversed. */
export function parseRange(text: string): { readonly first: number; readonly last: number } | undefined {
  const [a, b, ...rest] = text.split('-').map((s) => s.trim());
  const first = parseIp(a ?? '');
  const last = b === undefined ? first : parseIp(b);
  if (rest.length || first === undefined || last === undefined || last < first) return undefined;
  return { first, last };
}
