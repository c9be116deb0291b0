/**
 * Cluster.spec.policy → the Desired policy: Drover's ratios and Ganeti's ipolicy (min/max specs,
 * std spec, disk templates, spindle ratio). Bad values are reported at their field: a min above its
 * max (Ganeti refuses such a policy too); a std spec that lies within no range is a warning.
 */
import type { ClusterPolicy, InstanceSpecLimits, SpecRange } from '../model/desired.ts';
import { parseQuantity } from '../model/quantity.ts';
import type { Diagnostics } from './diagnostic.ts';
import { QUANTITY_HINT, dotted, show } from './schema-errors.ts';
import type { PolicySpecDoc, Manifest } from './types.ts';
import { where } from './types.ts';

const FIELDS = ['memory', 'vcpus', 'diskSize', 'diskCount', 'nicCount', 'spindleUse'] as const;

export function resolvePolicy(m: Manifest<'Cluster'>, diags: Diagnostics): ClusterPolicy {
  const p = m.spec.policy;
  const error = (pointer: string, message: string): void => diags.error(where(m, pointer), `${m.title}: ${dotted(pointer)}: ${message}`);
  const spec = (pointer: string, s: PolicySpecDoc): InstanceSpecLimits => ({
    memory: bytes(pointer, 'memory', s.memory), vcpus: s.vcpus, diskSize: bytes(pointer, 'diskSize', s.diskSize),
    diskCount: s.diskCount, nicCount: s.nicCount, spindleUse: s.spindleUse,
  });
  function bytes(pointer: string, field: string, v: PolicySpecDoc['memory']): number {
    const b = parseQuantity(v);
    if (b === undefined) error(`${pointer}/${field}`, `${show(v)} ${QUANTITY_HINT}`);
    return b ?? Number.NaN;
  }
  const ranges: SpecRange[] | undefined = p.instanceSpecs?.map((r, i) => {
    const at = `/spec/policy/instanceSpecs/${i}`;
    const range = { min: spec(`${at}/min`, r.min), max: spec(`${at}/max`, r.max) };
    for (const f of FIELDS) {
      if (range.min[f] > range.max[f]) error(`${at}/min/${f}`, `${show(r.min[f])} is more than max.${f} ${show(r.max[f])}`);
    }
    return range;
  });
  const std = p.standardSpec && spec('/spec/policy/standardSpec', p.standardSpec);
  // A warning: gnt-cluster refuses such a policy, yet Ganeti's own test data has one (hspace-tiered-ipolicy).
  if (std && ranges && !ranges.some((r) => within(std, r))) {
    diags.warning(where(m, '/spec/policy/standardSpec'), `${m.title}: spec.policy.standardSpec: lies within none of policy.instanceSpecs, so capacity counts instances no new placement may have`);
  }
  return {
    vcpuRatio: p.vcpuRatio, memoryOvercommit: p.memoryOvercommit, redundancy: p.redundancy,
    ...(p.spindleRatio !== undefined && { spindleRatio: p.spindleRatio }),
    ...(p.diskTemplates && { diskTemplates: p.diskTemplates }),
    ...(ranges && { instanceSpecs: ranges }),
    ...(std && { standardSpec: std }),
  };
}

/** Whether every field of `s` lies within the range (Ganeti's ipolicy check for one minmax pair). */
export function within(s: InstanceSpecLimits, r: SpecRange): boolean {
  return FIELDS.every((f) => s[f] >= r.min[f] && s[f] <= r.max[f]);
}
