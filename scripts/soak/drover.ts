/**
 * The soak talks to drover as a user's script would: the read-only commands in process (quick), `apply`
 * as a child process (the master, which the chaos SIGKILLs), and only ever their --json output.
 */
import { main as droverMain } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/io.ts';
import { spawnDrover, type Spawned } from '../../test/support/cli.ts';

/** In-process drover for the read-only commands and `sim`. */
export async function cliIn(argv: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => void out.push(t), err: (t) => void err.push(t), isTty: false, stdinIsTty: false, ask: async () => 'y' };
  const code = await droverMain([...argv], io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

export async function cliJson<T>(argv: readonly string[]): Promise<T> {
  const r = await cliIn([...argv, '--json']);
  try { return JSON.parse(r.out) as T; } catch { throw new Error(`drover ${argv.join(' ')} --json exited ${r.code}: ${r.out.slice(0, 500)} ${r.err.slice(0, 500)}`); }
}

// ------------------------------------------------------------ what the --json outputs hold (the parts read here)

export interface StatusInstance {
  readonly name: string;
  readonly state: string;
  readonly primary?: string;
  readonly secondary?: string;
  readonly degraded: boolean;
  readonly recoveryPoint?: number;
}
export interface StatusJson {
  readonly nodes: readonly { readonly name: string; readonly health: string }[];
  readonly instances: readonly StatusInstance[];
}
/** Why the planner wants an operation: `replica-stale` is a periodic re-sync (replication.interval). */
export interface CauseJson { readonly kind: string }
export interface PlanOpJson {
  readonly type: string;
  readonly instance: string;
  readonly secondary?: string;
  readonly reason?: string;
  readonly cause: CauseJson;
}
export interface PlanJson {
  readonly operations: readonly PlanOpJson[];
  readonly warnings: readonly string[];
  readonly errors: readonly unknown[];
  readonly pending?: readonly unknown[];
}
export interface JobJson {
  readonly id: string;
  readonly type: string;
  readonly instance: string;
  readonly start: number;
  readonly end?: number;
  readonly result: string;
  readonly error?: string;
  readonly resumed?: number;
  readonly master?: { readonly pid: number };
  /** A migration's path as it was taken: only a cold one took its instance down. */
  readonly migration?: { readonly path: string };
}
/** `apply --json`: one event a line (src/apply/events.ts), the parts read here. */
export type ApplyEventJson =
  | { readonly type: 'operation-finished'; readonly op: { readonly type: string; readonly instance: string }; readonly result: 'succeeded' | 'failed'; readonly error?: string }
  | { readonly type: 'waiting'; readonly reason: string }
  | { readonly type: 'summary'; readonly succeeded: number; readonly failed: number; readonly pending: number }
  | { readonly type: 'round' | 'operation-started' | 'step' | 'progress' | 'retry' | 'drift' };

/** The NDJSON lines; a SIGKILLed master may leave its last line torn: skipped. */
export function applyEvents(stdout: string): ApplyEventJson[] {
  return stdout.split('\n').flatMap((l) => {
    try { return l.trim() ? [JSON.parse(l) as ApplyEventJson] : []; } catch { return []; }
  });
}

// ------------------------------------------------------------ the masters

export interface MasterExit {
  readonly pid: number;
  readonly code: number;
  readonly signal: NodeJS.Signals | null;
  readonly ms: number;
  readonly events: readonly ApplyEventJson[];
  readonly stderr: string;
}
export interface Master {
  readonly pid: number;
  readonly done: Promise<MasterExit>;
}

/** Operations the master finished: how it did its work (for the kill timing and the failure report). */
export function finished(e: MasterExit): { succeeded: number; failed: readonly string[]; waiting: readonly string[] } {
  let succeeded = 0;
  const failed: string[] = [];
  const waiting = new Set<string>();
  for (const x of e.events) {
    if (x.type === 'operation-finished') { if (x.result === 'succeeded') succeeded++; else failed.push(`${x.op.type} ${x.op.instance}: ${x.error ?? '?'}`); }
    if (x.type === 'waiting') waiting.add(x.reason);
  }
  return { succeeded, failed, waiting: [...waiting] };
}

/** Starts `drover apply --yes --json` children, and kills those still running when the soak ends. */
export class Masters {
  private readonly live = new Set<Spawned>();
  constructor(private readonly manifests: string, private readonly stateDir: string, private readonly env: Readonly<Record<string, string>>) {}

  /** failAt: the master kills itself at that durable batch (the store's failpoint). */
  start(failAt?: number): Master {
    const s = spawnDrover(['apply', '--yes', '--json', this.manifests, '--state-dir', this.stateDir], { ...this.env, ...(failAt && { DROVER_FAILPOINT_KILL_AT: String(failAt) }) });
    const started = Date.now();
    const pid = s.child.pid!;
    this.live.add(s);
    const done = s.done.then((r) => {
      this.live.delete(s);
      return { pid, code: r.code, signal: r.signal, ms: Date.now() - started, events: applyEvents(r.stdout), stderr: r.stderr };
    });
    return { pid, done };
  }

  killAll(): void {
    for (const s of this.live) if (s.child.pid) { try { process.kill(s.child.pid, 'SIGKILL'); } catch { /* gone */ } }
  }
}
