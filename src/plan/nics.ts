/**
 * The NICs of each instance this plan: the assignments net/assign.ts decides (kept from the store, static,
 * or from the pool), as NicBindings on the node the instance goes to, or the reason it gets none now.
 */
import type { HoldCause } from '../model/causes.ts';
import type { DesiredCluster, DesiredInstance, DesiredNetwork, SourceLocation } from '../model/desired.ts';
import type { NicBinding } from '../model/nics.ts';
import { assignNics, type NicDecisions } from '../net/assign.ts';
import { parseCidr } from '../net/ipv4.ts';
import { bindingOf } from '../net/network.ts';
import type { Target } from './targets.ts';
import type { PlanInput } from './types.ts';

export type NicsOf = (t: Target) => { readonly nics: readonly NicBinding[] } | { readonly refused: HoldCause };

const NONE = { nics: [] } as const;

export function planNics(input: PlanInput, cluster: DesiredCluster, wanted: readonly DesiredInstance[]): NicsOf {
  const networks = input.desired.networks ?? new Map<string, DesiredNetwork>();
  if (!wanted.some((d) => d.nics?.length)) return () => NONE;
  const decisions: NicDecisions = assignNics(cluster, networks, wanted, input.store.placements.values());
  const prefixes = new Map([...networks.values()].map((n) => [n.name, parseCidr(n.subnet)!.prefixLength]));
  const prefixOf = (network: string): number => prefixes.get(network)!;
  return (t) => {
    const d = t.instance;
    if (!d.nics?.length) return NONE;
    const refused = decisions.refused.get(d.name);
    if (refused) return { refused };
    const node = t.primary === undefined ? undefined : input.desired.nodes.get(t.primary);
    const nics = decisions.assigned.get(d.name)!.map((a) => bindingOf(networks.get(a.network)!, a, node, prefixOf(a.network)));
    const seen = t.primary === undefined ? undefined : input.observed.nodes.get(t.primary);
    if (seen?.maxNics !== undefined && nics.length > seen.maxNics) return { refused: { kind: 'too-many-nics', node: t.primary!, instance: d.name, count: nics.length, max: seen.maxNics } };
    const links = seen?.links;
    const missing = links && nics.find((b) => !links.includes(b.link));
    if (missing) return { refused: { kind: 'link-missing', node: t.primary!, network: missing.network, link: missing.link, instance: d.name } };
    return { nics };
  };
}

/** Where the NIC a refusal is about is written (its entry in spec.nics), else the instance's document. */
export function nicSource(d: DesiredInstance, cause: HoldCause): SourceLocation {
  const nics = d.nics ?? [];
  const i = cause.kind === 'address-taken' ? nics.findIndex((n) => n.ip === cause.address || n.mac === cause.address)
    : cause.kind === 'pool-exhausted' ? nics.findIndex((n) => n.network === cause.network && n.ip === undefined)
      : cause.kind === 'link-missing' ? nics.findIndex((n) => n.network === cause.network)
        : cause.kind === 'too-many-nics' ? cause.max : -1;
  return d.fieldSources?.[`nics[${i}]`] ?? d.source;
}
