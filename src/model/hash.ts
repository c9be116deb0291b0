/**
 * The spec hash: a short digest of what a container is made of that only a new container can change.
 * The drivers write it with the container (a label on docker, the container record in the sim world);
 * plan/ compares it with specMatches(). Left out: the limits a backend changes in place (memory, vcpus:
 * a docker label cannot follow a `docker update`, so they are read off the node instead, see
 * ObservedContainer) and the disks' sizes (GrowDisk changes them). Formula `v2:`; hashes without a
 * prefix are the first formula, which hashed the limits and sizes too (see specMatches).
 */
import { createHash } from 'node:crypto';
import type { InstanceSpec } from './operations.ts';

const digest = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 12);
const sortedEnv = (env: Readonly<Record<string, string>>) => Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1));

export function specHash(spec: InstanceSpec): string {
  return `v2:${digest({
    image: spec.image, mounts: spec.disks.map((d) => d.mount ?? null), env: sortedEnv(spec.env),
    command: spec.command ?? null, ports: spec.ports.map((p) => [p.container, p.host ?? null, p.protocol]),
  })}`;
}

/** What the node says of the fields left out of the hash; absent: the spec's own. */
export interface SeenLimits {
  readonly memory?: number;
  readonly vcpus?: number;
  /** Disk sizes by index. */
  readonly sizes?: readonly (number | undefined)[];
}

/**
 * Whether a container's hash stands for this spec. A first-formula hash also covered limits and sizes
 * as they were at its creation; those are what the node shows (nothing changed them in place before
 * this formula), so it is recomputed with them: a limit or size change stays an in-place one.
 */
export function specMatches(hash: string, spec: InstanceSpec, seen: SeenLimits = {}): boolean {
  if (hash.startsWith('v2:')) return hash === specHash(spec);
  return hash === specHashV1({
    ...spec, memory: seen.memory ?? spec.memory, vcpus: seen.vcpus ?? spec.vcpus,
    disks: spec.disks.map((d, i) => ({ ...d, size: seen.sizes?.[i] ?? d.size })),
  });
}

/** The first formula, frozen: positional, limits and sizes included. */
function specHashV1(spec: InstanceSpec): string {
  return digest([
    spec.image, spec.memory, spec.vcpus, spec.disks.map((d) => [d.size, d.mount]),
    sortedEnv(spec.env), spec.command ?? null, spec.ports.map((p) => [p.container, p.host ?? null, p.protocol]),
  ]);
}

/** Written by this formula: a container that can be changed in place and keep matching. */
export const isCurrentHash = (hash: string): boolean => hash.startsWith('v2:');
