/**
 * Desired state: what the manifests say, resolved (defaults applied, quantities in bytes,
 * durations in ms). Produced by manifest/, read by plan/ and alloc/. Plain readonly data.
 */

import type { BackendName } from '../drivers/backends.ts';
import type { AttachMode } from './nics.ts';

/** Where a document or field came from, for messages. Lines and columns are 1-based. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** A backend's name; drivers/backends.ts lists them with their capabilities. */
export type Backend = BackendName;
export type DiskTemplate = 'plain' | 'replicated';
export type InstanceState = 'running' | 'stopped' | 'absent';

export interface DiskSpec {
  /** bytes */
  readonly size: number;
  /** Where it appears inside the instance; a disk declared by size alone gets defaultMount() (manifest/resolve.ts). */
  readonly mount: string;
}

/** Where a disk without a mount point appears on backends with a filesystem view (docker): /data, /data1, … by its index. */
export const defaultMount = (index: number): string => (index === 0 ? '/data' : `/data${index}`);

/**
 * What runs an instance (Ganeti's word): a container, or a virtual machine (QEMU, accelerated with /dev/kvm
 * where the node has it, emulated where not). Absent in a spec: a container.
 */
export type Hypervisor = 'container' | 'kvm';

/** A VM's direct kernel boot: files on the master (absolute paths), distributed to its nodes. */
export interface VmBoot {
  readonly kernel: string;
  readonly initrd?: string;
  readonly cmdline?: string;
}

export interface PortSpec {
  readonly container: number;
  readonly host?: number;
  readonly protocol: 'tcp' | 'udp';
}

export interface DesiredCluster {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly backend: Backend;
  readonly defaults: {
    readonly memory: number; // bytes
    readonly vcpus: number;
    readonly image: string;
    readonly diskTemplate: DiskTemplate;
    readonly disks: readonly DiskSpec[];
  };
  readonly policy: ClusterPolicy;
  readonly reconcile: {
    readonly intervalMs: number;
    readonly concurrency: { readonly perNode: number; readonly total: number };
    /** auto: converge also rebalances when it has nothing else to do. Absent = off. */
    readonly rebalance?: 'off' | 'auto';
    /** The disruption budget of each antiAffinity group (plan/budgets.ts). Absent (models built by hand): 1. */
    readonly maxUnavailable?: Budget;
  };
  readonly failover: {
    readonly automatic: boolean;
    readonly nodeDownAfterMs: number;
    /** argv; the node's name and endpoint are appended. Absent: only a backend with a power switch can fence. */
    readonly fenceCommand?: readonly string[];
    /**
     * The partition guard: automatic failover stops while more than this share of the cluster's
     * nodes is unreachable at once (plan/facts.ts partitionGuard). Omitted (models built by hand): 0.5.
     */
    readonly maxUnreachableShare?: number;
    /** Falls within an hour after which a node is held out of new placements for an hour; 0 = never. Omitted: 3. */
    readonly holdAfterFailures?: number;
  };
  /** `mode`: how a running VM's disk reaches its replica (sync: a write-blocking mirror; async: increments). Absent: sync. */
  readonly replication: { readonly intervalMs: number; readonly mode?: ReplicationMode };
  /** Docker backend only: the helper image (absent: Drover's own) and the live checkpoint's bound, ms. */
  readonly docker: { readonly helperImage?: string; readonly checkpointTimeoutMs: number };
  /** Simulated latency of one driver step, ms (sim backend only). */
  readonly sim: { readonly latencyMs: number };
  /** The first three octets of the MACs Drover generates (`02:4f:a1`); absent: derived from the cluster's name (net/mac.ts). */
  readonly macPrefix?: string;
  readonly source: SourceLocation;
}

/**
 * The Cluster's allocation policy: Drover's own limits and Ganeti's ipolicy. The ipolicy parts are
 * optional: absent means no limit (Drover's clusters never needed them; `import ganeti` writes them).
 */
export interface ClusterPolicy {
  readonly vcpuRatio: number;
  readonly memoryOvercommit: number;
  readonly redundancy: 'n+1' | 'none';
  /** Instance spindles per node spindle; absent: spindles are not limited. */
  readonly spindleRatio?: number;
  /** Templates new instances may use; absent: all. */
  readonly diskTemplates?: readonly PolicyTemplate[];
  /** Ranges a new instance must lie within one of (Ganeti's minmax); absent: none. */
  readonly instanceSpecs?: readonly SpecRange[];
  /** The instance capacity counts by default (Ganeti's std). */
  readonly standardSpec?: InstanceSpecLimits;
}

/** `diskless`: a plain instance without disks (Ganeti's template of that name). */
export type PolicyTemplate = DiskTemplate | 'diskless';

/** One instance size of Ganeti's ipolicy; bytes for memory and (per disk) diskSize. */
export interface InstanceSpecLimits {
  readonly memory: number;
  readonly vcpus: number;
  readonly diskSize: number;
  readonly diskCount: number;
  readonly nicCount: number;
  readonly spindleUse: number;
}

export interface SpecRange { readonly min: InstanceSpecLimits; readonly max: InstanceSpecLimits }

export interface NodeCapacity {
  readonly memory: number; // bytes
  readonly vcpus: number;
  readonly disk: number; // bytes
}

export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface DesiredNode {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly cluster: string;
  readonly endpoint?: string;
  readonly tls?: TlsFiles;
  /** From the manifest; on docker the engine's own figures fill what is not given. */
  readonly capacity?: Partial<NodeCapacity>;
  /** Disk spindles (Ganeti's spindle_count); absent: 1. */
  readonly spindles?: number;
  readonly group: string;
  readonly drained: boolean;
  readonly offline: boolean;
  readonly source: SourceLocation;
}

export interface DesiredInstance {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** metadata.renamedFrom: the name Drover knows it by until the rename is done (plan/rename.ts). */
  readonly renamedFrom?: string;
  readonly cluster: string;
  /** A container image; for a VM (`hypervisor: kvm`), the disk image file on the master that disk 0 starts from ('' for none). */
  readonly image: string;
  /** Absent: a container. */
  readonly hypervisor?: 'kvm';
  /** VMs only: direct kernel boot. */
  readonly boot?: VmBoot;
  /** VMs only: the pinned QEMU machine type (absent: drivers/qemu/argv.ts DEFAULT_MACHINE). */
  readonly machine?: string;
  readonly memory: number; // bytes
  readonly vcpus: number;
  readonly diskTemplate: DiskTemplate;
  readonly disks: readonly DiskSpec[];
  readonly state: InstanceState;
  readonly primary?: string;
  readonly secondary?: string;
  readonly antiAffinity: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly command?: readonly string[];
  readonly ports: readonly PortSpec[];
  /** Absent: none declared (running counts as healthy). */
  readonly health?: HealthCheck;
  /** Its network interfaces, in order; absent or empty: none (the backend's default networking). */
  readonly nics?: readonly DesiredNic[];
  readonly source: SourceLocation;
  /** Where some fields are written (`disks[0].size`), for errors the planner finds in them; absent: `source`. */
  readonly fieldSources?: Readonly<Record<string, SourceLocation>>;
}

/** How many members of a group may be down at once: a count, or a share of its members (rounded up). */
export type Budget = { readonly count: number } | { readonly percent: number };

/** What a health check runs: a command inside the instance, or a TCP connect to a port of its own. */
export type HealthProbe = { readonly exec: readonly string[] } | { readonly tcp: number };

/** Docker's HEALTHCHECK, run by Drover: see schemas/instance.schema.json. */
export interface HealthCheck {
  readonly probe: HealthProbe;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly startPeriodMs: number;
}

/** One NIC of an instance: its network, and the address and MAC when the manifest fixes them. */
export interface DesiredNic {
  readonly network: string;
  /** Static address; absent: the first free one of the network's pool. */
  readonly ip?: string;
  /** Static MAC (lower case); absent: generated once from the cluster's prefix. */
  readonly mac?: string;
}

/** An L2 segment with an IPv4 subnet and the pool Drover hands addresses out of. */
export interface DesiredNetwork {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly cluster: string;
  /** The network address and prefix, canonical (`10.42.0.0/24`). */
  readonly subnet: string;
  readonly gateway?: string;
  /** The addresses Drover may hand out, both ends included (default: the subnet's hosts). */
  readonly pool: { readonly first: string; readonly last: string };
  /** Addresses never handed out nor accepted as static (the gateway is always reserved too). */
  readonly reserved: readonly string[];
  /** The host bridge (bridged) or parent interface (macvlan) on every node... */
  readonly link: string;
  /** ...unless a node's name or group names another one here (a node's own wins over its group's). */
  readonly nodeLinks: Readonly<Record<string, string>>;
  readonly groupLinks: Readonly<Record<string, string>>;
  readonly mode: AttachMode;
  readonly source: SourceLocation;
}

/** Everything the manifests want, by name. */
/** How a running VM's disks are replicated (a container's replica is always synced at the interval). */
export type ReplicationMode = 'sync' | 'async';

export interface Desired {
  readonly clusters: ReadonlyMap<string, DesiredCluster>;
  readonly nodes: ReadonlyMap<string, DesiredNode>;
  readonly instances: ReadonlyMap<string, DesiredInstance>;
  /** Absent (models built by hand): none. */
  readonly networks?: ReadonlyMap<string, DesiredNetwork>;
}
