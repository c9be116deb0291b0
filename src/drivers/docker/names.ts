/** Names and labels of everything the docker driver creates on an engine. */

export const LABEL = {
  cluster: 'drover.cluster',
  instance: 'drover.instance',
  /** primary | replica (volumes and their marker); containers are always the primary's */
  role: 'drover.role',
  generation: 'drover.generation',
  /** specHash() of the container: `v2:` + 12 hex (a bare 12 hex is an older version's, see model/hash.ts) */
  spec: 'drover.spec',
  /** disk index of a volume */
  disk: 'drover.disk',
  /** disk size in bytes, as declared (local volumes have no quota) */
  size: 'drover.size',
  /** marks a helper container (sync, checkpoint, probe): never reported as an instance */
  helper: 'drover.helper',
  /** marks the per-instance, per-node role marker volume (see promoteDisks) */
  meta: 'drover.meta',
  /** a VM's container and its run volume (QEMU in a container, drivers/docker/vm/) */
  vm: 'drover.vm',
  /** on a VM's container: the accelerator it runs with, kvm | tcg */
  accel: 'drover.accel',
  /** on a VM's container: the guest's memory (bytes) and vcpus (the container's own limits add QEMU's overhead) */
  vmMemory: 'drover.vm.memory',
  vmVcpus: 'drover.vm.vcpus',
  /** on a VM's container made as a live migration's destination (its argv waits for the incoming state) */
  vmIncoming: 'drover.vm.incoming',
  /** a container's networks in its spec's order, comma-separated (the engine lists them by name) */
  nics: 'drover.nics',
} as const;

/**
 * On the marker volume: the size disk N was grown to (GrowDisk). A local volume has no size to change and
 * its own labels cannot change either, so its size is the larger of its `drover.size` and this.
 */
export const grownLabel = (disk: number): string => `drover.grown.d${disk}`;

export const containerName = (instance: string): string => `drover-${instance}`;
export const volumeName = (instance: string, disk: number): string => `drover-${instance}-d${disk}`;
/** Empty volume whose labels say which role and generation this node's copy of the instance has. */
export const markerName = (instance: string): string => `drover-${instance}-meta`;
/** A VM's run volume: QMP and console sockets, the console log, its boot files. */
export const runVolumeName = (instance: string): string => `drover-${instance}-run`;
export const helperName = (instance: string, what: string): string => `drover-${instance}-${what}`;
