/**
 * An in-process cluster for apply/ tests: manifests loaded from a folder, a SimDriver (latency and
 * faults chosen by the test, not the manifests), a Store, and the events of every run.
 */
import { converge, type ConvergeOptions, type ConvergeResult } from '../../src/apply/converge.ts';
import type { ApplyEvent } from '../../src/apply/events.ts';
import { SimDriver, type SimDriverOptions } from '../../src/drivers/sim/index.ts';
import { loadManifests } from '../../src/manifest/index.ts';
import type { Desired } from '../../src/model/desired.ts';
import { observe } from '../../src/observe/index.ts';
import { plan, type Plan } from '../../src/plan/index.ts';
import { Store } from '../../src/store/store.ts';
import { tempDir } from './tmp.ts';

export async function load(paths: readonly string[]): Promise<Desired> {
  const r = await loadManifests(paths);
  if (!r.ok) throw new Error(`manifests should load: ${JSON.stringify(r.diagnostics)}`);
  return r.desired;
}

export interface SimCluster {
  readonly dir: string;
  desired: Desired;
  readonly driver: SimDriver;
  readonly store: Store;
  readonly events: ApplyEvent[];
  converge(over?: Partial<ConvergeOptions>): Promise<ConvergeResult>;
  /** A plan of what is there now (read only). */
  plan(prune?: boolean): Promise<Plan>;
  close(): Promise<void>;
}

export async function simCluster(
  desiredOrPaths: Desired | readonly string[],
  options: Partial<Omit<SimDriverOptions, 'stateDir' | 'nodes'>> & { dir?: string } = {},
): Promise<SimCluster> {
  const desired = Array.isArray(desiredOrPaths) ? await load(desiredOrPaths as readonly string[]) : desiredOrPaths as Desired;
  const dir = options.dir ?? tempDir();
  const driver = new SimDriver({ stateDir: dir, nodes: [...desired.nodes.values()], fsync: false, latencyMs: 0, ...options });
  const store = new Store(dir, { fsync: false });
  const events: ApplyEvent[] = [];
  const c: SimCluster = {
    dir, desired, driver, store, events,
    converge: (over = {}) => converge({ desired: c.desired, driver, store, events: (e) => events.push(e), maxWaitMs: 30_000, ...over }),
    plan: async (prune = false) => plan({ desired: c.desired, observed: await observe(driver, [...c.desired.nodes.values()]), store, now: Date.now(), prune }),
    close: async () => { await driver.close(); await store.close(); },
  };
  return c;
}

/** Succeeded/failed counts per operation type, from the events. */
export function finished(events: readonly ApplyEvent[]): Extract<ApplyEvent, { type: 'operation-finished' }>[] {
  return events.filter((e): e is Extract<ApplyEvent, { type: 'operation-finished' }> => e.type === 'operation-finished');
}
