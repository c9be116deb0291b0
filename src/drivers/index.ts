/**
 * The backend registry: each backend's capabilities (backends.ts) and the factory of its driver.
 * Code that opens a driver goes through here; nothing else names a backend.
 */
import type { DesiredCluster, DesiredNode } from '../model/desired.ts';
import { BACKENDS, type BackendInfo, type BackendName } from './backends.ts';
import type { Driver } from './driver.ts';
import { withRestores } from './restore.ts';

export { BACKENDS, BACKEND_NAMES, DEFAULT_BACKEND, capabilitiesOf, isBackendName, type BackendName, type BackendCapabilities } from './backends.ts';

export interface DriverSetup {
  /** The cluster whose nodes the driver manages (none in empty manifests). */
  readonly cluster?: DesiredCluster;
  readonly nodes: readonly DesiredNode[];
  /** Where a backend that keeps state of its own (sim) keeps it. */
  readonly stateDir: string;
  /** For commands that only look: the driver writes nothing. */
  readonly readOnly?: boolean;
}

export type DriverFactory = (setup: DriverSetup) => Promise<Driver>;

/** Imported on demand: a sim run never loads dockerode. */
const FACTORIES: Readonly<Record<BackendName, DriverFactory>> = {
  sim: async ({ cluster, nodes, stateDir, readOnly }) => {
    const { SimDriver } = await import('./sim/index.ts');
    return new SimDriver({ stateDir, nodes, latencyMs: cluster?.sim.latencyMs ?? 0, ...(readOnly && { readOnly: true }) });
  },
  docker: async ({ cluster, nodes }) => {
    if (!cluster) throw new Error('the docker backend needs a Cluster');
    const { createDockerDriver } = await import('./docker/index.ts');
    return createDockerDriver({
      cluster: cluster.name, nodes, checkpointTimeoutMs: cluster.docker.checkpointTimeoutMs,
      ...(cluster.docker.helperImage !== undefined && { helperImage: cluster.docker.helperImage }),
    });
  },
};

export interface RegisteredBackend extends BackendInfo {
  readonly name: BackendName;
  readonly open: DriverFactory;
}

export function backend(name: BackendName): RegisteredBackend {
  // a driver that may create disks seeds the staged restores (drover restore) into them
  const open: DriverFactory = async (setup) => {
    const d = await FACTORIES[name](setup);
    return setup.readOnly ? d : withRestores(d, setup.stateDir);
  };
  return { name, ...BACKENDS[name], open };
}
