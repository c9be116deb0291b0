/** Fencing through an external command: exit 0 within the timeout means the node is fenced. */
import { spawn } from 'node:child_process';

export interface FenceResult {
  readonly fenced: boolean;
  /** Why not, or what the command said; for logs and status. */
  readonly detail: string;
}

export function runFenceCommand(
  argv: readonly string[], node: string, endpoint: string, timeoutMs: number,
): Promise<FenceResult> {
  return new Promise((resolve) => {
    if (argv.length === 0) { resolve({ fenced: false, detail: 'empty fence command' }); return; }
    let out = '';
    let settled = false;
    const finish = (r: FenceResult): void => { if (!settled) { settled = true; clearTimeout(timer); resolve(r); } };
    const child = spawn(argv[0]!, [...argv.slice(1), node, endpoint], {
      env: { ...process.env, DROVER_NODE: node, DROVER_ENDPOINT: endpoint },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout kills what it started too
    });
    const keep = (b: Buffer): void => { if (out.length < 4096) out += b.toString(); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      try { if (child.pid) process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      finish({ fenced: false, detail: `fence command timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    child.on('error', (e) => finish({ fenced: false, detail: `fence command could not run: ${e.message}` }));
    child.on('close', (code, signal) => {
      finish(code === 0
        ? { fenced: true, detail: out.trim() }
        : { fenced: false, detail: `fence command exited ${code ?? signal}${out.trim() ? `: ${out.trim().slice(0, 500)}` : ''}` });
    });
  });
}
