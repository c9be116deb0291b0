import { parseArgs } from 'node:util';
import { breakLease, leaseStatus } from '../../store/lease.ts';
import { EXIT, locationOf, STORE_OPTIONS, UsageError, type Io } from '../io.ts';

export const usage = `drover lock [status|break]
  Who holds the cluster lease (one master acts at a time), or break it by hand.`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, ...STORE_OPTIONS } });
  const location = locationOf(values);
  const verb = positionals[0] ?? 'status';
  if (verb === 'break') { await breakLease(location); io.out('Lease broken.'); return EXIT.ok; }
  if (verb !== 'status') throw new UsageError(usage);
  const h = await leaseStatus(location);
  if (values.json) io.out(JSON.stringify({ holder: h ?? null }));
  else io.out(h ? `Held by pid ${h.pid} on ${h.host} (${h.command}) since ${new Date(h.acquiredAt).toISOString()}, expires ${new Date(h.expiresAt).toISOString()}.` : 'Free.');
  return EXIT.ok;
}
