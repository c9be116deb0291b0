/**
 * drover: the command line. Each command is a module with `usage` and `run(argv, io)`; this file
 * only dispatches and turns unexpected errors into one clear line and exit 1.
 */
import { DriverError } from '../drivers/driver.ts';
import { StoreError } from '../store/backend.ts';
import { processIo, UsageError, EXIT, type Io } from './io.ts';

interface Command {
  readonly usage: string;
  run(argv: string[], io: Io): Promise<number>;
}

const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  validate: () => import('./commands/validate.ts'),
  plan: () => import('./commands/plan.ts'),
  apply: () => import('./commands/apply.ts'),
  watch: () => import('./commands/watch.ts'),
  status: () => import('./commands/status.ts'),
  jobs: () => import('./commands/jobs.ts'),
  balance: () => import('./commands/balance.ts'),
  capacity: () => import('./commands/capacity.ts'),
  maintenance: () => import('./commands/maintenance.ts'),
  verify: () => import('./commands/verify.ts'),
  import: () => import('./commands/import.ts'),
  export: () => import('./commands/export.ts'),
  lock: () => import('./commands/lock.ts'),
  sim: () => import('./commands/sim.ts'),
  check: () => import('./commands/check.ts'),
  logs: () => import('./commands/logs.ts'),
  console: () => import('./commands/console.ts'),
  backup: () => import('./commands/backup.ts'),
  restore: () => import('./commands/restore.ts'),
  serve: () => import('./commands/serve.ts'),
  token: () => import('./commands/token.ts'),
};

const HELP = `drover: declarative manager for a virtual data center (Ganeti's model, converged from YAML)

Usage: drover <command> [PATH...] [options]      (PATH defaults to manifests/)

Commands:
  validate   check the manifests, touch nothing
  plan       show the operations that would make the nodes match the manifests
  apply      carry them out (resumes what a killed master left in flight)
  watch      keep converging: on manifest changes, node health changes and every interval
  status     nodes and instances as they are
  jobs       the journal of operations
  balance    moves that lower Ganeti's cluster score, carried out by the next apply
  capacity   how many more instances of a spec fit, and what runs out first
  maintenance  plan: the groups of nodes that can be rebooted together (hroller)
  verify     the checks of gnt-cluster verify (N+1, policy, copies, replicas, orphans)
  import     manifests from a Ganeti htools text file (import ganeti FILE)
  export     the htools text file from the manifests and Drover's placements (export ganeti)
  lock       who holds the cluster lease; break it
  sim        fault injection on the simulated backend (fail-node, restore-node, write)
  check      a Nagios/Icinga plugin: cluster health, N+1, degraded replicas, recovery point age
  logs       an instance's output on its current primary (-f follows)
  console    a shell (or serial console) on an instance where it runs now
  backup     one tar: an instance's disks (a consistent copy), manifest, placement, checksums
  restore    verify a backup, print its manifest, stage its disks for the apply that creates it
  serve      the API and dashboard without converging (watch --listen serves them from the master)
  token      API tokens: create NAME --role viewer|operator, list, revoke NAME

Global options:
  --state-dir DIR   Drover's state (default $DROVER_STATE_DIR, else .drover/)
  --store etcd://HOST:PORT[,HOST:PORT...][/CLUSTER]
                    keep the store and the lease in etcd, for a standby master (default
                    $DROVER_STORE, else the state directory); the sim world stays in --state-dir
  --json            machine-readable output
  -h, --help        this text; drover <command> --help for a command's own

Run 'drover <command> --help' for details.`;

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) { io.err(HELP); return EXIT.error; } // a usage mistake: help on stderr
  if (name === '-h' || name === '--help' || name === 'help') { io.out(HELP); return EXIT.ok; }
  if (name === '--version') { io.out('drover 0.1.0'); return EXIT.ok; }
  const load = COMMANDS[name];
  if (!load) { io.err(`drover: unknown command "${name}"\n\n${HELP}`); return EXIT.error; }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) { io.out(command.usage); return EXIT.ok; }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError || e instanceof DriverError || e instanceof StoreError || isArgError(e)) { io.err(`drover ${name}: ${(e as Error).message}`); return EXIT.error; }
    io.err(`drover ${name}: unexpected error: ${(e as Error).stack ?? String(e)}`);
    return EXIT.error;
  }
}

function isArgError(e: unknown): boolean {
  return (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ?? false;
}
