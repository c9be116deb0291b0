/**
 * Health checks of running instances: `exec` runs the command inside the instance's container; `tcp`
 * connects to 127.0.0.1:PORT from a short-lived helper that shares the container's network namespace
 * (`--network container:<id>`), so a port the instance does not publish is checked too. A failed or
 * timed-out check resolves unhealthy with what it printed (or why it broke); only an engine that cannot
 * be asked at all (the container's inspect) rejects.
 */
import type { HealthProbe } from '../../model/desired.ts';
import type { HealthResult } from '../../model/observed.ts';
import type { RunResult } from './api.ts';
import type { Conn, Engine } from './engine.ts';
import { exec, runHelper } from './helpers.ts';
import { containerName } from './names.ts';

export async function checkHealth(e: Engine, node: string, instance: string, probe: HealthProbe, timeoutMs: number): Promise<HealthResult> {
  const c = e.conn(node);
  const info = await e.ownContainer(c, containerName(instance));
  if (!info) return { ok: false, output: `no container for ${instance} on ${node}` };
  const what = `health check of ${instance}`;
  try {
    const r = 'exec' in probe
      ? await exec(e, c, c.docker.getContainer(info.Id), what, [...probe.exec], timeoutMs)
      : await tcpCheck(e, c, instance, info.Id, probe.tcp, timeoutMs);
    return { ok: r.exitCode === 0, output: outputOf(r) };
  } catch (err) {
    // the check hung or broke after the engine answered the inspect above: unhealthy, with why
    return { ok: false, output: (err as Error).message };
  }
}

/** busybox nc connects, runs `true` on the connection and exits 0; a refused or timed-out connect exits 1. */
function tcpCheck(e: Engine, c: Conn, instance: string, id: string, port: number, timeoutMs: number): Promise<RunResult> {
  const seconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  return runHelper(e, c, instance, 'health', ['nc', '-w', seconds, '127.0.0.1', String(port), '-e', 'true'], [], timeoutMs + 10_000, { network: `container:${id}` });
}

/** What the check printed, short enough for a status line and a journal entry. */
const outputOf = (r: RunResult): string => `${r.stdout}${r.stderr}`.trim().slice(-500) || `exit status ${r.exitCode}`;
