/**
 * Fencing is cluster policy, run from apply/: a node is fenced by its own cluster's
 * `failover.fenceCommand` (exit 0 within the timeout means it is off), and, where the backend has a
 * power switch (sim), by that switch too. With a command and a switch both run, command first: the
 * command is what the user configured and must be honoured, and the switch is how the backend's own
 * world learns the node is off (without it a sim node would come back running its stale copies).
 * The node counts as fenced only when every means it has said so; otherwise nothing fails over.
 */
import { spawn } from 'node:child_process';
import { capabilitiesOf } from '../drivers/backends.ts';
import type { Driver } from '../drivers/driver.ts';
import type { Desired } from '../model/desired.ts';

/** How long a fence command may take before it counts as failed (and its process group is killed). */
export const FENCE_TIMEOUT_MS = 30_000;

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

/** Fence one node by its cluster's settings. Never rejects: a fence that cannot run is `fenced: false`. */
export async function fenceNode(driver: Driver, desired: Desired, node: string, timeoutMs = FENCE_TIMEOUT_MS): Promise<FenceResult> {
  const d = desired.nodes.get(node);
  const cluster = d && desired.clusters.get(d.cluster);
  if (!d || !cluster) return { fenced: false, detail: `${node} is in no manifest, so no cluster says how to fence it` };
  const argv = cluster.failover.fenceCommand;
  const power = capabilitiesOf(cluster.backend).powerSwitch ? driver.powerOff?.bind(driver) : undefined;
  if (!argv && !power) return { fenced: false, detail: `Cluster "${cluster.name}" has no failover.fenceCommand and its ${cluster.backend} backend no power switch` };
  const details: string[] = [];
  if (argv) {
    const r = await runFenceCommand(argv, node, d.endpoint ?? '', timeoutMs);
    if (!r.fenced) return r;
    if (r.detail) details.push(r.detail);
  }
  if (power) {
    try {
      await power(node);
    } catch (e) {
      return { fenced: false, detail: `power switch of ${node} failed: ${(e as Error).message}` };
    }
  }
  return { fenced: true, detail: details.join('; ') };
}

/**
 * Fence each node once per run, however many of its instances fail over at once: concurrent
 * failovers share the one fence in progress. A failed fence is forgotten, so a retry runs it again.
 */
export function fencer(driver: Driver, desired: Desired, timeoutMs = FENCE_TIMEOUT_MS): (node: string) => Promise<FenceResult> {
  const fences = new Map<string, Promise<FenceResult>>();
  return (node) => {
    let f = fences.get(node);
    if (!f) {
      f = fenceNode(driver, desired, node, timeoutMs).then((r) => { if (!r.fenced) fences.delete(node); return r; });
      fences.set(node, f);
    }
    return f;
  };
}
