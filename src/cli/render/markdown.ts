/**
 * A plan as a merge-request comment: a summary line, a table of operations, then what is pending,
 * the warnings and the drift a run would correct. Plain GitHub/GitLab-flavoured markdown.
 */
import type { DriftItem } from '../../plan/drift.ts';
import type { Plan } from '../../plan/index.ts';
import type { GitInfo } from '../../store/types.ts';
import { describeCause } from '../../plan/reasons.ts';
import { allOperations, describe, summaryLine, waveLines } from './plan.ts';

export function renderPlanMarkdown(p: Plan, now: number, git: GitInfo | undefined, drift: readonly DriftItem[], unasked = 0): string {
  const at = git ? ` at \`${git.commit.slice(0, 12)}\`${git.dirty ? ' (uncommitted changes)' : ''}` : '';
  const all = allOperations(p);
  const head = p.errors.length ? `### ❌ Drover plan${at}: ${p.errors.length} error(s)`
    : all.length ? `### Drover plan${at}: ${all.length} operation(s)`
    : unasked ? `### ⚠️ Drover plan${at}: no changes on the nodes that answered, ${unasked} could not be asked` : `### ✅ Drover plan${at}: no changes`;
  const lines = [head, ''];
  if (all.length) lines.push(`**${summaryLine(all)}**`, '');
  for (const e of p.errors) lines.push(`- **error**: ${e.source ? `\`${e.source.file}:${e.source.line}:${e.source.column}\` ` : ''}${cell(e.message)}`);
  if (p.errors.length) lines.push('');
  if (all.length) {
    const waved = Object.keys(p.waves).length > 0; // a wave column only for a rolling update
    lines.push(`| operation | instance | where | reason |${waved ? ' wave |' : ''}`, `|---|---|---|---|${waved ? '---|' : ''}`);
    for (const op of all) lines.push(`| ${op.type} | \`${op.instance}\` | ${cell(describe(op, now))} | ${cell(describeCause(op.cause))} |${waved ? ` ${p.waves[op.instance] ?? ''} |` : ''}`);
    lines.push('');
  }
  const waves = waveLines(p);
  if (waves.length) lines.push(`**${waves[0]}**`, '', ...waves.slice(1).map((w) => `- ${w.trim()}`), '');
  section(lines, 'Drift on the nodes (changed outside Drover)', drift.map((d) => `\`${d.instance}\` on ${d.node}: ${d.kind}, ${d.action === 'corrected' ? 'would be corrected' : 'left alone'}: ${d.detail}`));
  section(lines, 'Pending', p.pending.map((x) => `\`${x.instance}\`: ${describeCause(x.cause)}`));
  section(lines, 'Warnings', p.warnings);
  return lines.join('\n').trimEnd();
}

function section(lines: string[], title: string, items: readonly string[]): void {
  if (!items.length) return;
  lines.push(`<details><summary>${title} (${items.length})</summary>`, '', ...items.map((i) => `- ${cell(i)}`), '', '</details>', '');
}

/** Table cells: a `|` would end the cell, a newline the row. */
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
