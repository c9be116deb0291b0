/**
 * Desired state: what the manifests say, resolved (defaults applied, quantities in bytes,
 * durations in ms). Produced by manifest/, read by plan/ and alloc/. Plain readonly data.
 */

import type { BackendName } from '../drivers/backends.ts';

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
  readonly policy: {
    readonly vcpuRatio: number;
    readonly memoryOvercommit: number;
    readonly redundancy: 'n+1' | 'none';
  };
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
  readonly replication: { readonly intervalMs: number };
  /** Docker backend only: the helper image (absent: Drover's own) and the live checkpoint's bound, ms. */
  readonly docker: { readonly helperImage?: string; readonly checkpointTimeoutMs: number };
  /** Simulated latency of one driver step, ms (sim backend only). */
  readonly sim: { readonly latencyMs: number };
  readonly source: SourceLocation;
}

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

/** Everything the manifests want, by name. */
export interface Desired {
  readonly clusters: ReadonlyMap<string, DesiredCluster>;
  readonly nodes: ReadonlyMap<string, DesiredNode>;
  readonly instances: ReadonlyMap<string, DesiredInstance>;
}
