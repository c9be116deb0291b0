/** Runs our capacity and the real hspace on one text file with the same spec. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatGanetiText, parseGanetiText, type GanetiCluster, type GanetiInstance } from '../../src/alloc/ganeti-text.ts';
import { ganetiToModel, MiB } from '../../src/alloc/ganeti-model.ts';
import { capacityStandard, capacityTiered, type CapacityRun, type CapacitySpec } from '../../src/alloc/capacity.ts';
import { parseHspace, runTool } from '../support/htools.ts';

export interface HspaceRun { readonly standard: number; readonly tiered: number; readonly reason: string; readonly spec?: CapacitySpec; readonly tieredStart?: CapacitySpec; readonly ms: number; readonly timedOut: boolean; readonly keys: Map<string, string> }

const TEMPLATE: Record<string, CapacitySpec['template']> = { drbd: 'replicated', plain: 'plain', diskless: 'diskless' };

export function runHspace(file: string, args: readonly string[] = [], timeoutMs = 60_000): HspaceRun {
  const r = runTool('hspace', ['-t', file, '--machine-readable', ...args], timeoutMs);
  const k = parseHspace(r.stdout);
  const t = TEMPLATE[k.get('SPEC_DISK_TEMPLATE') ?? ''];
  const spec = t && k.has('SPEC_MEM') ? { memory: Number(k.get('SPEC_MEM')) * MiB, disk: Number(k.get('SPEC_DSK')) * MiB, vcpus: Number(k.get('SPEC_CPU')), template: t } : undefined;
  const tieredStart = t && k.has('TSPEC_INI_MEM') ? { memory: Number(k.get('TSPEC_INI_MEM')) * MiB, disk: Number(k.get('TSPEC_INI_DSK')) * MiB, vcpus: Number(k.get('TSPEC_INI_CPU')), template: t } : undefined;
  const ini = Number(k.get('INI_INST_CNT') ?? 0);
  return {
    standard: Number(k.get('ALLOC_INSTANCES') ?? NaN), tiered: Number(k.get('TRL_INST_CNT') ?? NaN) - ini, reason: k.get('ALLOC_FAIL_REASON') ?? '',
    ...(spec ? { spec } : {}), ...(tieredStart ? { tieredStart } : {}), ms: r.ms, timedOut: r.timedOut, keys: k,
  };
}

/** Our standard and tiered runs, and the standard result written back as a text file (for hcheck). */
export function runCapacity(gc: GanetiCluster, spec: CapacitySpec, tieredStart?: CapacitySpec): { standard: CapacityRun; tiered?: CapacityRun; file: string; ms: number } {
  const model = ganetiToModel(gc);
  const t0 = performance.now();
  const standard = capacityStandard(model, spec);
  const tiered = tieredStart ? capacityTiered(model, tieredStart) : undefined;
  const ms = performance.now() - t0;
  const added: GanetiInstance[] = standard.placements.map((p) => ({
    name: p.name, memory: p.spec.memory / MiB, disk: p.spec.disk / MiB, vcpus: p.spec.vcpus, status: 'running', autoBalance: true,
    primary: p.primary, secondary: p.secondary ?? '', template: spec.template === 'replicated' ? 'drbd' : spec.template,
    tags: [], spindleUse: 1, diskSpindles: '-', forthcoming: false, columns: 13,
  }));
  // Nodes' free memory and disk after the new instances, as the file reports them.
  const mem = new Map<string, number>(), dsk = new Map<string, number>();
  for (const i of added) {
    mem.set(i.primary, (mem.get(i.primary) ?? 0) + i.memory);
    if (spec.template !== 'diskless') {
      dsk.set(i.primary, (dsk.get(i.primary) ?? 0) + i.disk);
      if (i.secondary) dsk.set(i.secondary, (dsk.get(i.secondary) ?? 0) + i.disk);
    }
  }
  const out: GanetiCluster = {
    ...gc,
    nodes: gc.nodes.map((n) => ({ ...n, freeMemory: n.freeMemory - (mem.get(n.name) ?? 0), freeDisk: n.freeDisk - (dsk.get(n.name) ?? 0) })),
    instances: [...gc.instances, ...added],
  };
  const file = join(mkdtempSync(join(tmpdir(), 'drover-cap-')), 'capacity.data');
  writeFileSync(file, formatGanetiText(out));
  return { standard, ...(tiered ? { tiered } : {}), file, ms };
}

export function loadText(file: string): GanetiCluster {
  return parseGanetiText(readFileSync(file, 'utf8'), file);
}
