import { parseArgs } from 'node:util';
import * as fs from 'node:fs';
import { plan } from '../../plan/index.ts';
import { planBasis } from '../../plan/basis.ts';
import { withLook } from '../context.ts';
import { EXIT, UsageError, type Io, STORE_OPTIONS } from '../io.ts';
import { planJson, renderPlanText, unaskedNodes, withUnasked } from '../render/plan.ts';
import type { Operation } from '../../model/operations.ts';
import type { GitInfo } from '../../store/types.ts';
import { classifyDrift } from '../../plan/drift.ts';
import { gitInfo } from '../git.ts';
import { renderPlanMarkdown } from '../render/markdown.ts';

export const usage = `drover plan [PATH...] [--json | --format text|json|markdown] [--out FILE] [--detailed-exitcode] [--prune]
  Show what apply would do; --format markdown for a merge-request comment. --out binds the saved plan
  to what it saw, and to the manifests' git commit when they are in a git work tree.
  Exit 0 (or, with --detailed-exitcode: 0 no changes, 2 changes), 1 on errors; the same for every format.`;

/** What `plan --out` writes and `apply --plan` reads. */
export interface SavedPlan {
  readonly version: 1;
  readonly paths: readonly string[];
  readonly basis: string;
  readonly prune: boolean;
  readonly createdAt: string;
  readonly operations: readonly Operation[];
  /** The manifests' commit when they are in git: apply --plan refuses another one. */
  readonly git?: GitInfo;
}

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    json: { type: 'boolean' }, format: { type: 'string' }, out: { type: 'string' }, 'detailed-exitcode': { type: 'boolean' }, prune: { type: 'boolean' }, ...STORE_OPTIONS,
  } });
  const format = values.format ?? (values.json ? 'json' : 'text');
  if (!['text', 'json', 'markdown'].includes(format)) throw new UsageError(`--format: "${format}" is not one of text, json, markdown`);
  const code = await withLook(positionals, values, io, async ({ desired, store, observed }) => {
    const now = Date.now();
    const unasked = unaskedNodes(desired, observed);
    const p = withUnasked(plan({ desired, observed, store, now, prune: !!values.prune }), unasked);
    const paths = positionals.length ? positionals : ['manifests'];
    const git = await gitInfo(paths);
    if (format === 'json') io.out(JSON.stringify({ ...planJson(p), unreachable: unasked, drift: classifyDrift(p, observed, store).map(({ op: _, ...d }) => d), ...(git && { git }) }));
    else if (format === 'markdown') io.out(renderPlanMarkdown(p, now, git, classifyDrift(p, observed, store), unasked.length));
    else io.out(renderPlanText(p, now, unasked.length));
    if (values.out && p.errors.length === 0) {
      const saved: SavedPlan = { version: 1, paths, basis: planBasis(desired, observed, store), prune: !!values.prune, createdAt: new Date(now).toISOString(), operations: p.operations, ...(git && { git }) };
      fs.writeFileSync(values.out, JSON.stringify(saved, null, 1));
      if (format === 'text') io.out(`Saved the plan to ${values.out}${git ? ` (commit ${git.commit.slice(0, 12)}${git.dirty ? ', uncommitted changes' : ''})` : ''}; apply exactly it with: drover apply --plan ${values.out}`);
    }
    if (p.errors.length) return EXIT.error;
    return values['detailed-exitcode'] && (p.operations.length || p.deferred.length) ? EXIT.changes : EXIT.ok;
  });
  return code ?? EXIT.error;
}
