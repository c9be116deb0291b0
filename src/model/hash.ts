import { createHash } from 'node:crypto';
import type { InstanceSpec } from './operations.ts';

/** A stable short hash of what a container is; a change means RecreateInstance. */
export function specHash(spec: InstanceSpec): string {
  const canonical = JSON.stringify([
    spec.image, spec.memory, spec.vcpus, spec.disks.map((d) => [d.size, d.mount]),
    Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : 1)), spec.command ?? null,
    spec.ports.map((p) => [p.container, p.host ?? null, p.protocol]),
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}
