/**
 * The spec hash: a short digest of what a container is, so that a different one means RecreateInstance.
 * The drivers write it with the container (a label on docker, the container record in the sim world),
 * apply/ keeps it in the placement (`applied.specHash`), plan/ compares it with specMatches().
 *
 * Made to survive upgrades, so that a new Drover recreates nothing by itself:
 * - keyed: fields are hashed by name (objects with sorted keys), never by position;
 * - a field at its default (absent, an empty list or map) is left out, so a field added to the spec
 *   later, at its default on every instance made before, changes no hash;
 * - versioned: the hash starts with its formula's version (`v2:…`), and a hash of an older formula is
 *   recomputed with that formula from the desired spec instead of being taken for a change.
 */
import { createHash } from 'node:crypto';
import { isV1Hash, specHashV1, v1View } from './hash-v1.ts';
import type { InstanceSpec } from './operations.ts';

const VERSION = 'v2';

/** Fields that are not what the container is: its name is the key it is found by, the disk template says where its replica lives. */
const NOT_HASHED: ReadonlySet<string> = new Set<keyof InstanceSpec>(['name', 'diskTemplate']);

/** The hash of the current formula: what drivers and apply/ write. */
export function specHash(spec: InstanceSpec): string {
  return `${VERSION}:${createHash('sha256').update(canonicalSpec(spec)).digest('hex').slice(0, 12)}`;
}

/** Whether a stored hash, of any formula this Drover knows, stands for this spec. */
export function specMatches(hash: string, spec: InstanceSpec): boolean {
  if (hash.startsWith(`${VERSION}:`)) return hash === specHash(spec);
  // v1 saw fewer fields: a spec that sets one it did not know is a change, whatever v1 says. (A container
  // keeps its v1 hash until it is recreated, so this runs on every plan: texts compared, not rehashed.)
  if (isV1Hash(hash)) return hash === specHashV1(spec) && canonicalSpec(v1View(spec)) === canonicalSpec(spec);
  return false; // written by a newer Drover, whose formula this one cannot recompute
}

/** What the v2 hash digests: the spec's hashed fields, keyed, defaults left out. */
function canonicalSpec(spec: InstanceSpec): string {
  return canonical(spec, NOT_HASHED) ?? '{}';
}

/**
 * The value as JSON with object keys sorted and, at every depth, fields at their default (undefined,
 * [], {}) left out; undefined if it is all default. Written out directly: a plan hashes every instance.
 */
function canonical(value: unknown, skip?: ReadonlySet<string>): string | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return value.length === 0 ? undefined : `[${value.map((v: unknown) => canonical(v) ?? 'null').join(',')}]`;
  let fields = '';
  for (const key of Object.keys(value).sort()) {
    const v = skip?.has(key) ? undefined : canonical((value as Record<string, unknown>)[key]);
    if (v !== undefined) fields += `${fields ? ',' : ''}${JSON.stringify(key)}:${v}`;
  }
  return fields ? `{${fields}}` : undefined;
}
