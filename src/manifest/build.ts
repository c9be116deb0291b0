/**
 * Valid manifests → Desired. Resolution happens kind by kind (instances need their cluster's
 * defaults), then the checks that look across documents: names, references, capacity.
 */

import type { Desired, DesiredCluster, DesiredInstance, DesiredNetwork, DesiredNode } from '../model/desired.ts';
import { checkCapacity } from './capacity.ts';
import { formatLocation, type Diagnostics } from './diagnostic.ts';
import type { Gaps } from './gaps.ts';
import { checkNodeBackends, checkPinnedAntiAffinity, checkPins, clusterOf } from './references.ts';
import { checkNetworks, resolveNetwork } from './networks.ts';
import { checkRenames } from './renames.ts';
import { resolveCluster, resolveInstance, resolveNode } from './resolve.ts';
import type { AnyManifest, Manifest } from './types.ts';
import { where } from './types.ts';

export function buildDesired(all: readonly AnyManifest[], gaps: Gaps, diags: Diagnostics): Desired {
  const byKind = uniqueByKind(all, diags);
  const clusterDocs = byKind.Cluster as Map<string, Manifest<'Cluster'>>;
  const nodeDocs = byKind.Node as Map<string, Manifest<'Node'>>;
  const instanceDocs = byKind.Instance as Map<string, Manifest<'Instance'>>;
  const networkDocs = byKind.Network as Map<string, Manifest<'Network'>>;
  if (clusterDocs.size === 0 && all.length > 0 && !gaps.mayBe('Cluster')) {
    diags.error(all[0]!.doc.root, `no Cluster defined: ${all[0]!.title} needs one (add a document with kind: Cluster, or load the file that has it)`);
  }

  const clusters = new Map<string, DesiredCluster>();
  for (const [name, m] of clusterDocs) clusters.set(name, resolveCluster(m, diags));
  const nodes = new Map<string, DesiredNode>();
  for (const [name, m] of nodeDocs) {
    const node = resolveNode(m, diags); // even without its cluster: bad values are worth reporting now
    if (clusterOf(m, clusters, gaps, diags) !== undefined) nodes.set(name, node);
  }
  const instances = new Map<string, DesiredInstance>();
  for (const [name, m] of instanceDocs) {
    const cluster = clusterOf(m, clusters, gaps, diags);
    if (cluster !== undefined) instances.set(name, resolveInstance(m, cluster, diags));
  }

  const networks = new Map<string, DesiredNetwork>();
  for (const [name, m] of networkDocs) {
    const net = resolveNetwork(m, diags);
    if (net && clusterOf(m, clusters, gaps, diags) !== undefined) networks.set(name, net);
  }

  const desired: Desired = { clusters, nodes, instances, networks };
  const docs = { clusters: clusterDocs, nodes: nodeDocs, instances: instanceDocs, networks: networkDocs };
  checkNodeBackends(desired, docs, diags);
  checkPins(desired, docs, gaps, diags);
  checkPinnedAntiAffinity(desired, docs, diags);
  checkRenames(desired, docs, diags);
  checkCapacity(desired, docs, gaps, diags);
  checkNetworks(desired, docs, gaps, diags);
  return desired;
}

export interface Docs {
  readonly clusters: ReadonlyMap<string, Manifest<'Cluster'>>;
  readonly nodes: ReadonlyMap<string, Manifest<'Node'>>;
  readonly instances: ReadonlyMap<string, Manifest<'Instance'>>;
  readonly networks: ReadonlyMap<string, Manifest<'Network'>>;
}

/** Same kind and name twice is an error that names both places; the first one is kept. */
function uniqueByKind(all: readonly AnyManifest[], diags: Diagnostics): Record<AnyManifest['kind'], Map<string, AnyManifest>> {
  const byKind = { Cluster: new Map<string, AnyManifest>(), Node: new Map<string, AnyManifest>(), Instance: new Map<string, AnyManifest>(), Network: new Map<string, AnyManifest>() };
  for (const m of all) {
    const seen = byKind[m.kind];
    const first = seen.get(m.name);
    if (first === undefined) {
      seen.set(m.name, m);
      continue;
    }
    const firstAt = formatLocation(where(first, '/metadata/name'));
    diags.error(where(m, '/metadata/name'), `${m.title} is defined twice: first at ${firstAt}`);
  }
  return byKind;
}
