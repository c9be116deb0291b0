/**
 * Manifests as written, after schema validation (and the schema's defaults filled in).
 * These types mirror schemas/*.schema.json; resolve.ts turns them into the model's Desired types.
 */

import type { BackendName } from '../drivers/backends.ts';
import type { SourceLocation } from '../model/desired.ts';
import type { Kind } from './schemas.ts';
import type { YamlDoc } from './yaml.ts';

export type Quantity = string | number;
export type Duration = string | number;
export type DiskTemplate = 'plain' | 'replicated';

export interface DiskDoc {
  readonly size: Quantity;
  readonly mount?: string;
}

export type PolicyTemplate = DiskTemplate | 'diskless';

/** One instance size of Ganeti's ipolicy (schemas/common.schema.json#/$defs/instanceSpec). */
export interface PolicySpecDoc {
  readonly memory: Quantity;
  readonly vcpus: number;
  readonly diskSize: Quantity;
  readonly diskCount: number;
  readonly nicCount: number;
  readonly spindleUse: number;
}

export interface ClusterSpecDoc {
  readonly backend: BackendName;
  readonly macPrefix?: string;
  readonly defaults: {
    readonly memory: Quantity;
    readonly vcpus: number;
    readonly image: string;
    readonly diskTemplate: DiskTemplate;
    readonly disks: readonly DiskDoc[];
  };
  readonly policy: {
    readonly vcpuRatio: number; readonly memoryOvercommit: number; readonly redundancy: 'n+1' | 'none';
    readonly spindleRatio?: number;
    readonly diskTemplates?: readonly PolicyTemplate[];
    readonly instanceSpecs?: readonly { readonly min: PolicySpecDoc; readonly max: PolicySpecDoc }[];
    readonly standardSpec?: PolicySpecDoc;
  };
  readonly reconcile: { readonly interval: Duration; readonly concurrency: { readonly perNode: number; readonly total: number }; readonly rebalance: 'off' | 'auto'; readonly maxUnavailable: number | string };
  readonly failover: { readonly automatic: boolean; readonly nodeDownAfter: Duration; readonly fenceCommand?: readonly string[]; readonly maxUnreachableShare: number; readonly holdAfterFailures: number; readonly maxPerHour?: number };
  readonly replication: { readonly interval: Duration; readonly mode?: 'sync' | 'async' };
  readonly docker: { readonly helperImage?: string; readonly checkpointTimeout: Duration };
  readonly sim: { readonly latency: Duration };
}

export interface NodeSpecDoc {
  readonly cluster: string;
  readonly endpoint?: string;
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string };
  readonly capacity?: { readonly memory?: Quantity; readonly vcpus?: number; readonly disk?: Quantity; readonly spindles?: number };
  readonly group: string;
  readonly drained: boolean;
  readonly offline: boolean;
}

export type PortDoc = string | number | { readonly container: number; readonly host?: number; readonly protocol: 'tcp' | 'udp' };

export interface InstanceSpecDoc {
  readonly cluster: string;
  readonly image?: string;
  readonly hypervisor?: 'container' | 'kvm';
  readonly boot?: { readonly kernel: string; readonly initrd?: string; readonly cmdline?: string };
  readonly machine?: string;
  readonly memory?: Quantity;
  readonly vcpus?: number;
  readonly diskTemplate?: DiskTemplate;
  readonly disks?: readonly DiskDoc[];
  readonly state: 'running' | 'stopped' | 'absent';
  readonly primary?: string;
  readonly secondary?: string;
  readonly antiAffinity: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly command?: readonly string[];
  readonly health?: HealthDoc;
  readonly ports: readonly PortDoc[];
  readonly nics: readonly NicDoc[];
}

export interface NicDoc {
  readonly network: string;
  readonly ip?: string;
  readonly mac?: string;
}

export interface NetworkSpecDoc {
  readonly cluster: string;
  readonly subnet: string;
  readonly gateway?: string;
  readonly pool?: string;
  readonly reserved: readonly string[];
  readonly link: string;
  readonly nodeLinks: Readonly<Record<string, string>>;
  readonly groupLinks: Readonly<Record<string, string>>;
  readonly mode: 'bridged' | 'macvlan';
}

export interface HealthDoc {
  readonly exec?: readonly string[];
  readonly tcp?: number;
  readonly interval: Duration;
  readonly timeout: Duration;
  readonly retries: number;
  readonly startPeriod: Duration;
}

interface SpecOf {
  Cluster: ClusterSpecDoc;
  Node: NodeSpecDoc;
  Instance: InstanceSpecDoc;
  Network: NetworkSpecDoc;
}

/** One valid document, with the way back to its source for later (semantic) messages. */
export interface Manifest<K extends Kind = Kind> {
  readonly kind: K;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** metadata.renamedFrom (instances only): the name it had before. */
  readonly renamedFrom?: string;
  readonly spec: SpecOf[K];
  readonly doc: YamlDoc;
  /** `Instance "web1"`, to start messages with. */
  readonly title: string;
}

export type AnyManifest = Manifest<'Cluster'> | Manifest<'Node'> | Manifest<'Instance'> | Manifest<'Network'>;

/** Where a field of a manifest is, or its nearest written ancestor. */
export function where(m: Manifest, pointer: string, part: 'key' | 'value' = 'value'): SourceLocation {
  return m.doc.locate(pointer, part);
}
