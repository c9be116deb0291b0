import type { DesiredInstance } from '../model/desired.ts';
import type { NicBinding } from '../model/nics.ts';
import type { InstanceSpec } from '../model/operations.ts';

/** The part of a desired instance that makes its container, with its NICs as they attach on the node it goes to. */
export function toSpec(d: DesiredInstance, nics: readonly NicBinding[] = []): InstanceSpec {
  return {
    name: d.name,
    image: d.image,
    memory: d.memory,
    vcpus: d.vcpus,
    diskTemplate: d.diskTemplate,
    disks: d.disks,
    env: d.env,
    ...(d.command && { command: d.command }),
    ports: d.ports,
    ...(nics.length > 0 && { nics }),
  };
}

export const diskBytes = (d: { readonly disks: readonly { readonly size: number }[] }): number =>
  d.disks.reduce((sum, disk) => sum + disk.size, 0);
