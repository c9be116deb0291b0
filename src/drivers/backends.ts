/**
 * The backends Drover knows, and what each can do: the one place a backend is named. Plain data
 * with no driver code behind it, so that model/, manifest/ and plan/ may read it (the planner
 * decides from capabilities, never from a backend's name); the factories are in drivers/index.ts.
 */

/** Instance fields a backend could change on a running instance without recreating it. */
export type ResizableField = 'memory' | 'vcpus';

export interface BackendCapabilities {
  /**
   * Can move a running instance keeping its process state, where both nodes can checkpoint; instances
   * with published ports move cold (a published port cannot be restored on another node's engine).
   */
  readonly liveMigration: boolean;
  /** Can power a node off by itself: fencing needs no `failover.fenceCommand`. */
  readonly powerSwitch: boolean;
  /** Fields it changes on a running instance (Driver.updateInstance): ModifyInstance, no downtime. */
  readonly inPlaceResize: readonly ResizableField[];
  /** Fields it changes only on a stopped instance: RestartInstance. Any other changed field is a RecreateInstance. */
  readonly restartResize: readonly ResizableField[];
  /** Nodes hold images of their own (verify compares them). */
  readonly images: boolean;
  /**
   * Renaming an instance in place (`metadata.renamedFrom`): `in-place` keeps it running, `restart`
   * stops it while its copies take the new name, `no`: the backend cannot (the plan says so).
   */
  readonly rename: 'in-place' | 'restart' | 'no';
  /**
   * What `drover logs` shows (Driver.instanceLogs): `output`, the instance's own stdout and stderr;
   * `journal`, what happened to it (the sim's world). Absent: no logs.
   */
  readonly logs?: 'output' | 'journal';
  /**
   * What `drover console` opens (Driver.openConsole): `shell`, a shell started inside the running
   * instance; `serial`, its serial console (a VM's). Absent: no console.
   */
  readonly console?: 'shell' | 'serial';
  /** Absent: the backend runs no VMs. */
  readonly vm?: VmCapabilities;
  /** What its NICs (Instance.spec.nics) cannot do; absent: no limit of its own. NICs per instance depend on a node's engine: NodeProbe.maxNics. */
  readonly nics?: NicCapabilities;
}

/** The limits of a backend's NICs, checked in the manifests (manifest/networks.ts) before anything is made. */
export interface NicCapabilities {
  /** An instance may have NICs and published `ports` together. */
  readonly withPorts: boolean;
  /** How many `mode: macvlan` Networks one link of a node may carry. */
  readonly macvlanPerLink?: number;
  /** A `mode: bridged` and a `mode: macvlan` Network may share a link of a node. */
  readonly bridgedBesideMacvlan: boolean;
}

/** What a backend does with `hypervisor: kvm` instances (virtual machines). */
export interface VmCapabilities {
  /** Runs VMs at all. */
  readonly supported: boolean;
  /** Moves a running VM keeping its state (QEMU's migration with its storage); else VMs move cold. */
  readonly liveMigration: boolean;
}

/** What a Node manifest must say on this backend. */
export interface NodeNeeds {
  /** memory, vcpus and disk must be given: nothing can be probed. */
  readonly capacity: boolean;
  /** An endpoint is required; the example is shown when it is missing. */
  readonly endpoint?: { readonly example: string };
}

export interface BackendInfo {
  readonly description: string;
  readonly capabilities: BackendCapabilities;
  readonly node: NodeNeeds;
}

export const BACKENDS = {
  sim: {
    description: 'the embedded simulator',
    // it stands in for Ganeti's VMs, whose memory and vcpus take effect at the next boot (gnt-instance modify -B)
    capabilities: { liveMigration: false, powerSwitch: true, inPlaceResize: [], restartResize: ['memory', 'vcpus'], images: false, rename: 'in-place', logs: 'journal',
      // it models VMs (boot time, QEMU's overhead, live migration's pause) so that plans and capacity can be
      // tried without QEMU; its containers move cold
      vm: { supported: true, liveMigration: true } },
    node: { capacity: true },
  },
  docker: {
    description: 'Docker engines',
    // memory and CPU limits through the engine's container update API (`docker update`)
    capabilities: { liveMigration: true, powerSwitch: false, inPlaceResize: ['memory', 'vcpus'], restartResize: [], images: true, rename: 'restart', logs: 'output', console: 'shell',
      // VMs: QEMU in a container (drivers/docker/vm/), moved live by QEMU's migration with its storage
      vm: { supported: true, liveMigration: true },
      // an instance with NICs is reached on their addresses, ports are published on a node bridge only; an engine
      // makes one macvlan network per parent, and a bridge network on a macvlan parent breaks its macvlans; the
      // NICs per instance depend on the engine's API version (one below 1.44): the probe says (maxNics)
      nics: { withPorts: false, macvlanPerLink: 1, bridgedBesideMacvlan: false } },
    node: { capacity: false, endpoint: { example: 'unix:///var/run/docker.sock' } },
  },
} as const satisfies Readonly<Record<string, BackendInfo>>;

export type BackendName = keyof typeof BACKENDS;

export const BACKEND_NAMES: readonly BackendName[] = Object.keys(BACKENDS) as BackendName[];

/** Where a manifest names no backend (the quick start, imports). */
export const DEFAULT_BACKEND: BackendName = 'sim';

export function isBackendName(name: string): name is BackendName {
  return Object.hasOwn(BACKENDS, name);
}

export function capabilitiesOf(backend: BackendName): BackendCapabilities {
  return BACKENDS[backend].capabilities;
}
