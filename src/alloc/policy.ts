/**
 * Ganeti's instance policy check (htools Instance.instMatchesPolicy): an instance complies when it
 * fits one min/max pair of its group's policy, bounds inclusive, and its disk template is allowed.
 * Checked as htools does: memory, each disk's size, vCPUs, spindle use, disk count (not for diskless);
 * NIC count is in the policy but htools does not check it, nor do we.
 */
import type { AllocPolicy, DiskTemplateName, InstanceModel, InstancePolicy, InstanceSpec } from './model.ts';

export type PolicyField = 'memory' | 'diskSize' | 'vcpus' | 'spindleUse' | 'diskCount' | 'template';

/** Why an instance does not comply: the first bound it breaks (of the last min/max pair tried, as htools). */
export interface PolicyViolation {
  readonly field: PolicyField;
  readonly value: number | string;
  /** The bound it breaks: a number for sizes, the allowed templates for 'template'. */
  readonly bound: number | readonly string[];
  readonly side: 'min' | 'max' | 'list';
}

/** The Ganeti disk template of a model instance. */
export function templateOf(inst: Pick<InstanceModel, 'template' | 'diskless'>): DiskTemplateName {
  return inst.template === 'replicated' ? 'drbd' : inst.diskless === true ? 'diskless' : 'plain';
}

/** The policy that governs instances in a node group: the group's own, else the cluster's. */
export function policyFor(policy: AllocPolicy, group: string | undefined): InstancePolicy | undefined {
  return (group !== undefined ? policy.groupPolicies?.[group] : undefined) ?? policy.instancePolicy;
}

function outside(inst: InstanceModel, min: InstanceSpec, max: InstanceSpec): PolicyViolation | undefined {
  const diskCount = inst.diskCount ?? (inst.diskless === true ? 0 : 1);
  const diskSize = diskCount > 0 ? inst.disk / diskCount : 0;
  const checks: [PolicyField, number, number, number, boolean][] = [
    ['memory', inst.memory, min.memory, max.memory, true],
    ['diskSize', diskSize, min.diskSize, max.diskSize, diskCount > 0],
    ['vcpus', inst.vcpus, min.vcpus, max.vcpus, true],
    ['spindleUse', inst.spindleUse ?? 1, min.spindleUse, max.spindleUse, true],
    ['diskCount', diskCount, min.diskCount, max.diskCount, inst.diskless !== true],
  ];
  for (const [field, v, lo, hi, applies] of checks) {
    if (!applies) continue;
    if (v < lo) return { field, value: v, bound: lo, side: 'min' };
    if (v > hi) return { field, value: v, bound: hi, side: 'max' };
  }
  return undefined;
}

/** The instance's breach of the policy, or undefined when it complies. */
export function policyViolation(inst: InstanceModel, pol: InstancePolicy): PolicyViolation | undefined {
  let last: PolicyViolation | undefined;
  for (const { min, max } of pol.minMax) {
    last = outside(inst, min, max);
    if (!last) break;
  }
  if (last) return last;
  const t = templateOf(inst);
  return pol.diskTemplates.includes(t) ? undefined : { field: 'template', value: t, bound: pol.diskTemplates, side: 'list' };
}

/** A violation as people read it, e.g. "memory 48 GiB above the policy's 32 GiB". */
export function violationText(v: PolicyViolation): string {
  if (v.side === 'list') return `disk template ${String(v.value)} not among the policy's ${(v.bound as readonly string[]).join(', ')}`;
  const bytes = v.field === 'memory' || v.field === 'diskSize';
  const show = (x: number): string => (bytes ? `${+(x / 2 ** 30).toFixed(2)} GiB` : String(x));
  const what = { memory: 'memory', diskSize: 'disk size', vcpus: 'vCPUs', spindleUse: 'spindle use', diskCount: 'disk count', template: 'template' }[v.field];
  return `${what} ${show(v.value as number)} ${v.side === 'min' ? 'below' : 'above'} the policy's ${show(v.bound as number)}`;
}
