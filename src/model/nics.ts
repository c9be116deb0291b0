/**
 * What a driver needs to give an instance its network identity on one node: the address and MAC Drover
 * assigned (persisted in the store with the placement, so they follow the instance through moves, migrations
 * and failovers) and how that node attaches to the network. Built by plan/ from the Network documents, the
 * instance's nics and the store's assignments; read by drivers when they create or restore the instance.
 */
export type AttachMode = 'bridged' | 'macvlan';

export interface NicBinding {
  /** The Network document's name. */
  readonly network: string;
  /** IPv4 address in dotted form, without a prefix length. */
  readonly ip: string;
  /** Lower-case, colon-separated, locally administered unicast MAC (e.g. 02:dr:…). */
  readonly mac: string;
  /** The subnet's prefix length (24 for a /24). */
  readonly prefixLength: number;
  readonly subnet: string;
  readonly gateway?: string;
  /** The host bridge (bridged) or parent interface (macvlan) on this node. */
  readonly link: string;
  readonly mode: AttachMode;
}

/**
 * Drover's decision for one NIC of an instance: the address (static from the manifest, or the first free
 * one of its network's pool) and the MAC (static, or generated once from the cluster's prefix). Persisted in
 * the store with the placement before the instance is created, and kept while the instance exists.
 */
export interface NicAssignment {
  readonly network: string;
  readonly ip: string;
  readonly mac: string;
}

/** A NIC as a node shows it on an instance's running form (docker: its endpoint on a network). */
export interface ObservedNic {
  /** The Network document it belongs to, when the driver can tell (its label). */
  readonly network?: string;
  readonly ip: string;
  readonly mac: string;
}
