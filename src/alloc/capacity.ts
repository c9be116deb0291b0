/**
 * Capacity (hspace's job): how many more instances of a spec fit, placing them one by one exactly as
 * the planner would (best score, hard rules, N+1 kept strictly), until one does not fit. Two
 * independent runs from the same start, as hspace does:
 * - standard: a fixed spec;
 * - tiered: start from a (large) spec; when it stops fitting, shrink the resource that failed most by
 *   Ganeti's unit (64 MiB memory, 256 MiB disk, 1 vCPU) and go on, until nothing fits.
 * Unlike hspace (its default "capacity checks"), we do not also require that every node could be
 * evacuated after each step: the count is what N+1 and the hard rules allow.
 */
import type { FailMode, Refusal } from '../model/causes.ts';
import type { ClusterModel, InstanceModel } from './model.ts';
import { Allocator, failModes, refusalText } from './allocator.ts';
import { policyViolation, violationText } from './policy.ts';

export interface CapacitySpec {
  readonly memory: number; // bytes
  readonly disk: number; // bytes
  readonly vcpus: number;
  /** 'diskless' only exists for Ganeti files (no local disk). */
  readonly template: 'plain' | 'replicated' | 'diskless';
}

export interface CapacityPlacement { readonly name: string; readonly spec: CapacitySpec; readonly primary: string; readonly secondary?: string }

export interface CapacityRun {
  /** Instances placed. */
  readonly count: number;
  /** Why the next one did not fit (the allocator's refusal, as text). */
  readonly stoppedBy: string;
  /** The resource that ran out first: memory, disk, vcpus, N+1, or other. */
  readonly limitingResource: 'memory' | 'disk' | 'vcpus' | 'N+1' | 'policy' | 'other' | 'limit';
  /** For tiered runs: each spec reached and how many of it (hspace's TSPEC). */
  readonly tiers: readonly { readonly spec: CapacitySpec; readonly count: number }[];
  readonly placements: readonly CapacityPlacement[];
  /** Cluster score after the run. */
  readonly score: number;
}

export interface CapacityOptions {
  /** Stop after this many (hspace -l). */
  readonly maxInstances?: number;
  /** Name prefix of the simulated instances (default `capacity-`). */
  readonly prefix?: string;
}

const MiB = 2 ** 20;
/** Ganeti's shrink units (htools Types.hs unitMem, unitDsk, unitCpu). */
const UNIT = { memory: 64 * MiB, disk: 256 * MiB, vcpus: 1 } as const;

const RESOURCE: Readonly<Partial<Record<FailMode, CapacityRun['limitingResource']>>> = {
  memory: 'memory', disk: 'disk', spindles: 'disk', vcpus: 'vcpus', 'n+1': 'N+1',
};

/** The resource behind the mode that turned most nodes down (ties: the allocator's order of checks). */
function resourceOf(r: Refusal): CapacityRun['limitingResource'] {
  const first = r.kind === 'no-node' ? failModes(r.counts)[0] : undefined;
  return (first && RESOURCE[first]) ?? 'other';
}

function instanceOf(spec: CapacitySpec, name: string): InstanceModel {
  const template = spec.template === 'replicated' ? 'replicated' : 'plain';
  return {
    name, memory: spec.memory, vcpus: spec.vcpus, disk: spec.disk, template, running: true, antiAffinity: [],
    ...(spec.template === 'diskless' ? { diskless: true } : {}),
  };
}

/**
 * A spec the cluster's instance policy forbids places nothing (hspace refuses it too). Per-group
 * policies are not consulted here: the cluster's is the one capacity is asked against.
 */
function refusedByPolicy(model: ClusterModel, spec: CapacitySpec): CapacityRun | undefined {
  const pol = model.policy.instancePolicy;
  const v = pol ? policyViolation(instanceOf(spec, 'spec'), pol) : undefined;
  if (!v) return undefined;
  return { count: 0, stoppedBy: `the instance policy forbids the spec: ${violationText(v)}`, limitingResource: 'policy', tiers: [], placements: [], score: new Allocator(model).score() };
}

/** hspace standard mode: identical instances until one does not fit. */
export function capacityStandard(model: ClusterModel, spec: CapacitySpec, opts: CapacityOptions = {}): CapacityRun {
  const refused = refusedByPolicy(model, spec);
  if (refused) return refused;
  const a = new Allocator(model, { n1: 'strict' });
  const prefix = opts.prefix ?? 'capacity-';
  const max = opts.maxInstances ?? Infinity;
  const placements: CapacityPlacement[] = [];
  let stoppedBy = 'limit reached', limiting: CapacityRun['limitingResource'] = 'limit';
  while (placements.length < max) {
    const name = `${prefix}${placements.length + 1}`;
    const r = a.place(instanceOf(spec, name));
    if (!r.ok) {
      stoppedBy = refusalText(r.refusal);
      limiting = resourceOf(r.refusal);
      break;
    }
    placements.push({ name, spec, primary: r.primary, ...(r.secondary ? { secondary: r.secondary } : {}) });
  }
  return { count: placements.length, stoppedBy, limitingResource: limiting, tiers: [{ spec, count: placements.length }], placements, score: a.score() };
}

/** hspace tiered mode: shrink the failing resource by a unit whenever the current spec stops fitting. */
export function capacityTiered(model: ClusterModel, start: CapacitySpec, opts: CapacityOptions = {}): CapacityRun {
  const a = new Allocator(model, { n1: 'strict' });
  const prefix = opts.prefix ?? 'capacity-';
  const max = opts.maxInstances ?? Infinity;
  const placements: CapacityPlacement[] = [];
  const tiers: { spec: CapacitySpec; count: number }[] = [];
  let spec = start, stoppedBy = 'limit reached', limiting: CapacityRun['limitingResource'] = 'limit';
  let firstFailure: CapacityRun['limitingResource'] | undefined;
  while (placements.length < max) {
    const refused = refusedByPolicy(model, spec);
    if (refused) { stoppedBy = refused.stoppedBy; limiting = 'policy'; break; }
    const name = `${prefix}${placements.length + 1}`;
    const r = a.place(instanceOf(spec, name));
    if (r.ok) {
      placements.push({ name, spec, primary: r.primary, ...(r.secondary ? { secondary: r.secondary } : {}) });
      const last = tiers[tiers.length - 1];
      if (last && last.spec === spec) last.count++;
      else tiers.push({ spec, count: 1 });
      continue;
    }
    const res = resourceOf(r.refusal);
    firstFailure ??= res;
    stoppedBy = refusalText(r.refusal);
    // N+1 is a memory shortage on the secondaries; anything else cannot be shrunk away.
    const shrink = res === 'N+1' ? 'memory' : res;
    if (shrink !== 'memory' && shrink !== 'disk' && shrink !== 'vcpus') { limiting = res; break; }
    const next = { ...spec, [shrink]: spec[shrink] - UNIT[shrink] };
    if (next[shrink] < UNIT[shrink]) { limiting = res; break; }
    spec = next;
  }
  return { count: placements.length, stoppedBy, limitingResource: firstFailure ?? limiting, tiers, placements, score: a.score() };
}
