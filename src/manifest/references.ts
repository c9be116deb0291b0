/** Checks of what manifests name: their cluster, pinned nodes, and what each backend needs. */

import { BACKENDS, type NodeNeeds } from '../drivers/backends.ts';
import type { Desired, DesiredCluster } from '../model/desired.ts';
import type { Docs } from './build.ts';
import type { Diagnostics } from './diagnostic.ts';
import type { Gaps } from './gaps.ts';
import { didYouMean } from './suggest.ts';
import type { Manifest } from './types.ts';
import { where } from './types.ts';

/** The cluster a Node or Instance names, or undefined after an error (none when no cluster exists). */
export function clusterOf(
  m: Manifest<'Node'> | Manifest<'Instance'> | Manifest<'Network'>, clusters: ReadonlyMap<string, DesiredCluster>, gaps: Gaps,
  diags: Diagnostics,
): DesiredCluster | undefined {
  const name = m.spec.cluster;
  const cluster = clusters.get(name);
  // No cluster at all is reported once; a broken one has its own errors.
  if (cluster !== undefined || clusters.size === 0 || gaps.mayBe('Cluster', name)) return cluster;
  const known = [...clusters.keys()];
  const hint = didYouMean(name, known) || ` (known: ${listNames(known)})`;
  diags.error(where(m, '/spec/cluster'), `${m.title}: spec.cluster: unknown cluster "${name}"${hint}`);
  return undefined;
}

export function checkNodeBackends(desired: Desired, docs: Docs, diags: Diagnostics): void {
  for (const node of desired.nodes.values()) {
    const m = docs.nodes.get(node.name)!;
    const backend = desired.clusters.get(node.cluster)!.backend;
    const needs: NodeNeeds = BACKENDS[backend].node;
    const missing = (['memory', 'vcpus', 'disk'] as const).filter((k) => node.capacity?.[k] === undefined);
    if (needs.capacity && missing.length > 0) {
      diags.error(where(m, '/spec/capacity', 'key'),
        `${m.title}: spec.capacity: ${missing.join(', ')} required on the ${backend} backend (cluster "${node.cluster}")`);
    }
    if (needs.endpoint && node.endpoint === undefined) {
      diags.error(where(m, '/spec', 'key'),
        `${m.title}: spec.endpoint is required on the ${backend} backend (e.g. ${needs.endpoint.example})`);
    }
    if (node.tls !== undefined && node.endpoint?.startsWith('tcp://') !== true) {
      diags.warning(where(m, '/spec/tls', 'key'), `${m.title}: spec.tls is only used with a tcp:// endpoint`);
    }
  }
}

/** Pinned primary/secondary: they must exist, be in the instance's cluster, be usable, differ. */
export function checkPins(desired: Desired, docs: Docs, gaps: Gaps, diags: Diagnostics): void {
  for (const inst of desired.instances.values()) {
    const m = docs.instances.get(inst.name)!;
    const err = (field: string, msg: string): void =>
      diags.error(where(m, `/spec/${field}`), `${m.title}: spec.${field}: ${msg}`);
    for (const field of ['primary', 'secondary'] as const) {
      const name = inst[field];
      if (name === undefined) continue;
      const node = desired.nodes.get(name);
      if (node === undefined) {
        if (gaps.mayBe('Node', name)) continue;
        const inCluster = [...desired.nodes.values()].filter((n) => n.cluster === inst.cluster).map((n) => n.name);
        err(field, `unknown node "${name}"${didYouMean(name, inCluster)}`);
      } else if (node.cluster !== inst.cluster) {
        err(field, `node "${name}" is in cluster "${node.cluster}", not "${inst.cluster}"`);
      } else if (node.offline && inst.state !== 'absent') {
        err(field, `node "${name}" is offline; unpin the instance or bring the node back`);
      }
    }
    if (inst.secondary === undefined) continue;
    if (inst.diskTemplate !== 'replicated') {
      err('secondary', `only replicated instances have a secondary (this one is ${inst.diskTemplate})`);
    } else if (inst.secondary === inst.primary) {
      err('secondary', `"${inst.secondary}" is also the primary; the replica must be on another node`);
    }
  }
}

/** Pinning two instances that share an antiAffinity tag to one primary defeats the tag: say so. */
export function checkPinnedAntiAffinity(desired: Desired, docs: Docs, diags: Diagnostics): void {
  const first = new Map<string, string>(); // "node\0tag" → first instance pinned there with that tag
  for (const inst of desired.instances.values()) {
    if (inst.primary === undefined || inst.state === 'absent') continue;
    for (const tag of inst.antiAffinity) {
      const key = `${inst.primary}\u0000${tag}`;
      const other = first.get(key);
      if (other === undefined) {
        first.set(key, inst.name);
        continue;
      }
      const m = docs.instances.get(inst.name)!;
      diags.warning(where(m, '/spec/primary'),
        `${m.title}: spec.primary: "${other}" is pinned to ${inst.primary} too, and both have antiAffinity "${tag}"`);
    }
  }
}

/** `a, b, c` or `a, b, c and 4 more`. */
export function listNames(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}
