/**
 * The issue-11 round trip at sizes too slow for the tests (100, 1,000 nodes): a generated cluster
 * (test/support/gen.ts; --over-committed: vcpu ratio 2 and spindle ratio 64, which its hot nodes
 * break) → drover import ganeti (placements adopted) → balance → apply → export, on the sim backend,
 * each step timed; then Ganeti's hcheck --no-simulation on the imported and the exported file.
 *
 *   node --import tsx scripts/adopt-roundtrip.ts 1000 [--over-committed] [--apply-first]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatGanetiText } from '../src/alloc/ganeti-text.ts';
import { generateCluster } from '../test/support/gen.ts';
import { ensureHtools, runTool } from '../test/support/htools.ts';

const BIN = fileURLToPath(new URL('../bin/drover.js', import.meta.url));
const n = Number(process.argv[2] ?? 100);
const over = process.argv.includes('--over-committed');
const dir = mkdtempSync(path.join(tmpdir(), 'drover-adopt-'));
const [file, m, state, out] = ['in.data', 'm', 'state', 'out.data'].map((f) => path.join(dir, f)) as [string, string, string, string];

/** Runs drover; exit 1 is fine for verify (it has findings). */
function drover(args: string[]): string {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, DROVER_STATE_DIR: '' } });
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0 && !(args[0] === 'verify' && r.status === 1)) throw new Error(`drover ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  const summary = [...r.stderr.split('\n'), ...r.stdout.split('\n')].find((l) => /^(Imported|Cluster |Apply )/.test(l)) ?? '';
  console.log(`drover ${args[0]} (${s} s): ${summary.slice(0, 200)}`);
  return r.stdout;
}

function hcheck(f: string): string {
  const r = runTool('hcheck', ['-t', f, '--no-simulation', '--machine-readable'], 600_000);
  return /HCHECK_INIT_GROUP_0_SCORE=(\S+)/.exec(r.stdout)?.[1] ?? `none (timed out: ${r.timedOut})`;
}

ensureHtools();
const g = generateCluster(n);
writeFileSync(file, formatGanetiText(over ? { ...g, policies: g.policies!.map((p) => ({ ...p, vcpuRatio: 2, spindleRatio: 64 })) } : g));
console.log(`${n} nodes, ${g.instances.length} instances${over ? ', over-committed (vcpu ratio 2, spindle ratio 64)' : ''}; in ${dir}`);
drover(['import', 'ganeti', file, '--out', m, '--state-dir', state]);
const before = JSON.parse(drover(['verify', '--json', m, '--state-dir', state]).trim() || '{}') as { findings?: { code: string }[] };
const count = (codes: readonly string[]): string => Object.entries(codes.reduce<Record<string, number>>((a, c) => ((a[c] = (a[c] ?? 0) + 1), a), {})).map(([k, v]) => `${k} ${v}`).join(', ');
console.log(`verify after import: ${count((before.findings ?? []).map((f) => f.code).filter((c) => c.startsWith('EPOLICY') || c === 'ENODEN1')) || 'no policy or N+1 findings'}`);
if (process.argv.includes('--apply-first')) drover(['apply', '--yes', m, '--state-dir', state]);
const bal = JSON.parse(drover(['balance', '--json', m, '--state-dir', state])) as { clusters: { initialScore: number; finalScore: number; moves: unknown[] }[] };
const c = bal.clusters[0]!;
console.log(`balance: ${c.initialScore.toFixed(8)} → ${c.finalScore.toFixed(8)} in ${c.moves.length} moves`);
drover(['apply', '--yes', m, '--state-dir', state]);
drover(['export', 'ganeti', m, '--state-dir', state, '--out', out]);
const after = JSON.parse(drover(['verify', '--json', m, '--state-dir', state]).trim() || '{}') as { findings?: { code: string }[] };
console.log(`verify after balance + apply: ${count((after.findings ?? []).map((f) => f.code)) || 'no findings'}`);
console.log(`hcheck --no-simulation: imported file ${hcheck(file)} (balance started from ${c.initialScore.toFixed(8)}), exported file ${hcheck(out)} (balance promised ${c.finalScore.toFixed(8)})`);
