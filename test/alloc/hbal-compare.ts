/** Runs our balance and the real hbal on one text file; both final scores as hinfo/hbal see them. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatGanetiText, parseGanetiText } from '../../src/alloc/ganeti-text.ts';
import { ganetiToModel, withPlacements } from '../../src/alloc/ganeti-model.ts';
import { balance, type BalanceOptions } from '../../src/alloc/balance.ts';
import { hinfoScore, runTool } from '../support/htools.ts';

export interface HbalRun { readonly initial: number; readonly final: number; readonly moves: number; readonly ms: number; readonly timedOut: boolean }

export function runHbal(file: string, args: readonly string[] = [], timeoutMs = 60_000): HbalRun {
  const r = runTool('hbal', ['-t', file, ...args], timeoutMs);
  const initial = Number(/Initial score: (\S+)/.exec(r.stdout)?.[1] ?? NaN);
  const steps = [...r.stdout.matchAll(/^\s+\d+\. \S+\s+\S+ => \S+\s+(\S+) a=/gm)];
  const final = steps.length > 0 ? Number(steps[steps.length - 1]![1]) : initial;
  return { initial, final, moves: steps.length, ms: r.ms, timedOut: r.timedOut };
}

export interface OursRun { readonly initial: number; readonly final: number; readonly judged: number; readonly moves: number; readonly ms: number; readonly file: string }

/** Balances with Drover, writes the result as a text file and lets hinfo score it. */
export function runOurs(file: string, opts: BalanceOptions = {}): OursRun {
  const text = readFileSync(file, 'utf8');
  const gc = parseGanetiText(text, file);
  const model = ganetiToModel(gc, file);
  const t0 = performance.now();
  const res = balance(model, opts);
  const ms = performance.now() - t0;
  const out = join(mkdtempSync(join(tmpdir(), 'drover-bal-')), 'balanced.data');
  writeFileSync(out, formatGanetiText(withPlacements(gc, res.placements)));
  return { initial: res.initialScore, final: res.finalScore, judged: hinfoScore(out), moves: res.moves.length, ms, file: out };
}
