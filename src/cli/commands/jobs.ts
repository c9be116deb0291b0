import { parseArgs } from 'node:util';
import { Store } from '../../store/store.ts';
import type { JobRecord } from '../../store/types.ts';
import { EXIT, locationOf, STORE_OPTIONS, type Io } from '../io.ts';
import { table } from '../render/table.ts';
import { recoveryText } from '../render/plan.ts';
import { shortGit } from '../git.ts';

export const usage = `drover jobs [--json] [--last N]
  The journal of operations: id, type, instance, start, end, result, the manifests' git commit
  (+dirty) of the run, the drift (a change made outside Drover) an operation corrected, and the
  addresses and MACs an operation made an instance's container with.`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, last: { type: 'string' }, ...STORE_OPTIONS } });
  const store = await Store.open(locationOf(values), { readOnly: true });
  const jobs = [...store.jobs.values()].sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : 1));
  const shown = values.last ? jobs.slice(-Number(values.last)) : jobs;
  if (values.json) { io.out(JSON.stringify({ jobs: shown })); return EXIT.ok; }
  if (!shown.length) { io.out('No jobs yet.'); return EXIT.ok; }
  const iso = (t?: number) => (t ? new Date(t).toISOString().replace('T', ' ').slice(0, 23) : '-');
  io.out(table(['ID', 'Type', 'Instance', 'Start', 'End', 'Result', 'Commit', 'Detail'], shown.map((j) => [
    j.id, j.type, j.instance, iso(j.start), iso(j.end), j.result + (j.resumed ? ` (resumed ×${j.resumed})` : ''), shortGit(j.git) || '-',
    (j.drift ? `drift ${j.drift.kind}: ${j.drift.detail}` : '') + (j.drift && (j.error ?? '') ? '; ' : '') + (j.error ?? (j.drift ? '' : reasonOf(j))) + (j.note ? ` [${j.note}]` : '') + (j.recovery ? ` [recovery point: ${recoveryText(j.recovery)}]` : '') + (j.nics ? ` (${j.nics.map((n) => `${n.network} ${n.ip} ${n.mac}`).join(', ')})` : ''),
  ])));
  return EXIT.ok;
}

/** "spec changed: memory 1G → 768M": the reason, with the fields an operation changed. */
const reasonOf = (j: JobRecord): string =>
  j.reason + (j.changes ? `: ${j.changes.map((c) => `${c.path} ${c.from} → ${c.to}`).join(', ')}` : '');
