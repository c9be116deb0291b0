/**
 * The steps of every operation, in order. A restored machine re-runs the step it was in, so each
 * step is idempotent and starts from what is really there; the ones that could do harm if
 * repeated blindly (a sync into a running instance) look first.
 */
import type { Driver } from '../drivers/driver.ts';
import type { DiskSpec, ReplicationMode } from '../model/desired.ts';
import { DriverError } from '../drivers/driver.ts';
import { capabilitiesOf } from '../drivers/backends.ts';
import type { HealthCheck } from '../model/desired.ts';
import type { InstanceSpec, MigrationPath, Operation, OperationType } from '../model/operations.ts';
import { runCheck } from '../observe/index.ts';
import type { Store } from '../store/store.ts';
import type { FenceResult } from './fence.ts';
import type { Placement } from '../store/types.ts';
import type { NicAssignment } from '../model/nics.ts';

export interface StepContext {
  readonly op: Operation;
  readonly driver: Driver;
  readonly store: Store;
  readonly now: () => number;
  /** Fence a node by its cluster's settings (fence.ts). */
  readonly fence: (node: string) => Promise<FenceResult>;
  readonly progress: (bytesDone: number, bytesTotal: number) => void;
  /** A note for the journal (e.g. an old replica left for later). */
  readonly note: (text: string) => void;
  /** Which path a migration took: into the journal at once, so that a resumed machine keeps it. */
  readonly migrated: (path: MigrationPath) => Promise<void>;
  /** How the operation's instance, if a running VM, is replicated (its cluster's replication.mode; absent: sync). */
  readonly replicationMode?: ReplicationMode;
}

export type Step = (ctx: StepContext) => Promise<void>;

/** A failure no retry can fix. */
export class StepFailure extends Error {}

/**
 * The version of each operation type's step list, persisted with every machine. Bump it when a
 * list changes in a way a machine persisted mid-way could notice (a step renamed, removed, split
 * or moved), and say in STEP_MIGRATIONS where each old step resumes; a machine whose step has no
 * mapping is parked, never resumed at a wrong step. Records without a version are version 1.
 */
export const STEPS_VERSION: Readonly<Record<OperationType, number>> = {
  CreateInstance: 1, SyncDisks: 1, StartInstance: 1, StopInstance: 1, MigrateInstance: 1, MoveInstance: 1,
  FailoverInstance: 1, ReplaceSecondary: 1, RecreateInstance: 1, RemoveInstance: 1, RemoveOrphan: 1, RenameInstance: 1,
  ModifyInstance: 1, RestartInstance: 1, GrowDisk: 1,
};

/** From an older version of an operation type's list: old step name → the current step to re-run. */
export interface StepMigration {
  readonly from: number;
  readonly steps: Readonly<Record<string, string>>;
}

/** None yet: every list is at its first version. */
export const STEP_MIGRATIONS: Readonly<Partial<Record<OperationType, readonly StepMigration[]>>> = {};

export function stepsOf(op: Operation): readonly (readonly [string, Step])[] {
  switch (op.type) {
    case 'CreateInstance': return [
      ['record', (c) => c.store.putPlacement({ instance: op.instance, primary: op.primary, ...(op.secondary && { secondary: op.secondary }), generation: op.generation, ...assignmentsOf(op.spec) })],
      ['createDisks', (c) => c.driver.createDisks(op.primary, op.instance, op.spec.disks, 'primary', op.generation)],
      ...(op.secondary ? replicaSteps(op.instance, op.primary, op.secondary, op.spec.disks, op.generation) : []),
      ['createContainer', (c) => c.driver.createInstance(op.primary, op.spec, op.generation)],
      ...(op.start ? [['start', (c: StepContext) => c.driver.startInstance(op.primary, op.instance)] as const] : []),
      ['verify', (c) => verify(c, op.primary, op.instance, op.start)],
      // a running VM's replica is kept in sync by its QEMU (block replication), which only a running guest can do
      ...(op.secondary && op.start && op.spec.hypervisor === 'kvm' ? [syncStep(op.instance, op.primary, op.secondary, 'replicate', true)] : []),
    ];
    case 'SyncDisks': return replicaSteps(op.instance, op.primary, op.secondary, undefined, undefined);
    case 'StartInstance': return [
      ['start', (c) => c.driver.startInstance(op.primary, op.instance)],
      ['verify', (c) => verify(c, op.primary, op.instance, true)],
      ...healthySteps(op.primary, op.instance, true, op.health),
      ['replicate', (c) => replicateVm(c, op.primary, op.instance)],
    ];
    case 'StopInstance': return [
      ['stop', (c) => c.driver.stopInstance(op.primary, op.instance)],
      ['verify', (c) => verify(c, op.primary, op.instance, false)],
    ];
    case 'MigrateInstance': return migrateSteps(op);
    case 'MoveInstance': return [
      ...assignSteps(op),
      ['createDisks', (c) => c.driver.createDisks(op.to, op.instance, op.spec.disks, 'replica', op.generation)],
      ['preSync', (c) => syncUnlessRunning(c, op.from, op.to, op.instance)],
      ['stopSource', (c) => stopIfThere(c, op.from, op.instance)],
      ['finalSync', (c) => syncUnlessRunning(c, op.from, op.to, op.instance)],
      ['createTarget', (c) => c.driver.createInstance(op.to, op.spec, op.generation)],
      ['promote', (c) => c.driver.promoteDisks(op.to, op.instance, op.generation)],
      ['record', (c) => updatePlacement(c, op.instance, (p) => ({ ...p, primary: op.to, ...(op.secondary ? { secondary: op.secondary } : { secondary: undefined }), generation: op.generation }))],
      ...(op.start ? [['start', (c: StepContext) => c.driver.startInstance(op.to, op.instance)] as const] : []),
      ['removeSource', async (c) => { await c.driver.removeInstance(op.from, op.instance); await c.driver.removeDisks(op.from, op.instance); }],
      ['verify', (c) => verify(c, op.to, op.instance, op.start)],
      ...healthySteps(op.to, op.instance, op.start, op.health),
    ];
    case 'FailoverInstance': return [
      ...assignSteps(op),
      ['fence', async (c) => {
        const f = await c.fence(op.from);
        if (!f.fenced) throw new StepFailure(`could not fence ${op.from} (${f.detail}); not failing over (two copies must never run)`);
        const rec = c.store.nodes.get(op.from);
        if (rec?.fencedAt === undefined) await c.store.putNode({ ...rec, name: op.from, fencedAt: c.now() });
        await stoppedByFence(c, op.from);
      }],
      ['createContainer', (c) => c.driver.createInstance(op.to, op.spec, op.generation)],
      ['promote', (c) => c.driver.promoteDisks(op.to, op.instance, op.generation)],
      ['record', (c) => updatePlacement(c, op.instance, (p) => ({ instance: p.instance, primary: op.to, generation: op.generation }))],
      ...(op.start ? [['start', (c: StepContext) => c.driver.startInstance(op.to, op.instance)] as const] : []),
      ['verify', (c) => verify(c, op.to, op.instance, op.start)],
    ];
    case 'ReplaceSecondary': return [
      ['record', (c) => updatePlacement(c, op.instance, (p) => ({ instance: p.instance, primary: p.primary, secondary: op.to, generation: p.generation }))],
      ...replicaSteps(op.instance, op.primary, op.to, op.disks, op.generation),
      ...(op.from ? [['removeOld', (c: StepContext) => removeReplicaIfReachable(c, op.from!, op.instance)] as const] : []),
    ];
    case 'RecreateInstance': return [
      ...assignSteps(op),
      ['stop', (c) => stopIfThere(c, op.primary, op.instance)],
      ['removeContainer', (c) => c.driver.removeInstance(op.primary, op.instance)],
      ['createDisks', (c) => c.driver.createDisks(op.primary, op.instance, op.spec.disks, 'primary', op.generation)],
      ['createContainer', (c) => c.driver.createInstance(op.primary, op.spec, op.generation)],
      ['record', (c) => updatePlacement(c, op.instance, (p) => ({ ...p, generation: op.generation }))],
      ...(op.start ? [['start', (c: StepContext) => c.driver.startInstance(op.primary, op.instance)] as const] : []),
      ['verify', (c) => verify(c, op.primary, op.instance, op.start)],
      ...healthySteps(op.primary, op.instance, op.start, op.health),
    ];
    case 'ModifyInstance': return [
      ['update', (c) => update(c, op.primary, op.instance, op.spec)],
      ['verify', (c) => verifyLimits(c, op.primary, op.instance, op.spec)],
    ];
    case 'RestartInstance': return [
      ['stop', (c) => stopIfThere(c, op.primary, op.instance)],
      ['update', (c) => update(c, op.primary, op.instance, op.spec)],
      ...(op.start ? [['start', (c: StepContext) => c.driver.startInstance(op.primary, op.instance)] as const] : []),
      ['verify', async (c) => { await verifyLimits(c, op.primary, op.instance, op.spec); await verify(c, op.primary, op.instance, op.start); }],
      ...healthySteps(op.primary, op.instance, op.start, op.health),
    ];
    case 'GrowDisk': return [
      // the replica first: a sync never copies into a smaller disk
      ...(op.secondary ? [['growReplica', (c: StepContext) => growDisks(c, op.secondary!, op.instance, op.disks)] as const] : []),
      ['growPrimary', (c) => growDisks(c, op.primary, op.instance, op.disks)],
    ];
    case 'RenameInstance': return [
      ['renamePrimary', (c) => renameOn(c, op.primary, op.from, op.instance)],
      // a backend that stops the instance to rename it: running again before the replica is renamed
      ...(op.disruption === 'none' ? [] : [['start', (c: StepContext) => startIfItRan(c, op)] as const]),
      ...(op.secondary ? [['renameReplica', (c: StepContext) => renameOn(c, op.secondary!, op.from, op.instance)] as const] : []),
      ['record', (c) => movePlacement(c, op.from, op.instance)],
      ['verify', (c) => verifyRenamed(c, op)],
    ];
    case 'RemoveInstance': return [
      ...(op.primary ? [
        ['removeContainer', (c: StepContext) => c.driver.removeInstance(op.primary!, op.instance)] as const,
        ['removeDisks', (c: StepContext) => c.driver.removeDisks(op.primary!, op.instance)] as const,
      ] : []),
      ...(op.secondary ? [['removeReplica', (c: StepContext) => c.driver.removeDisks(op.secondary!, op.instance)] as const] : []),
      ['forget', (c) => c.store.deletePlacement(op.instance)],
    ];
    case 'RemoveOrphan': return [
      ...(op.containers ? [['removeContainer', (c: StepContext) => c.driver.removeInstance(op.node, op.instance)] as const] : []),
      ...(op.volumes ? [['removeDisks', (c: StepContext) => c.driver.removeDisks(op.node, op.instance)] as const] : []),
      ['record', (c) => {
        const p = c.store.placements.get(op.instance);
        return p?.secondary === op.node && op.volumes ? c.store.putPlacement({ instance: p.instance, primary: p.primary, generation: p.generation, ...(p.nics && { nics: p.nics }) }) : Promise.resolve();
      }],
    ];
  }
}

/** The NICs' addresses and MACs, as the placement keeps them. */
function assignmentsOf(spec: InstanceSpec): { nics?: readonly NicAssignment[] } {
  return spec.nics?.length ? { nics: spec.nics.map(({ network, ip, mac }) => ({ network, ip, mac })) } : {};
}

/**
 * An operation that makes the container anew with NICs: their assignments go into the placement first,
 * so a master killed before the container exists finds them there (and plans the same address again).
 * Operations without NICs have no such step (their lists are as before).
 */
function assignSteps(op: { readonly instance: string; readonly spec: InstanceSpec }): (readonly [string, Step])[] {
  const nics = assignmentsOf(op.spec).nics;
  if (!nics) return [];
  return [['assign', (c) => updatePlacement(c, op.instance, (p) => (JSON.stringify(p.nics) === JSON.stringify(nics) ? p : { ...p, nics }))]];
}

async function renameOn(c: StepContext, node: string, from: string, to: string): Promise<void> {
  if (!c.driver.renameInstance) throw new StepFailure(`the ${c.driver.backend} backend cannot rename instances`);
  await c.driver.renameInstance(node, from, to);
}

/**
 * The placement (with what was applied and the last sync) and any balance decision take the new
 * name: written under it first, then dropped under the old one, so a crash in between leaves both
 * and the step, run again, finishes the move.
 */
async function movePlacement(c: StepContext, from: string, to: string): Promise<void> {
  const old = c.store.placements.get(from);
  if (!old && !c.store.placements.has(to)) throw new StepFailure(`${from} has no placement in the store`);
  if (old) await c.store.putPlacement({ ...old, instance: to });
  const target = c.store.targets.get(from);
  if (target) await c.store.putTarget({ ...target, instance: to });
  if (target) await c.store.deleteTarget(from);
  if (old) await c.store.deletePlacement(from);
}

/** After a rename that had to stop the instance: start it again unless Drover last left it stopped. */
async function startIfItRan(c: StepContext, op: Extract<Operation, { type: 'RenameInstance' }>): Promise<void> {
  const p = c.store.placements.get(op.from) ?? c.store.placements.get(op.instance);
  const probe = await c.driver.probe(op.primary);
  const ctr = probe.containers.find((x) => x.instance === op.instance);
  if (ctr && ctr.state !== 'running' && p?.applied?.running !== false) await c.driver.startInstance(op.primary, op.instance);
}

/** Nothing is left under the old name, and the primary holds the instance under the new one. */
async function verifyRenamed(c: StepContext, op: Extract<Operation, { type: 'RenameInstance' }>): Promise<void> {
  for (const node of [op.primary, ...(op.secondary ? [op.secondary] : [])]) {
    const probe = await c.driver.probe(node);
    if (probe.containers.some((x) => x.instance === op.from) || probe.volumes.some((v) => v.instance === op.from)) {
      throw new StepFailure(`${op.from}: copies left on ${node} under the old name after the rename`);
    }
  }
  const primary = await c.driver.probe(op.primary);
  if (!primary.volumes.some((v) => v.instance === op.instance) && !primary.containers.some((x) => x.instance === op.instance)) {
    throw new StepFailure(`${op.instance}: nothing on ${op.primary} under the new name after the rename`);
  }
}

/** Create the replica's volumes and sync them; the sync's end is the new recovery point. */
function replicaSteps(instance: string, primary: string, secondary: string, disks: Parameters<Driver['createDisks']>[2] | undefined, generation: number | undefined): (readonly [string, Step])[] {
  return [
    ['createReplica', async (c) => {
      const p = c.store.placements.get(instance);
      await c.driver.createDisks(secondary, instance, disks ?? (await primaryDisks(c, primary, instance)), 'replica', generation ?? p?.generation ?? 1);
    }],
    syncStep(instance, primary, secondary),
  ];
}

/**
 * A VM started again mirrors into its secondary at once (its QEMU is new: no mirror runs); nothing for a
 * container, whose replica is synced at the replication interval.
 */
async function replicateVm(c: StepContext, primary: string, instance: string): Promise<void> {
  const p = c.store.placements.get(instance);
  if (!p?.secondary || p.primary !== primary || p.applied?.spec?.hypervisor !== 'kvm') return;
  await syncStep(instance, primary, p.secondary, 'sync', true)[1](c);
}

/**
 * Sync the replica; its end is the new recovery point. A running VM's (`vm`) goes on being mirrored: its
 * primary says whether the mirror is in sync (nothing lost from then on), recorded as such. An async VM's
 * sync ships one increment, a copy as of its start: the recovery point is dated from before the call.
 */
function syncStep(instance: string, primary: string, secondary: string, name = 'sync', vm = false): readonly [string, Step] {
  return [name, async (c) => {
    const started = c.now();
    await c.driver.syncDisks(primary, secondary, instance, c.progress, c.replicationMode);
    const kvm = vm || c.store.placements.get(instance)?.applied?.spec?.hypervisor === 'kvm'; // an interval's SyncDisks of a VM too
    const increments = kvm && c.replicationMode === 'async';
    const seen = kvm && !increments ? (await c.driver.probe(primary)).containers.find((x) => x.instance === instance && x.state === 'running')?.replication : undefined;
    const lastSync = { at: increments ? started : c.now(), node: secondary, ...(seen?.kind === 'in-sync' && { mirror: 'in-sync' as const }) };
    await updatePlacement(c, instance, (p) => (p.secondary === secondary ? { ...p, lastSync } : p));
  }];
}

function migrateSteps(op: Extract<Operation, { type: 'MigrateInstance' }>): (readonly [string, Step])[] {
  const swapped = (p: Placement, c: StepContext): Placement =>
    ({ instance: p.instance, primary: op.to, secondary: op.from, generation: op.generation, lastSync: { at: c.now(), node: op.from } });
  return [
    ...assignSteps(op),
    ['checkTarget', async (c) => {
      const probe = await c.driver.probe(op.to);
      const replicas = probe.volumes.filter((v) => v.instance === op.instance).length;
      if (replicas < op.spec.disks.length) throw new StepFailure(`${op.to} holds no complete replica of ${op.instance}; refusing to migrate onto it`);
    }],
    ['preSync', (c) => syncUnlessRunning(c, op.from, op.to, op.instance)],
    ['live', async (c) => {
      if (!op.start) return c.migrated({ path: 'cold', cause: 'stopped' });
      if (!movesLive(c.driver, op.spec) || !c.driver.liveMigrate) return c.migrated({ path: 'cold', cause: 'backend' });
      const r = await c.driver.liveMigrate(op.from, op.to, op.spec, op.generation, c.progress);
      if (r.kind === 'cold') {
        c.note(`live → cold: ${r.why}`);
        return c.migrated({ path: 'cold', cause: r.cause, why: r.why });
      }
      c.note(`live, downtime ${r.downtimeMs} ms`);
      await c.migrated({ path: 'live', downtimeMs: r.downtimeMs });
      await updatePlacement(c, op.instance, (p) => swapped(p, c));
    }],
    ['stopSource', (c) => stopIfThere(c, op.from, op.instance)],
    ['finalSync', (c) => syncUnlessRunning(c, op.from, op.to, op.instance)],
    ['createTarget', (c) => c.driver.createInstance(op.to, op.spec, op.generation)],
    ['promote', (c) => c.driver.promoteDisks(op.to, op.instance, op.generation)],
    ['record', (c) => updatePlacement(c, op.instance, (p) => (p.primary === op.to ? p : swapped(p, c)))],
    ...(op.start ? [['start', (c: StepContext) => c.driver.startInstance(op.to, op.instance)] as const] : []),
    ['removeSource', (c) => c.driver.removeInstance(op.from, op.instance)],
    ['demoteSource', (c) => c.driver.createDisks(op.from, op.instance, op.spec.disks, 'replica', op.generation)],
    // a VM's replication runs from its QEMU: the new primary mirrors into the old one from now on
    ...(op.start && op.spec.hypervisor === 'kvm' ? [syncStep(op.instance, op.to, op.from, 'replicate', true)] : []),
    ['verify', (c) => verify(c, op.to, op.instance, op.start)],
    ...healthySteps(op.to, op.instance, op.start, op.health),
  ];
}

/** The backend's capability for this kind of instance (a VM's is its own): the table decides, not the driver's methods. */
function movesLive(driver: Driver, spec: InstanceSpec): boolean {
  const caps = capabilitiesOf(driver.backend);
  return spec.hypervisor === 'kvm' ? caps.vm?.liveMigration === true : caps.liveMigration;
}

/**
 * The last step of an operation that brings an instance back, when it declares a health check:
 * the operation (and so the next member of its group) waits until the check passes. The steps of
 * an operation without a check, and so of every machine persisted before checks existed, are unchanged.
 */
function healthySteps(node: string, instance: string, running: boolean, check: HealthCheck | undefined): (readonly [string, Step])[] {
  return running && check ? [['healthy', (c) => awaitHealthy(c, node, instance, check)]] : [];
}

/**
 * Docker's rule: checks every `interval`; failures within `startPeriod` do not count; `retries`
 * failures in a row make it unhealthy, which no retry of the step can fix. A resumed machine
 * starts counting afresh (its start period too): waiting longer is safe, moving on early is not.
 */
async function awaitHealthy(c: StepContext, node: string, instance: string, check: HealthCheck): Promise<void> {
  const graceUntil = c.now() + check.startPeriodMs;
  let failures = 0;
  for (;;) {
    const r = await runCheck(c.driver, node, instance, check);
    if (r.ok) return;
    if (c.now() >= graceUntil && ++failures >= check.retries) {
      throw new StepFailure(`${instance}: unhealthy on ${node} after ${failures} failed health checks: ${r.output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, check.intervalMs));
  }
}

/**
 * Fencing stopped everything on the node: record it as Drover's doing, so that the instances left
 * there (plain ones) are not reported as stopped by hand when the node returns.
 */
async function stoppedByFence(c: StepContext, node: string): Promise<void> {
  for (const p of [...c.store.placements.values()]) {
    if (p.primary === node && p.applied?.running) await c.store.putPlacement({ ...p, applied: { ...p.applied, running: false } });
  }
}

async function updatePlacement(c: StepContext, instance: string, f: (p: Placement) => Placement): Promise<void> {
  const p = c.store.placements.get(instance);
  if (!p) throw new StepFailure(`${instance} has no placement in the store`);
  const next = f(p);
  // the NICs' assignments stay with the instance through every change of its nodes
  if (next !== p) await c.store.putPlacement(stripUndefined(p.nics && !next.nics ? { ...next, nics: p.nics } : next));
}

function stripUndefined(p: Placement): Placement {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as unknown as Placement;
}

/** Never copy into disks a running copy is using: after a live migration the target runs. */
async function syncUnlessRunning(c: StepContext, from: string, to: string, instance: string): Promise<void> {
  // `to` already recorded as the primary (a live step succeeded before a restart): its disks are the newest,
  // even if its process has exited since; copying the stale source over them would lose writes
  if (c.store.placements.get(instance)?.primary === to) return;
  const probe = await c.driver.probe(to);
  if (probe.containers.some((x) => x.instance === instance && x.state === 'running')) return;
  const source = await c.driver.probe(from);
  if (!source.containers.some((x) => x.instance === instance) && !source.volumes.some((v) => v.instance === instance)) return;
  await c.driver.syncDisks(from, to, instance, c.progress);
}

async function stopIfThere(c: StepContext, node: string, instance: string): Promise<void> {
  const probe = await c.driver.probe(node);
  if (probe.containers.some((x) => x.instance === instance && x.state === 'running')) await c.driver.stopInstance(node, instance);
}

async function removeReplicaIfReachable(c: StepContext, node: string, instance: string): Promise<void> {
  try {
    await c.driver.removeInstance(node, instance);
    await c.driver.removeDisks(node, instance);
  } catch (e) {
    // An unreachable old secondary is cleaned when it returns (its copies are then stale).
    if (!(e instanceof DriverError && e.transient)) throw e;
    c.note(`old replica on ${node} left for later: ${e.message}`);
  }
}

async function primaryDisks(c: StepContext, primary: string, instance: string) {
  const probe = await c.driver.probe(primary);
  return probe.volumes.filter((v) => v.instance === instance).sort((a, b) => a.disk - b.disk).map((v) => ({ size: v.size, mount: '' }));
}

async function update(c: StepContext, node: string, instance: string, spec: InstanceSpec): Promise<void> {
  await c.driver.updateInstance(node, instance, { memory: spec.memory, vcpus: spec.vcpus });
}

/** The node shows the new limits (a driver that cannot tell shows none, and is trusted). */
async function verifyLimits(c: StepContext, node: string, instance: string, spec: InstanceSpec): Promise<void> {
  const ctr = (await c.driver.probe(node)).containers.find((x) => x.instance === instance);
  if (!ctr) throw new StepFailure(`${instance}: no container on ${node}`);
  const wrong = (['memory', 'vcpus'] as const).filter((f) => ctr[f] !== undefined && ctr[f] !== spec[f]);
  if (wrong.length) throw new StepFailure(`${instance}: ${wrong.map((f) => `${f} is ${ctr[f]} on ${node}, not ${spec[f]}`).join(', ')} after the update`);
}

async function growDisks(c: StepContext, node: string, instance: string, disks: readonly DiskSpec[]): Promise<void> {
  for (const [disk, d] of disks.entries()) await c.driver.growDisk(node, instance, disk, d.size);
}

async function verify(c: StepContext, node: string, instance: string, running: boolean): Promise<void> {
  const probe = await c.driver.probe(node);
  const ctr = probe.containers.find((x) => x.instance === instance);
  if (!ctr) throw new StepFailure(`${instance}: no container on ${node} after the operation`);
  if (running && ctr.state !== 'running') throw new StepFailure(`${instance}: not running on ${node} after start`);
  if (!running && ctr.state === 'running') throw new StepFailure(`${instance}: still running on ${node}`);
}
