/**
 * The spec hash: a short digest of what a container is made of that only a new container can change, so
 * that a different one means RecreateInstance. The drivers write it with the container (a label on docker,
 * the container record in the sim world), apply/ keeps it in the placement (`applied.specHash`), plan/
 * compares it with specMatches().
 *
 * Left out: the limits a backend changes in place (memory, vcpus: a docker label cannot follow a
 * `docker update`, so they are read off the node instead, see ObservedContainer) and the disks' sizes
 * (GrowDisk changes them, the node shows them).
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
 * template says where its replica lives, the limits change in place.
 */
const NOT_HASHED: ReadonlySet<string> = new Set<keyof InstanceSpec>(['name', 'diskTemplate', 'memory', 'vcpus']);

/** The hash of the current formula: what drivers and apply/ write. */
export function specHash(spec: InstanceSpec): string {
  const fields = Object.fromEntries(Object.entries(spec).filter(([k]) => !NOT_HASHED.has(k)));
  const disks = spec.disks.map(({ size: _size, ...rest }) => rest); // sizes grow in place
  const canonical = JSON.stringify(withoutDefaults({ ...fields, disks }) ?? {});
  return `${VERSION}:${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`;
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
  if (!isV1Hash(hash)) return false; // written by a newer Drover, whose formula this one cannot recompute
  const made: InstanceSpec = {
    ...spec, memory: seen.memory ?? spec.memory, vcpus: seen.vcpus ?? spec.vcpus,
    disks: spec.disks.map((d, i) => ({ ...d, size: seen.sizes?.[i] ?? d.size })),
  };
  // v1 saw fewer fields: a spec that sets one it did not know is a change, whatever v1 says
  return hash === specHashV1(made) && specHash(v1View(spec)) === specHash(spec);
}

/** The value with object keys sorted and, at every depth, fields at their default (undefined, [], {}) left out; undefined if it is all default. */
function withoutDefaults(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map((v) => withoutDefaults(v) ?? null);
  if (value === null || typeof value !== 'object') return value;
  const kept: [string, unknown][] = [];
  for (const key of Object.keys(value).sort()) {
    const v = withoutDefaults((value as Record<string, unknown>)[key]);
    if (v !== undefined) kept.push([key, v]);
  }
  return kept.length === 0 ? undefined : Object.fromEntries(kept);
}
