/**
 * The crash soak, longer than its CI form (test/soak): 10 rounds on the sim backend and 3 on a Docker test bed
 * of 4 engines (127.0.0.81-84, started and torn down here; skipped without root and dockerd), each round
 * SIGKILLing the master, killing and restoring nodes and editing the manifests while `drover apply` runs
 * (scripts/soak/). Reports rounds and invariant violations (which must be zero), and on the test bed the
 * time from a node's death (scripts/testbed kill) to all its replicated instances running elsewhere, with
 * failover.nodeDownAfter 3s and the fence script. (Manifest save → first operation: bench/watch.ts.)
 * Standalone: `node --import tsx bench/soak.ts`.
 */
import { execFileSync } from 'node:child_process';
import { runSoak, type SoakResult } from '../scripts/soak/index.ts';

const hasDocker = (): boolean => {
  if (process.getuid?.() !== 0) return false;
  try { execFileSync('sh', ['-c', 'command -v dockerd'], { stdio: 'ignore' }); return true; } catch { return false; }
};

const line = (what: string, r: SoakResult) =>
  `${what}: ${r.rounds} rounds, ${r.violations.length} violations (${r.masterKills} master kills, ${r.nodeKills} node kills, ${r.edits} manifest edits) in ${r.seconds.toFixed(0)} s`;

export async function benchSoak(): Promise<string[]> {
  const lines: string[] = [];
  const quiet = () => {};
  const sim = await runSoak({ backend: 'sim', rounds: 10, minutes: 5, instances: 30, seed: 2026, log: quiet });
  lines.push(line('soak, sim backend, 30 instances', sim));
  for (const v of sim.violations.slice(0, 10)) lines.push(`  violation: ${v}`);
  if (!hasDocker()) {
    lines.push('soak, docker backend: skipped (needs root and dockerd: scripts/ci-setup-docker)');
    return lines;
  }
  const docker = await runSoak({ backend: 'docker', rounds: 3, minutes: 6, instances: 30, seed: 2026, base: 80, measureFailover: 3, log: quiet });
  lines.push(line('soak, docker backend (4 engines), 30 instances', docker));
  for (const v of docker.violations.slice(0, 10)) lines.push(`  violation: ${v}`);
  if (docker.failover) {
    lines.push(`node death → its ${docker.failover.instances} replicated instances running elsewhere: ${(docker.failover.ms / 1000).toFixed(1)} s ` +
      `(nodeDownAfter ${docker.failover.graceS}s, fenced, apply started at the kill)`);
  } else {
    lines.push('node death → its instances running elsewhere: not measured (violations in the soak, or no failover)');
  }
  return lines;
}

if (process.argv[1]?.endsWith('bench/soak.ts')) for (const l of await benchSoak()) console.log(l);
