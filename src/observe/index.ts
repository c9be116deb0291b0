/**
 * Observe: ask every node's driver, in parallel, each with a timeout, and return what is there.
 * An unreachable, refusing or hanging node is a health fact, never an error. Running containers
 * whose instance declares a health check get one run of it.
 */
import type { Desired, DesiredNode, HealthCheck } from '../model/desired.ts';
import type { HealthResult, Observed, ObservedContainer, ObservedNode } from '../model/observed.ts';
import type { Driver } from '../drivers/driver.ts';

/** instance → its health check, for the instances that declare one. */
export type HealthChecks = ReadonlyMap<string, HealthCheck>;

export function healthChecksOf(desired: Desired): HealthChecks {
  return new Map([...desired.instances.values()].flatMap((d) => (d.health ? [[d.name, d.health] as const] : [])));
}

export async function observe(driver: Driver, nodes: readonly DesiredNode[], timeoutMs = 10_000, checks: HealthChecks = new Map()): Promise<Observed> {
  const at = Date.now();
  const results = await Promise.all(nodes.map((n) => observeNode(driver, n.name, timeoutMs, checks)));
  return { at, nodes: new Map(results.map((r) => [r.name, r])) };
}

async function observeNode(driver: Driver, name: string, timeoutMs: number, checks: HealthChecks): Promise<ObservedNode> {
  try {
    const probe = await timeBoxed(driver.probe(name), timeoutMs);
    const containers = await Promise.all(probe.containers.map((c) => withHealth(driver, name, c, checks.get(c.instance))));
    return { name, health: 'up', capacity: probe.capacity, containers, volumes: probe.volumes, ...(probe.canCheckpoint !== undefined && { canCheckpoint: probe.canCheckpoint }), ...(probe.links && { links: probe.links }), ...(probe.maxNics !== undefined && { maxNics: probe.maxNics }) };
  } catch (e) {
    return { name, health: 'unreachable', error: (e as Error).message, containers: [], volumes: [] };
  }
}

async function withHealth(driver: Driver, node: string, c: ObservedContainer, check: HealthCheck | undefined): Promise<ObservedContainer> {
  if (!check || c.state !== 'running') return c;
  return { ...c, health: await runCheck(driver, node, c.instance, check) };
}

/** One run of a check: a check that cannot even be asked (or hangs) is a failed one, with why. */
export async function runCheck(driver: Driver, node: string, instance: string, check: HealthCheck): Promise<HealthResult> {
  try {
    return await timeBoxed(driver.checkHealth(node, instance, check.probe, check.timeoutMs), check.timeoutMs + 1000);
  } catch (e) {
    return { ok: false, output: (e as Error).message };
  }
}

async function timeBoxed<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
