/**
 * The spec hash: a short digest of what a container is made of that only a new container can change, so
 * that a different one means RecreateInstance. The drivers write it with the container (a label on docker,
 * the container record in the sim world), apply/ keeps it in the placement (`applied.specHash`), plan/
 * compares it with specMatches().
 *
 * Left out: the limits a backend changes in place (memory, vcpus: a docker label cannot follow a
 * `docker update`, so they are read off the node instead, see ObservedContainer) and the disks' sizes
 * (GrowDisk changes them; the node shows them).
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

/**
 * Fields that are not what only a new container can change: its name is the key it is found by, the disk
 * template says where its replica lives, the limits change in place (and disk sizes, see canonicalSpec).
 */
const NOT_HASHED: ReadonlySet<string> = new Set<keyof InstanceSpec>(['name', 'diskTemplate', 'memory', 'vcpus']);

/** The hash of the current formula: what drivers and apply/ write. */
export function specHash(spec: InstanceSpec): string {
  return `${VERSION}:${createHash('sha256').update(canonicalSpec(spec)).digest('hex').slice(0, 12)}`;
}

/** Written by the current formula: a container that can be changed in place and keep matching. */
export const isCurrentHash = (hash: string): boolean => hash.startsWith(`${VERSION}:`);

/** What the node says of the fields the hash leaves out; absent: the spec's own. */
export interface SeenLimits {
  readonly memory?: number;
  readonly vcpus?: number;
  /** Disk sizes by index. */
  readonly sizes?: readonly (number | undefined)[];
}

/**
 * Whether a stored hash, of any formula this Drover knows, stands for this spec. A v1 hash also covered
 * the limits and sizes as they were when the container was made; those are what the node shows (nothing
 * changed them in place before v2), so it is recomputed with them: a limit or size change stays in place.
 */
export function specMatches(hash: string, spec: InstanceSpec, seen: SeenLimits = {}): boolean {
  if (isCurrentHash(hash)) return hash === specHash(spec);
  // v1 saw fewer fields: a spec that sets one it did not know is a change, whatever v1 says. (A container
  // keeps its v1 hash until it is recreated, so this runs on every plan: texts compared, not rehashed.)
  if (isV1Hash(hash)) return hash === specHashV1(asMade(spec, seen)) && canonicalSpec(v1View(spec)) === canonicalSpec(spec);
  return false; // written by a newer Drover, whose formula this one cannot recompute
}

/** The spec with the limits and disk sizes the node shows. */
function asMade(spec: InstanceSpec, seen: SeenLimits): InstanceSpec {
  return {
    ...spec, memory: seen.memory ?? spec.memory, vcpus: seen.vcpus ?? spec.vcpus,
    disks: spec.disks.map((d, i) => ({ ...d, size: seen.sizes?.[i] ?? d.size })),
  };
}

/**
 * What the v2 hash digests: the spec's hashed fields, keyed, defaults left out. A VM's memory and vcpus are
 * QEMU's command line, which only a new QEMU changes: hashed (the field `vm`; containers have none, so
 * their hashes are as before).
 */
function canonicalSpec(spec: InstanceSpec): string {
  const vm = spec.hypervisor === 'kvm' ? { vm: { memory: spec.memory, vcpus: spec.vcpus } } : {};
  return canonical({ ...spec, ...vm, disks: spec.disks.map(({ size: _grown, ...disk }) => disk) }, NOT_HASHED) ?? '{}';
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
