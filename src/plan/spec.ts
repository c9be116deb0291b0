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

/**
 * Memory a VM's QEMU uses beside its guest's, which placement counts: measured on the docker backend (QEMU
 * 7.2, TCG with a 32 MiB translation cache), a 128 MiB guest's container used ~180 MiB; QEMU's default
 * cache adds ~60 MiB more (shared/reference/qemu.md: 240 MB RSS). Modelled as a flat 128 MiB.
 */
export const VM_MEMORY_OVERHEAD = 128 * 2 ** 20;

/** The memory an instance takes on its node: a VM's guest memory plus its QEMU. */
export const hostMemory = (i: { readonly memory: number; readonly hypervisor?: 'kvm' }): number =>
  i.hypervisor === 'kvm' ? i.memory + VM_MEMORY_OVERHEAD : i.memory;
