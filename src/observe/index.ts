/**
 * Observe: ask every node's driver, in parallel, each with a timeout, and return what is there.
 * An unreachable, refusing or hanging node is a health fact, never an error.
 */
import type { DesiredNode } from '../model/desired.ts';
import type { Observed, ObservedNode } from '../model/observed.ts';
import type { Driver } from '../drivers/driver.ts';

export async function observe(driver: Driver, nodes: readonly DesiredNode[], timeoutMs = 10_000): Promise<Observed> {
  const at = Date.now();
  const results = await Promise.all(nodes.map((n) => observeNode(driver, n.name, timeoutMs)));
  return { at, nodes: new Map(results.map((r) => [r.name, r])) };
}

async function observeNode(driver: Driver, name: string, timeoutMs: number): Promise<ObservedNode> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const probe = await Promise.race([driver.probe(name), timeout]);
    return { name, health: 'up', capacity: probe.capacity, containers: probe.containers, volumes: probe.volumes, ...(probe.canCheckpoint !== undefined && { canCheckpoint: probe.canCheckpoint }) };
  } catch (e) {
    return { name, health: 'unreachable', error: (e as Error).message, containers: [], volumes: [] };
  } finally {
    clearTimeout(timer);
  }
}
