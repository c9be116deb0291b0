/**
 * Standby takeover with the etcd store: two `drover watch --store etcd://...` masters on the sim
 * backend against a real etcd (Debian's etcd-server, started on a free port); the active one is
 * killed with -9 mid-apply; the figure is kill → the standby's first operation (from the journal).
 * It is bounded by the lease: etcd expires it 15 s after the last keep-alive (renewed every 5 s),
 * so 10–15 s plus the standby's start (poll 250 ms, load, observe, resume).
 * Standalone: `node --import tsx bench/etcd.ts`.
 */
import { startEtcd } from '../test/etcd/helpers.ts';
import { takeover } from '../test/etcd/standby.ts';

export async function benchEtcd(runs = 2): Promise<string[]> {
  const etcd = await startEtcd();
  const lines: string[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const t = await takeover(etcd.url);
      const resumed = t.jobs.filter((j) => j.resumed).length;
      const converged = t.planAfter.length === 0 && t.jobs.every((j) => j.result === 'succeeded');
      lines.push(`standby takeover (etcd, lease TTL 15 s): kill -9 → standby's first operation ${(t.takeoverMs / 1000).toFixed(1)} s; ${resumed} machines resumed, ${converged ? 'converged' : 'NOT converged'}`);
    }
  } finally {
    await etcd.stop();
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await benchEtcd()) console.log(line);
}
