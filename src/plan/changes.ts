/**
 * What changed in an instance's spec on its kept primary, and the least disruptive way to carry it
 * out: limits in place (ModifyInstance), with a restart, or a new container (RecreateInstance, disks
 * kept); grown disks (GrowDisk) (a shrunk disk is refused by plan/instance.ts). Pure: spec + what the node shows + what
 * Drover last applied.
 */
import type { BackendCapabilities, ResizableField } from '../drivers/backends.ts';
import { fieldChanges } from '../model/changes.ts';
import { isCurrentHash, specMatches, type SeenLimits } from '../model/hash.ts';
import type { ObservedContainer, ObservedVolume } from '../model/observed.ts';
import type { FieldChange, InstanceSpec } from '../model/operations.ts';

export interface DiskResize {
  readonly disk: number;
  readonly from: number;
  readonly to: number;
}

export interface SpecDiff {
  /** Applied (or seen) → wanted, every field that differs. */
  readonly changes: readonly FieldChange[];
  /** Fields outside the hash's view are unknown: the placement was applied by an older version. */
  readonly fieldsUnknown: boolean;
  /** A field only a new container can change (image, env, command, ports, mounts) differs. */
  readonly recreate: boolean;
  /** Limits that differ from the node's. */
  readonly resized: readonly ResizableField[];
  /** Disks larger in the manifest than on the primary or the secondary. */
  readonly grown: readonly DiskResize[];
}

/** What the node shows of the fields the hash leaves out. */
export function seenOf(container: ObservedContainer, volumes: readonly ObservedVolume[], applied?: InstanceSpec): SeenLimits {
  const memory = container.memory ?? applied?.memory;
  const vcpus = container.vcpus ?? applied?.vcpus;
  const sizes: (number | undefined)[] = [];
  for (const v of volumes) sizes[v.disk] = v.size;
  return { ...(memory !== undefined && { memory }), ...(vcpus !== undefined && { vcpus }), sizes };
}

export function specDiff(spec: InstanceSpec, container: ObservedContainer, primary: readonly ObservedVolume[], secondary: readonly ObservedVolume[] | undefined, applied?: InstanceSpec): SpecDiff {
  const seen = seenOf(container, primary, applied);
  const base = applied ?? spec;
  const onNode: InstanceSpec = {
    ...base, memory: seen.memory ?? spec.memory, vcpus: seen.vcpus ?? spec.vcpus,
    disks: spec.disks.map((d, i) => ({ ...(base.disks[i] ?? d), size: seen.sizes?.[i] ?? d.size })),
  };
  const recreate = !specMatches(container.specHash, spec, seen);
  const resized = (['memory', 'vcpus'] as const).filter((f) => onNode[f] !== spec[f]);
  const sizeOn = (vols: readonly ObservedVolume[] | undefined, disk: number) => vols?.find((v) => v.disk === disk)?.size;
  const onPrimary = spec.disks.map((d, disk) => ({ disk, from: sizeOn(primary, disk) ?? d.size, to: d.size }));
  const grown = onPrimary
    .map((r) => ({ ...r, from: Math.min(r.from, sizeOn(secondary, r.disk) ?? r.from) }))
    .filter((r) => r.from < r.to);
  return {
    // rendered only when something changed: the diff of every unchanged instance is most of a no-change plan
    changes: recreate || resized.length > 0 || grown.length > 0 ? fieldChanges(onNode, spec) : [], fieldsUnknown: recreate && !applied, recreate, resized, grown,
  };
}

/**
 * The least disruptive operation for these limits on this backend. A container whose hash is of the
 * first formula is recreated once instead: that hash held its limits and sizes at creation, which an
 * in-place change would make it contradict.
 */
export function resizeBy(caps: BackendCapabilities, resized: readonly ResizableField[], hash: string): 'ModifyInstance' | 'RestartInstance' | 'RecreateInstance' {
  if (!isCurrentHash(hash)) return 'RecreateInstance';
  if (resized.every((f) => caps.inPlaceResize.includes(f))) return 'ModifyInstance';
  if (resized.every((f) => caps.inPlaceResize.includes(f) || caps.restartResize.includes(f))) return 'RestartInstance';
  return 'RecreateInstance';
}
