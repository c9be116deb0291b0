/**
 * The commands that act on one instance where it runs now (logs, console, backup): find its
 * primary from the store, look at that node, and refuse in words when it cannot be reached.
 */
import type { Driver } from '../drivers/driver.ts';
import type { Desired } from '../model/desired.ts';
import type { ObservedContainer, ObservedNode } from '../model/observed.ts';
import { observe } from '../observe/index.ts';
import type { Placement, StoreView } from '../store/types.ts';
import { Store } from '../store/store.ts';
import { loadOrReport, openDriver } from './context.ts';
import { EXIT, locationOf, type Io } from './io.ts';

export interface Target {
  readonly instance: string;
  readonly node: string;
  readonly placement: Placement;
  readonly container: ObservedContainer;
  readonly desired: Desired;
  readonly driver: Driver;
  readonly stateDir: string;
  readonly store: StoreView;
}

/** Why the instance cannot be reached now, or where it is. Pure. */
export function locate(name: string, desired: Desired, store: StoreView, seen: (node: string) => ObservedNode | undefined):
  { readonly ok: true; readonly placement: Placement; readonly container: ObservedContainer } | { readonly ok: false; readonly why: string } {
  const p = store.placements.get(name);
  if (!p && !desired.instances.has(name)) return { ok: false, why: `no instance ${name}: it is neither in the manifests nor placed` };
  if (!p) return { ok: false, why: `${name} is not placed yet (drover apply creates it)` };
  if (!desired.nodes.has(p.primary)) return { ok: false, why: `${name}'s primary ${p.primary} is not a node of the manifests` };
  const node = seen(p.primary);
  if (node?.health !== 'up') return { ok: false, why: `node ${p.primary}, where ${name} runs, is unreachable${node?.error ? `: ${node.error}` : ''}` };
  const container = node.containers.find((c) => c.instance === name);
  if (!container) return { ok: false, why: `${name} has no container on its primary ${p.primary} (drover plan says what apply would do)` };
  return { ok: true, placement: p, container };
}

/** Load, open read-only, look at the instance's primary only, run `fn` on it; refusals print one line and exit 1. */
export async function onPrimary(command: string, name: string, paths: readonly string[], flags: Parameters<typeof locationOf>[0], io: Io, fn: (t: Target) => Promise<number>): Promise<number> {
  const loaded = await loadOrReport(paths, io);
  if (!loaded) return EXIT.error;
  const location = locationOf(flags);
  const store = await Store.open(location, { readOnly: true });
  const driver = await openDriver(loaded.desired, location.stateDir, { readOnly: true });
  try {
    const primary = store.placements.get(name)?.primary;
    const node = primary ? loaded.desired.nodes.get(primary) : undefined;
    const observed = node ? await observe(driver, [node]) : undefined;
    const where = locate(name, loaded.desired, store, (n) => observed?.nodes.get(n));
    if (!where.ok) { io.err(`drover ${command}: ${where.why}`); return EXIT.error; }
    return await fn({ instance: name, node: where.placement.primary, ...where, desired: loaded.desired, driver, stateDir: location.stateDir, store });
  } finally {
    await driver.close();
  }
}
