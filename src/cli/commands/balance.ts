import { parseArgs } from 'node:util';
import { formatBytes } from '../../model/quantity.ts';
import { rebalance, type ClusterBalance } from '../../plan/rebalance.ts';
import type { StoreLocation } from '../../store/backend.ts';
import { acquireLease } from '../../store/lease.ts';
import { Store } from '../../store/store.ts';
import { withLook } from '../context.ts';
import { EXIT, STORE_OPTIONS, UsageError, type Io } from '../io.ts';
import { table } from '../render/table.ts';

export const usage = `drover balance [PATH...] [--max-moves N] [--no-disk-moves] [--dry-run] [--json]
  Find the moves (failover/migrate swaps, replace-secondary, and their combinations, as hbal makes
  them) that lower Ganeti's cluster score, fewest bytes copied first among equals. The result is
  stored as Drover's placement decisions: the next plan/apply carries the moves out.`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    'max-moves': { type: 'string' }, 'no-disk-moves': { type: 'boolean' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, ...STORE_OPTIONS,
  } });
  const maxMoves = values['max-moves'] === undefined ? undefined : Number(values['max-moves']);
  if (maxMoves !== undefined && !(Number.isInteger(maxMoves) && maxMoves >= 0)) throw new UsageError(`--max-moves wants a whole number, not "${values['max-moves']}"`);
  const code = await withLook(positionals, values, io, async ({ desired, store, observed, location }) => {
    const options = { ...(maxMoves !== undefined && { maxMoves }), ...(values['no-disk-moves'] && { noDiskMoves: true }) };
    const results = rebalance({ desired, observed, store, now: Date.now() }, [...desired.clusters.values()], options);
    if (values.json) io.out(JSON.stringify({ clusters: results.map(({ targets: _, ...r }) => ({ ...r, placements: Object.fromEntries(r.placements) })) }));
    else for (const r of results) io.out(render(r));
    if (values['dry-run']) return EXIT.ok;
    await storeTargets(location, results, io, !values.json);
    return EXIT.ok;
  });
  return code ?? EXIT.error;
}

type Result = ClusterBalance;

function render(r: Result): string {
  const head = `Cluster ${r.cluster}: score ${r.initialScore.toFixed(8)} → ${r.finalScore.toFixed(8)} in ${r.moves.length} move${r.moves.length === 1 ? '' : 's'}`;
  if (!r.moves.length) return `${head}; nothing to gain.`;
  const rows = r.moves.map((m, i) => [String(i + 1), m.instance, m.code, `${m.from.primary}:${m.from.secondary}`, `${m.to.primary}:${m.to.secondary}`, m.score.toFixed(8), formatBytes(m.dataCopied)]);
  return `${head}\n${table(['#', 'Instance', 'Move', 'From', 'To', 'Score', 'Copied'], rows)}`;
}

/** Record the decisions under the lease (apply might be running). */
async function storeTargets(location: StoreLocation, results: readonly Result[], io: Io, say: boolean): Promise<void> {
  const lease = await acquireLease(location, 'drover balance', 30_000);
  const store = await Store.open(location, { lease });
  try {
    for (const t of results.flatMap((r) => r.targets)) await store.putTarget(t);
  } finally {
    await store.close();
    await lease.release();
  }
  const n = results.reduce((a, r) => a + r.targets.length, 0);
  if (say && n) io.out(`\nStored ${n} placement decision${n === 1 ? '' : 's'}. drover plan shows the operations; drover apply carries them out.`);
}
