/**
 * The crash soak: rounds of `drover apply --yes --json` (a child process, the real CLI) on a cluster of
 * 30 instances while the soak, at random moments, SIGKILLs the master (by its pid), kills and later
 * restores a node, and edits the manifests (memory, running/stopped, add, remove, pin elsewhere, a group's rolling update). After
 * each round a final apply runs to completion and the invariants are checked against the nodes themselves
 * (the sim's world read-only, or every Docker engine through its unix socket), not only against `status`:
 *   1. every wanted instance runs exactly once, on a healthy node, as its manifest says (running/stopped);
 *   2. never two running copies at any moment (the nodes are polled every ~200 ms during the round);
 *   3. a replicated instance's replica is on its secondary and not degraded;
 *   4. no volume lost: what a replica held after the previous round is still on the primary;
 *   5. no orphan left unreported: `plan --json` after convergence has no operations (but periodic
 *      re-syncs) and no warnings;
 *   6. the journal accounts for every operation: no job left `running`, every job a killed master
 *      left in flight shows `resumed`.
 *   7. disruption budgets: no more than reconcile.maxUnavailable members of an antiAffinity group are
 *      taken down by Drover at once (journal spans of recreates, cold moves and migrations), across
 *      master kills. Every third round is a rolling update: all running members of one group change
 *      memory, and the master is killed in the middle of it (the store's failpoint); the round must
 *      still converge (5.) with the budget kept.
 * Deterministic from its seed (the choices; timing is the machine's). Bounded by rounds and minutes.
 *
 * The parts: cluster.ts (the manifests and their edits), backends.ts (sim or docker nodes, seen directly),
 * drover.ts (the CLI's --json output, the masters), chaos.ts (a round's events, decided up front),
 * round.ts (carrying a round out and gathering its facts), invariants.ts (one pure check per invariant),
 * failover.ts (the timed node death), soak.ts (the loop).
 *
 *   node --import tsx scripts/soak/index.ts [--backend sim|docker] [--rounds N] [--minutes M] [--instances 30]
 *                                           [--seed S] [--base 70] [--failover-grace S]
 * Prints one line per round and `soak: R rounds, V violations, K master kills, N node kills, E manifest edits in T s`;
 * exits 1 when V > 0. --failover-grace S: then time a node's death until its instances run elsewhere (grace S).
 * The docker backend starts its own test bed (4 nodes at 127.0.0.(base+1..4)), torn down at the end.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSoak, type SoakOptions } from './soak.ts';

export { runSoak, type SoakOptions, type SoakResult } from './soak.ts';

const HELP = `node --import tsx scripts/soak/index.ts [--backend sim|docker] [--rounds 10] [--minutes 10] [--instances 30]
                                        [--seed 1] [--base 70] [--failover-grace S]`;

export function parse(argv: readonly string[]): SoakOptions {
  const o: Record<string, string> = {};
  for (let k = 0; k < argv.length; k += 2) {
    const a = argv[k]!;
    if (!a.startsWith('--')) throw new Error(`soak: unexpected ${a}\n${HELP}`);
    o[a.slice(2)] = argv[k + 1] ?? '';
  }
  const backend = o.backend ?? 'sim';
  if (backend !== 'sim' && backend !== 'docker') throw new Error('soak: --backend sim|docker');
  return {
    backend,
    rounds: Number(o.rounds ?? 10),
    minutes: Number(o.minutes ?? 10),
    instances: Number(o.instances ?? 30),
    seed: Number(o.seed ?? 1),
    base: Number(o.base ?? 70),
    ...(o['failover-grace'] !== undefined && { measureFailover: Number(o['failover-grace']) }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--help') || process.argv.includes('-h')) { console.log(HELP); process.exit(0); }
  const opts = parse(process.argv.slice(2));
  console.log(`soak: ${opts.backend}, up to ${opts.rounds} rounds or ${opts.minutes} min, ${opts.instances} instances, seed ${opts.seed}`);
  const r = await runSoak(opts);
  process.exit(r.violations.length ? 1 : 0);
}
