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
export const helperName = (instance: string, what: string): string => `drover-${instance}-${what}`;
