import { parseArgs } from 'node:util';
import * as fs from 'node:fs';
import { plan } from '../../plan/index.ts';
import { planBasis } from '../../plan/basis.ts';
import { withLook } from '../context.ts';
import { EXIT, type Io } from '../io.ts';
import { planJson, renderPlanText } from '../render/plan.ts';
import type { Operation } from '../../model/operations.ts';

export const usage = `drover plan [PATH...] [--json] [--out FILE] [--detailed-exitcode] [--prune]
  Show what apply would do. Exit 0 (or, with --detailed-exitcode: 0 no changes, 2 changes), 1 on errors.`;

/** What `plan --out` writes and `apply --plan` reads. */
export interface SavedPlan {
  readonly version: 1;
  readonly paths: readonly string[];
  readonly basis: string;
  readonly prune: boolean;
  readonly createdAt: string;
  readonly operations: readonly Operation[];
}

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    json: { type: 'boolean' }, out: { type: 'string' }, 'detailed-exitcode': { type: 'boolean' }, prune: { type: 'boolean' }, 'state-dir': { type: 'string' },
  } });
  const code = await withLook(positionals, values['state-dir'], io, async ({ desired, store, observed }) => {
    const now = Date.now();
    const p = plan({ desired, observed, store, now, prune: !!values.prune });
    io.out(values.json ? JSON.stringify(planJson(p)) : renderPlanText(p, now));
    if (values.out && p.errors.length === 0) {
      const saved: SavedPlan = { version: 1, paths: positionals.length ? positionals : ['manifests'], basis: planBasis(desired, observed, store), prune: !!values.prune, createdAt: new Date(now).toISOString(), operations: p.operations };
      fs.writeFileSync(values.out, JSON.stringify(saved, null, 1));
      if (!values.json) io.out(`Saved the plan to ${values.out}; apply exactly it with: drover apply --plan ${values.out}`);
    }
    if (p.errors.length) return EXIT.error;
    return values['detailed-exitcode'] && p.operations.length ? EXIT.changes : EXIT.ok;
  });
  return code ?? EXIT.error;
}
