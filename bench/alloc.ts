/**
 * alloc/ against the real htools, side by side on the same clusters, at 10, 100 and 1,000 nodes:
 * - balance: Drover's balance() vs `hbal` on a generated cluster (test/support/gen.ts, 20 DRBD instances
 *   per node, skewed), hbal under a wall-time cap (it needs ~18 CPU-s per move at 100 nodes);
 * - capacity: capacityStandard + capacityTiered vs `hspace --simulate` (ganeti.md §9.3 series D), capped;
 * - placement: 20,000 instances onto 1,000 empty nodes in one Allocator (the planner's worst case).
 * Standalone: `node --import tsx bench/alloc.ts [cap-seconds]`; the cap also comes from
 * DROVER_BENCH_HTOOLS_CAP (default 60 s per real-tool run). Installs the htools when missing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  Allocator, balance, capacityStandard, capacityTiered, formatGanetiText, ganetiToModel, type ClusterModel, type InstanceModel,
  type NodeModel,
} from '../src/alloc/index.ts';
import { generateCluster, simulatedCluster } from '../test/support/gen.ts';
import { ensureHtools, HTOOLS_BIN } from '../test/support/htools.ts';

const GiB = 2 ** 30;

interface Timed<T> { value: T; ms: number }
function timed<T>(f: () => T): Timed<T> {
  const t0 = performance.now();
  const value = f();
  return { value, ms: performance.now() - t0 };
}

/** Runs a tool under a pty (so its progress lines are flushed as they come) with a wall cap. */
function runCapped(args: readonly string[], capS: number): { out: string; ms: number; done: boolean } {
  const t0 = performance.now();
  const cmd = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-qfec', `timeout -s KILL ${capS} ${cmd}`, '/dev/null'], { encoding: 'utf8', maxBuffer: 512 * 2 ** 20, stdio: ['ignore', 'pipe', 'pipe'] });
  return { out: (r.stdout ?? '').replace(/\r/g, ''), ms: performance.now() - t0, done: r.status === 0 };
}

const fmt = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
const ratio = (theirs: number, ours: number): string => `${Math.round(theirs / Math.max(ours, 0.001))}×`;

function benchBalance(n: number, dir: string, capS: number): string[] {
  const gc = generateCluster(n);
  const file = join(dir, `gen${n}.data`);
  writeFileSync(file, formatGanetiText(gc));
  const model = ganetiToModel(gc, file);
  const ours = timed(() => balance(model));
  const h = runCapped([`${HTOOLS_BIN}/hbal`, '-t', file], capS);
  const steps = [...h.out.matchAll(/^\s+\d+\. \S+\s+\S+ => \S+\s+(\S+) a=/gm)].map((m) => Number(m[1]));
  const initial = Number(/Initial score: (\S+)/.exec(h.out)?.[1] ?? NaN);
  const hFinal = steps.length > 0 ? steps[steps.length - 1]! : initial;
  // Ours with no more moves than hbal made (in its time), for the like-for-like score.
  const same = steps.length > 0 ? timed(() => balance(model, { maxMoves: steps.length })) : undefined;
  const lines = [
    `balance ${n} nodes / ${model.instances.size} instances, initial score ${ours.value.initialScore.toFixed(4)}:`,
    `  hbal   ${h.done ? 'finished' : `capped at ${capS} s`}: ${steps.length} moves → ${hFinal.toFixed(4)} in ${fmt(h.ms)}` +
      (steps.length > 0 ? ` (${fmt(h.ms / steps.length)}/move)` : ''),
    `  drover converged: ${ours.value.moves.length} moves → ${ours.value.finalScore.toFixed(4)} in ${fmt(ours.ms)}` +
      (ours.value.moves.length > 0 ? ` (${fmt(ours.ms / ours.value.moves.length)}/move)` : ''),
  ];
  if (same) {
    lines.push(`  drover capped at hbal's ${steps.length} moves: → ${same.value.finalScore.toFixed(4)} in ${fmt(same.ms)}; ` +
      `per move ${ratio(h.ms / steps.length, same.ms / Math.max(1, same.value.moves.length))} faster`);
  }
  return lines;
}

function benchCapacity(n: number, capS: number): string[] {
  const args = [`--simulate=p,${n},2t,128g,32,8`, '--disk-template=drbd', '--standard-alloc=50g,4g,2', '--tiered-alloc=200g,16g,8', '--machine-readable'];
  const h = runCapped([`${HTOOLS_BIN}/hspace`, ...args], capS);
  const std = /HTS_ALLOC_INSTANCES=(\d+)/.exec(h.out)?.[1];
  const tiered = /HTS_TRL_INST_CNT=(\d+)/.exec(h.out)?.[1];
  const model = ganetiToModel(simulatedCluster(n, 2 * 1024 * 1024, 128 * 1024, 32, 8));
  const spec = { memory: 4 * GiB, disk: 50 * GiB, vcpus: 2, template: 'replicated' as const };
  const ours = timed(() => ({ s: capacityStandard(model, spec), t: capacityTiered(model, { memory: 16 * GiB, disk: 200 * GiB, vcpus: 8, template: 'replicated' }) }));
  return [
    `capacity ${n} nodes (hspace --simulate=p,${n},2t,128g,32,8, drbd, 50g/4g/2, tiered from 200g/16g/8):`,
    `  hspace ${h.done && std ? `standard ${std}, tiered ${tiered} in ${fmt(h.ms)}` : `did not finish in ${capS} s`}`,
    `  drover standard ${ours.value.s.count} (${ours.value.s.limitingResource}), tiered ${ours.value.t.count} in ${fmt(ours.ms)}` +
      (h.done && std ? ` — ${ratio(h.ms, ours.ms)} faster` : ''),
  ];
}

function benchPlacement(): string[] {
  const nodes = new Map<string, NodeModel>();
  for (let i = 0; i < 1000; i++) {
    const name = `node-${String(i).padStart(4, '0')}`;
    nodes.set(name, { name, group: 'default', memory: 256 * GiB, vcpus: 64, disk: 4096 * GiB, drained: false, offline: false, labels: {} });
  }
  const model: ClusterModel = { nodes, instances: new Map(), policy: { vcpuRatio: 8, memoryOvercommit: 1, redundancy: 'n+1' } };
  const insts: InstanceModel[] = Array.from({ length: 20_000 }, (_, i) => ({
    name: `i${i}`, memory: [1, 2, 4, 8][i % 4]! * GiB, disk: [10, 20, 40, 80][i % 4]! * GiB, vcpus: [1, 2, 4, 8][i % 4]!,
    template: i % 5 === 0 ? 'plain' : 'replicated', running: true, antiAffinity: [],
  }));
  const runs = [0, 1, 2].map(() => timed(() => { const a = new Allocator(model); const r = a.placeAll(insts); return { a, placed: r.filter((x) => x.result.ok).length }; }));
  const best = Math.min(...runs.map((r) => r.ms));
  const last = runs[runs.length - 1]!.value;
  return [
    `placement: 20,000 instances (80 % replicated) onto 1,000 empty nodes, one Allocator: ${fmt(best)} (best of 3), ` +
      `${last.placed} placed, score ${last.a.score().toFixed(4)}, N+1 failures ${last.a.nPlusOneFailures().length}`,
  ];
}

export async function benchAlloc(capS = Number(process.env.DROVER_BENCH_HTOOLS_CAP ?? 60)): Promise<string[]> {
  ensureHtools();
  const dir = mkdtempSync(join(tmpdir(), 'drover-bench-alloc-'));
  const lines: string[] = [];
  lines.push(...benchPlacement());
  for (const n of [10, 100, 1000]) lines.push(...benchBalance(n, dir, capS));
  for (const n of [10, 100, 1000]) lines.push(...benchCapacity(n, capS));
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const cap = process.argv[2] !== undefined ? Number(process.argv[2]) : undefined;
  for (const line of await benchAlloc(cap)) console.log(line);
}
