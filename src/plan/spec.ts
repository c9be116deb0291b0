import type { DesiredInstance } from '../model/desired.ts';
import type { InstanceSpec } from '../model/operations.ts';

/** The part of a desired instance that makes its container. */
export function toSpec(d: DesiredInstance): InstanceSpec {
  return {
    name: d.name,
    image: d.image,
    ...(d.hypervisor && { hypervisor: d.hypervisor }),
    ...(d.boot && { boot: d.boot }),
    ...(d.machine !== undefined && { machine: d.machine }),
    memory: d.memory,
    vcpus: d.vcpus,
    diskTemplate: d.diskTemplate,
    disks: d.disks,
    env: d.env,
    ...(d.command && { command: d.command }),
    ports: d.ports,
  };
}

export const diskBytes = (d: { readonly disks: readonly { readonly size: number }[] }): number =>
  d.disks.reduce((sum, disk) => sum + disk.size, 0);
