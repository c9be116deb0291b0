/**
 * What the cluster's backend cannot do with NICs (BackendCapabilities.nics), said in the manifests before
 * anything is made: more `macvlan` Networks on one link of a node than it carries, a `bridged` and a
 * `macvlan` Network on one link, an instance with NICs and ports. Each error is where the link or the NICs
 * are written, and a clash names the other Network and its place.
 */
import { capabilitiesOf, type NicCapabilities } from '../drivers/backends.ts';
import type { Desired, DesiredNetwork, DesiredNode } from '../model/desired.ts';
import { linkOn } from '../net/network.ts';
import type { Docs } from './build.ts';
import { formatLocation, type Diagnostics } from './diagnostic.ts';
import { where } from './types.ts';

export function checkNicLimits(desired: Desired, docs: Docs, diags: Diagnostics): void {
  for (const cluster of desired.clusters.values()) {
    const caps = capabilitiesOf(cluster.backend).nics;
    if (!caps) continue;
    const networks = [...(desired.networks?.values() ?? [])].filter((n) => n.cluster === cluster.name);
    const nodes = [...desired.nodes.values()].filter((n) => n.cluster === cluster.name);
    checkLinks(networks, nodes, caps, docs, diags);
    if (!caps.withPorts) portsBesideNics(desired, cluster.name, docs, diags);
  }
}

/** Where a node's link of `net` is written: its nodeLinks or groupLinks entry, else spec.link. */
function linkPointer(net: DesiredNetwork, node: DesiredNode | undefined): string {
  if (node && net.nodeLinks[node.name] !== undefined) return `/spec/nodeLinks/${node.name}`;
  if (node && net.groupLinks[node.group] !== undefined) return `/spec/groupLinks/${node.group}`;
  return '/spec/link';
}

/** Why `a` and `b` cannot share a link, or undefined when they may. */
function clash(a: DesiredNetwork, b: DesiredNetwork, caps: NicCapabilities): string | undefined {
  if (a.mode === 'macvlan' && b.mode === 'macvlan') return (caps.macvlanPerLink ?? Infinity) < 2 ? `this backend makes one macvlan network per link` : undefined;
  if (a.mode !== b.mode) return caps.bridgedBesideMacvlan ? undefined : 'a bridged network on a macvlan parent breaks its macvlans';
  return undefined;
}

/** Each Network against the ones before it, on every node of the cluster (or its own link when it has none): one error per Network. */
function checkLinks(networks: readonly DesiredNetwork[], nodes: readonly DesiredNode[], caps: NicCapabilities, docs: Docs, diags: Diagnostics): void {
  const on: readonly (DesiredNode | undefined)[] = nodes.length ? nodes : [undefined];
  networks.forEach((net, i) => {
    for (const node of on) {
      const link = linkOn(net, node);
      const other = networks.slice(0, i).find((o) => linkOn(o, node) === link && clash(o, net, caps));
      if (!other) continue;
      const m = docs.networks.get(net.name)!;
      const pointer = linkPointer(net, node);
      const at = formatLocation(where(docs.networks.get(other.name)!, linkPointer(other, node)));
      const field = pointer.slice(1).replaceAll('/', '.');
      diags.error(where(m, pointer), `${m.title}: ${field}: ${net.mode} network on link "${link}"${node ? ` of node ${node.name}` : ''}, ` +
        `which ${other.mode} network "${other.name}" uses too (at ${at}): ${clash(other, net, caps)}; give one of them another link`);
      return;
    }
  });
}

function portsBesideNics(desired: Desired, cluster: string, docs: Docs, diags: Diagnostics): void {
  for (const inst of desired.instances.values()) {
    if (inst.cluster !== cluster || inst.state === 'absent' || !inst.nics?.length || !inst.ports.length) continue;
    const m = docs.instances.get(inst.name)!;
    diags.error(where(m, '/spec/nics'), `${m.title}: spec.nics: an instance with NICs is reached on their addresses; this backend publishes ports ` +
      `on a node bridge or the host network only, so NICs and ports cannot go together (drop its ports)`);
  }
}
