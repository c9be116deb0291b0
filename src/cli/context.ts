/** Loading manifests and opening the backend and the store for a command. */
import { loadManifests, formatDiagnostic, DEFAULT_MANIFEST_PATH, type LoadOptions } from '../manifest/index.ts';
import type { Desired } from '../model/desired.ts';
import type { Driver } from '../drivers/driver.ts';
import { backend, DEFAULT_BACKEND } from '../drivers/index.ts';
import { observeAndRecord } from '../apply/converge.ts';
import { healthChecksOf } from '../observe/index.ts';
import type { Observed } from '../model/observed.ts';
import type { StoreLocation } from '../store/backend.ts';
import type { MasterLease } from '../store/lease.ts';
import { Store } from '../store/store.ts';
import { EXIT, locationOf, type Io } from './io.ts';

/** Load and validate; on errors print every diagnostic and return undefined. */
export async function loadOrReport(paths: readonly string[], io: Io, options: LoadOptions = {}): Promise<{ desired: Desired; files: readonly string[] } | undefined> {
  const r = await loadManifests(paths.length ? paths : [DEFAULT_MANIFEST_PATH], options);
  if (!r.ok) {
    for (const d of r.diagnostics) io.err(formatDiagnostic(d));
    const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
    io.err(`${errors} error${errors === 1 ? '' : 's'} in the manifests; nothing was changed.`);
    return undefined;
  }
  for (const w of r.warnings) io.err(formatDiagnostic(w));
  return { desired: r.desired, files: r.files };
}

/** The driver for the manifests' backend. One backend per run. */
export async function openDriver(desired: Desired, stateDir: string, options: { readOnly?: boolean } = {}): Promise<Driver> {
  const clusters = [...desired.clusters.values()];
  const names = [...new Set(clusters.map((c) => c.backend))];
  if (names.length > 1) throw new Error(`manifests mix the ${names.join(' and ')} backends; run them separately`);
  const cluster = clusters[0];
  const nodes = [...desired.nodes.values()];
  return backend(cluster?.backend ?? DEFAULT_BACKEND).open({ nodes, stateDir, ...(cluster && { cluster }), ...(options.readOnly && { readOnly: true }) });
}

/**
 * A master that lost its lease (etcd: keep-alive failed, expired, broken) must stop acting at
 * once: another master may already be taking over. Exiting is the one stop that is sure to halt
 * every step in flight; what was persisted is resumed by the next holder, as after a kill -9.
 */
export function exitWhenLost(lease: MasterLease, io: Io): void {
  lease.onLost((e) => {
    io.err(`drover: lost the cluster lease: ${e.message}. Stopping now so that two masters never act at once; the next master resumes what was in flight.`);
    process.exit(EXIT.error);
  });
}

/** What read-only commands (plan, status) start from: manifests, the store, one look at the nodes. */
export interface Look {
  readonly desired: Desired;
  readonly files: readonly string[];
  readonly stateDir: string;
  readonly location: StoreLocation;
  readonly store: Store;
  readonly observed: Observed;
  /** Opened read-only: for the commands that ask the nodes more than a probe tells (verify). */
  readonly driver: Driver;
}

/** Load, open read-only, observe, run `fn`, close. Undefined when the manifests have errors. */
export async function withLook<T>(paths: readonly string[], flags: Parameters<typeof locationOf>[0], io: Io, fn: (look: Look) => Promise<T>): Promise<T | undefined> {
  const loaded = await loadOrReport(paths, io);
  if (!loaded) return undefined;
  const location = locationOf(flags);
  const stateDir = location.stateDir;
  const store = await Store.open(location, { readOnly: true });
  const driver = await openDriver(loaded.desired, stateDir, { readOnly: true });
  try {
    const observed = await observeAndRecord(driver, [...loaded.desired.nodes.values()], store, undefined, { record: false, checks: healthChecksOf(loaded.desired) });
    return await fn({ ...loaded, stateDir, location, store, observed, driver });
  } finally {
    await driver.close();
  }
}
