/**
 * The fingerprint of what a plan was computed from: the manifests (resolved), what the nodes
 * showed, and the store's placements. A saved plan is applied only if this is unchanged.
 */
import { createHash } from 'node:crypto';
import type { Desired } from '../model/desired.ts';
import type { Observed } from '../model/observed.ts';
import type { StoreView } from '../store/types.ts';

export function planBasis(desired: Desired, observed: Observed, store: StoreView): string {
  const h = createHash('sha256');
  const put = (v: unknown) => h.update(JSON.stringify(v, (k, x: unknown) => (k === 'source' ? undefined : x)) + '\n');
  for (const map of [desired.clusters, desired.nodes, desired.instances]) for (const k of [...map.keys()].sort()) put(map.get(k));
  for (const k of [...observed.nodes.keys()].sort()) {
    const n = observed.nodes.get(k)!;
    put([n.name, n.health, sorted(n.containers.map((c) => JSON.stringify(c))), sorted(n.volumes.map((v) => JSON.stringify(v)))]);
  }
  for (const k of [...store.placements.keys()].sort()) put(store.placements.get(k));
  return h.digest('hex');
}

const sorted = (xs: string[]) => xs.sort();
