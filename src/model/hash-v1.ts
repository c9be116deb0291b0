/**
 * The spec hash Drover wrote before hashes carried a version (v1): a positional array, so any new field
 * would have changed every hash. Frozen: it is only recomputed to compare a hash an older Drover wrote
 * (a container label, a placement's `applied`) with a desired spec, and never written again.
 */
import { createHash } from 'node:crypto';
import type { InstanceSpec } from './operations.ts';

/** A v1 hash is 12 bare hex digits, with no version in front. */
export const isV1Hash = (hash: string): boolean => /^[0-9a-f]{12}$/.test(hash);

export function specHashV1(spec: InstanceSpec): string {
  const canonical = JSON.stringify([
    spec.image, spec.memory, spec.vcpus, spec.disks.map((d) => [d.size, d.mount]),
    Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : 1)), spec.command ?? null,
    spec.ports.map((p) => [p.container, p.host ?? null, p.protocol]),
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

/**
 * The spec as v1 saw it: only the fields v1 hashed. A spec that sets a field v1 did not know cannot
 * match a v1 hash, even when the fields v1 knew are the same. Typed as a whole InstanceSpec, so a
 * new required field must be thought about here.
 */
export function v1View(spec: InstanceSpec): InstanceSpec {
  return {
    name: spec.name, diskTemplate: spec.diskTemplate, image: spec.image, memory: spec.memory, vcpus: spec.vcpus,
    disks: spec.disks.map(({ size, mount }) => ({ size, mount })), env: spec.env,
    ...(spec.command ? { command: spec.command } : {}),
    ports: spec.ports.map(({ container, host, protocol }) => ({ container, ...(host === undefined ? {} : { host }), protocol })),
  };
}
