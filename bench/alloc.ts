/**
 * alloc/ against the real htools, side by side on the same clusters:
 * - balance: Drover's balance() vs `hbal` on generated clusters (test/support/gen.ts: skewed 10- and
 *   40-node shapes with several seeds, 100 and 1,000 nodes), hbal under a wall-time cap (it needs
 *   ~18 CPU-s per move at 100 nodes); every end state scored by hcheck --no-simulation, the worst case
 *   against hbal, and how far Drover's reported score is from hcheck's;
 * - capacity: capacityStandard vs `hspace --simulate` under Ganeti's default ipolicy (spindle-bound)
 *   and with relaxed spindles, at 10 and 50 nodes, capped;
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
  Allocator, balance, capacityStandard, formatGanetiText, ganetiToModel, withPlacements, type BalanceOptions, type ClusterModel,
  type InstanceModel, type NodeModel,
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

/** hcheck --no-simulation's score of a one-group file. */
function hcheckScore(file: string, capS: number): number {
  const r = runCapped([`${HTOOLS_BIN}/hcheck`, '-t', file, '--machine-readable', '--no-simulation'], capS);
  return Number(/HCHECK_INIT_GROUP_0_SCORE=(\S+)/.exec(r.out)?.[1] ?? NaN);
}

interface BalanceRow { shape: string; who: string; moves: number; score: number; reported?: number; ms: number; note: string }

/**
 * One generated cluster: hbal (capped), Drover to convergence, and Drover capped at hbal's moves; every
 * end state scored by hcheck, and Drover's own reported score beside it.
 */
function benchBalance(n: number, perNode: number, seed: number, dir: string, capS: number): BalanceRow[] {
  const gc = generateCluster(n, perNode, seed);
  const shape = `${n} nodes, ${perNode}/node, seed ${seed}`;
  const file = join(dir, `gen${n}-${perNode}-${seed}.data`);
  writeFileSync(file, formatGanetiText(gc));
  const model = ganetiToModel(gc, file);
  const h = runCapped([`${HTOOLS_BIN}/hbal`, '-t', file], capS);
  const steps = [...h.out.matchAll(/^\s+\d+\. \S+\s+\S+ => \S+\s+(\S+) a=/gm)].map((m) => Number(m[1]));
  const initial = Number(/Initial score: (\S+)/.exec(h.out)?.[1] ?? NaN);
  const rows: BalanceRow[] = [{
    shape, who: 'hbal', moves: steps.length, score: steps.length > 0 ? steps[steps.length - 1]! : initial, ms: h.ms,
    note: h.done ? 'finished' : `capped at ${capS} s`,
  }];
  const ours = (opts: BalanceOptions, note: string): BalanceRow => {
    const t = timed(() => balance(model, opts));
    const out = join(dir, `gen${n}-${perNode}-${seed}-${rows.length}.data`);
    writeFileSync(out, formatGanetiText(withPlacements(gc, t.value.placements)));
    return { shape, who: 'drover', moves: t.value.moves.length, score: hcheckScore(out, capS), reported: t.value.finalScore, ms: t.ms, note };
  };
  rows.push(ours({}, 'converged'));
  if (steps.length > 0 && steps.length < rows[1]!.moves) rows.push(ours({ maxMoves: steps.length }, `at hbal's ${steps.length} moves`));
  return rows;
}

const f8 = (x: number): string => (Number.isNaN(x) ? '—' : x.toFixed(8));

function balanceTable(rows: readonly BalanceRow[]): string[] {
  const out = [`  ${'cluster'.padEnd(27)} ${'tool'.padEnd(7)} ${'moves'.padStart(6)} ${'score (hcheck)'.padStart(14)} ${'wall'.padStart(7)}  note`];
  for (const r of rows) out.push(`  ${r.shape.padEnd(27)} ${r.who.padEnd(7)} ${String(r.moves).padStart(6)} ${f8(r.score).padStart(14)} ${fmt(r.ms).padStart(7)}  ${r.note}`);
  // Worst case: Drover's score minus hbal's, Drover held to no more moves than hbal made (< 0: better).
  let worst = -Infinity, where = '';
  for (const h of rows.filter((r) => r.who === 'hbal' && r.moves > 0)) {
    const d = rows.filter((r) => r.shape === h.shape && r.who === 'drover' && r.moves <= h.moves);
    const gap = Math.min(...d.map((r) => r.score)) - h.score;
    if (gap > worst) { worst = gap; where = h.shape; }
  }
  out.push(`  worst case, Drover − hbal at no more moves than hbal: ${worst === -Infinity ? '—' : `${worst.toFixed(8)} (${where})`}`);
  const agree = rows.filter((r) => r.reported !== undefined).map((r) => Math.abs(r.reported! - r.score));
  out.push(`  score agreement, Drover's reported vs hcheck's, ${agree.length} balanced clusters: max |Δ| = ${Math.max(...agree).toExponential(2)}`);
  return out;
}

function benchCapacity(n: number, spindles: number, capS: number): string {
  const args = [`--simulate=p,${n},1t,64g,16,${spindles}`, '--disk-template=drbd', '--standard-alloc=20g,3g,2', '--tiered-alloc=20g,3g,2', '--machine-readable'];
  const h = runCapped([`${HTOOLS_BIN}/hspace`, ...args], capS);
  const std = /HTS_ALLOC_INSTANCES=(\d+)/.exec(h.out)?.[1];
  const model = ganetiToModel(simulatedCluster(n, 1024 * 1024, 64 * 1024, 16, spindles));
  const ours = timed(() => capacityStandard(model, { memory: 3 * GiB, disk: 20 * GiB, vcpus: 2, template: 'replicated' }));
  const theirs = h.done && std ? `${std.padStart(5)} in ${fmt(h.ms).padStart(6)}` : `did not finish in ${capS} s`;
  const diff = h.done && std ? ` (${(((ours.value.count - Number(std)) / Number(std)) * 100).toFixed(1)} %, ${ratio(h.ms, ours.ms)} faster)` : '';
  return `  ${String(n).padStart(4)} nodes, ${spindles === 1 ? 'default ipolicy (1 spindle × ratio 32)' : `relaxed spindles (${spindles} × 32)`.padEnd(38)}  hspace ${theirs} | drover ${String(ours.value.count).padStart(5)} (${ours.value.limitingResource}) in ${fmt(ours.ms).padStart(6)}${diff}`;
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
  lines.push(`balance: generated clusters (test/support/gen.ts), every end state scored by hcheck --no-simulation; hbal capped at ${capS} s`);
  const shapes: [number, number, number][] = [[10, 10, 1], [10, 10, 2], [10, 10, 3], [10, 20, 1], [40, 10, 1], [40, 8, 3], [40, 20, 1], [100, 20, 1], [1000, 20, 1]];
  lines.push(...balanceTable(shapes.flatMap(([n, per, seed]) => benchBalance(n, per, seed, dir, capS))));
  lines.push(`capacity: DRBD 3G/20G/2 vcpus onto empty nodes of 64G/1T/16 cpus (hspace --simulate, capped at ${capS} s)`);
  for (const n of [10, 50]) for (const sp of [1, 8]) lines.push(benchCapacity(n, sp, capS));
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const cap = process.argv[2] !== undefined ? Number(process.argv[2]) : undefined;
  for (const line of await benchAlloc(cap)) console.log(line);
}
