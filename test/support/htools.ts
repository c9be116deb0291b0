/**
 * The real Ganeti htools, for tests and benchmarks that judge us against them. ensureHtools() runs
 * scripts/install-htools (apt-get, idempotent) once per process.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const HTOOLS_BIN = '/usr/lib/ganeti/3.0/usr/bin';
export const HTOOLS_DATA = '/usr/share/ganeti/testsuite/test/data/htools';
const INSTALL = fileURLToPath(new URL('../../scripts/install-htools', import.meta.url));

let installed = false;
export function ensureHtools(): void {
  if (installed) return;
  execFileSync(INSTALL, { stdio: ['ignore', 'ignore', 'inherit'] });
  installed = true;
}

export interface ToolRun {
  readonly stdout: string;
  readonly status: number | null;
  readonly timedOut: boolean;
  readonly ms: number;
}

/** Runs an htools program with a wall-time cap (ms); never throws on a non-zero exit. */
export function runTool(tool: string, args: readonly string[], timeoutMs = 60_000): ToolRun {
  const t0 = performance.now();
  const r = spawnSync(`${HTOOLS_BIN}/${tool}`, args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 256 * 2 ** 20, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t0;
  return { stdout: (r.stdout ?? '') + (r.stderr ?? ''), status: r.status, timedOut: r.error !== undefined || r.signal === 'SIGKILL', ms };
}

export function hinfoScore(file: string): number {
  const out = runTool('hinfo', ['-t', file]).stdout;
  const m = /Cluster score: (\S+)/.exec(out);
  if (!m) throw new Error(`hinfo printed no score for ${file}:\n${out}`);
  return Number(m[1]);
}

/** hspace --machine-readable output as a key → value map (HTS_ prefix dropped). */
export function parseHspace(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const x = /^HTS_([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (x) m.set(x[1]!, x[2]!.replace(/^'|'$/g, ''));
  }
  return m;
}
