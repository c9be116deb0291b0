/**
 * Whether a migration will be live, said in advance: from the backend's capabilities (never its
 * name), the instance (stopped, or publishing ports: cold) and what each node said about
 * checkpointing. A node not probed yet does not make it cold: apply tries, and falls back.
 */
import { capabilitiesOf } from '../drivers/backends.ts';
import type { Desired } from '../model/desired.ts';
import type { Observed } from '../model/observed.ts';
import type { MigrateInstance, MigrationForecast, Operation } from '../model/operations.ts';

export function forecastMigration(op: MigrateInstance, desired: Desired, observed: Observed): MigrationForecast {
  const cluster = desired.clusters.get(desired.instances.get(op.instance)?.cluster ?? '');
  const caps = cluster && capabilitiesOf(cluster.backend);
  if (!caps || !(op.spec.hypervisor === 'kvm' ? caps.vm?.liveMigration === true : caps.liveMigration)) return { path: 'cold', cause: 'backend' };
  if (!op.start) return { path: 'cold', cause: 'stopped' };
  if (op.spec.ports.length > 0) return { path: 'cold', cause: 'ports' };
  if (op.spec.hypervisor === 'kvm') return { path: 'live' }; // QEMU keeps the guest's state itself: no checkpoint probe
  const nodes = [op.from, op.to];
  const cannot = nodes.find((n) => observed.nodes.get(n)?.canCheckpoint === false);
  if (cannot) return { path: 'cold', cause: 'no-checkpoint', node: cannot };
  const unprobed = nodes.filter((n) => observed.nodes.get(n)?.canCheckpoint === undefined);
  return unprobed.length ? { path: 'live', unprobed } : { path: 'live' };
}

/** The operation with its forecast, when it is a migration. */
export function withForecast(op: Operation, desired: Desired, observed: Observed): Operation {
  return op.type === 'MigrateInstance' ? { ...op, expected: forecastMigration(op, desired, observed) } : op;
}
