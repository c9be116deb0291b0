/**
 * The simulated backend: real code over a simulated world. Nodes have the capacities their
 * manifests give, steps take the Cluster's `sim.latency`, disk syncs report byte progress, and
 * faults can be injected (a failed node is unreachable; a fenced one is powered off).
 */
import type { DesiredNode, DiskSpec, HealthProbe, ReplicationMode } from '../../model/desired.ts';
import type { HealthResult, ObservedReplication } from '../../model/observed.ts';
import type { InstanceSpec } from '../../model/operations.ts';
import { specHash, specMatches } from '../../model/hash.ts';
import { DriverError, type DiskExport, type Driver, type Limits, type LiveMigrateResult, type LogRequest, type LogWriter, type NodeProbe, type ProgressFn } from '../driver.ts';
import { SimWorld, volumeKey, type SimContainer, type SimVolume } from './world.ts';

export interface SimDriverOptions {
  readonly stateDir: string;
  readonly nodes: readonly DesiredNode[];
  /** Latency of one step, ms. */
  readonly latencyMs?: number;
  readonly fsync?: boolean;
  /** For commands that only look (status): never writes the world. */
  readonly readOnly?: boolean;
  /** Injected faults: called before every step; throw a DriverError to fail it. */
  readonly faults?: (step: string, node: string, instance?: string) => void;
}

/**
 * A VM's boot and its ACPI powerdown, as measured with QEMU 7.2 (shared/reference/qemu.md: 3.4–3.8 s to the
 * guest's userspace, 3.3–3.6 s to power off): added to a VM's start and stop when steps have a latency (a
 * sim with `sim.latency: 0` stays instant for tests and benchmarks).
 */
export const SIM_VM_BOOT_MS = 3500;
export const SIM_VM_POWERDOWN_MS = 3400;
/**
 * A VM's pause in a live migration with its storage (shared/reference/qemu.md: 26–92 ms from the source's
 * STOP to the destination's RESUME), when steps have a latency; 0 without.
 */
export const SIM_VM_MIGRATION_DOWNTIME_MS = 50;

/** A sync takes one step's latency plus one more per GiB copied. */
const SYNC_BYTES_PER_LATENCY = 1024 * 1024 * 1024;

export class SimDriver implements Driver {
  readonly backend = 'sim' as const;
  readonly world: SimWorld;
  private readonly nodes: ReadonlyMap<string, DesiredNode>;
  private readonly latencyMs: number;

  constructor(private readonly options: SimDriverOptions) {
    this.world = new SimWorld(options.stateDir, { ...(options.fsync !== undefined && { fsync: options.fsync }), ...(options.readOnly && { readOnly: true }) });
    this.nodes = new Map(options.nodes.map((n) => [n.name, n]));
    this.latencyMs = options.latencyMs ?? 0;
  }

  async probe(node: string): Promise<NodeProbe> {
    await this.step('probe', node);
    const desired = this.nodes.get(node)!;
    const n = this.world.node(node);
    return {
      capacity: {
        memory: desired.capacity?.memory ?? 0,
        vcpus: desired.capacity?.vcpus ?? 0,
        disk: desired.capacity?.disk ?? 0,
      },
      containers: [...n.containers.values()].map(({ instance, state, specHash, generation, memory, vcpus, nics, vm }) => ({ instance, state, specHash, generation, memory, vcpus, ...(nics && { nics }),
        ...(vm && { accel: vm.accel }), ...(vm && state === 'running' && { replication: vm.increments ? { kind: 'increments' as const } : this.mirrorOf(vm.mirror) }) })),
      volumes: [...n.volumes.values()].map(({ instance, disk, role, size, generation }) => ({ instance, disk, role, size, generation })),
    };
  }

  async createDisks(node: string, instance: string, disks: readonly DiskSpec[], role: 'primary' | 'replica', generation: number): Promise<void> {
    await this.step('createDisks', node, instance);
    const volumes = this.world.node(node).volumes;
    const writes: Promise<void>[] = [];
    disks.forEach((d, disk) => {
      const existing = volumes.get(`${instance}/${disk}`);
      if (existing && existing.size >= d.size && existing.role === role && existing.generation === generation) return;
      // An existing volume keeps its data; only its size, role and generation are brought up to date.
      writes.push(this.world.putVolume(node, { instance, disk, role, size: Math.max(d.size, existing?.size ?? 0), generation, dataVersion: existing?.dataVersion ?? 0 }));
    });
    await Promise.all(writes);
  }

  async removeDisks(node: string, instance: string): Promise<void> {
    await this.step('removeDisks', node, instance);
    await Promise.all(this.volumesOf(node, instance).map((v) => this.world.deleteVolume(node, `${v.instance}/${v.disk}`)));
  }

  async promoteDisks(node: string, instance: string, generation: number): Promise<void> {
    await this.step('promoteDisks', node, instance);
    await Promise.all(this.volumesOf(node, instance).map((v) => this.world.putVolume(node, { ...v, role: 'primary', generation })));
  }

  async syncDisks(from: string, to: string, instance: string, onProgress?: ProgressFn, mode?: ReplicationMode): Promise<number> {
    await this.step('syncDisks', from, instance);
    this.reachable(to);
    const source = this.volumesOf(from, instance);
    const total = source.reduce((sum, v) => sum + v.size, 0);
    const target = this.world.node(to).volumes;
    for (const v of source) {
      if (!target.has(`${instance}/${v.disk}`)) throw new DriverError(`${to}: no replica volume ${instance}/${v.disk} to sync into`, false, to);
    }
    await this.transfer(total, from, to, onProgress);
    await Promise.all(source.map((v) => {
      const t = target.get(`${instance}/${v.disk}`)!;
      return this.world.putVolume(to, { ...t, size: v.size, dataVersion: v.dataVersion });
    }));
    // a running VM's sync is QEMU's mirror, which keeps the replica in sync from now on; async: one increment
    const vm = this.world.node(from).containers.get(instance);
    if (vm?.vm && vm.state === 'running') {
      await this.world.putContainer(from, { ...vm, vm: mode === 'async' ? { accel: vm.vm.accel, increments: true } : { accel: vm.vm.accel, mirror: { node: to, falls: this.world.fallsOf(to) } } });
    }
    return total;
  }

  async createInstance(node: string, spec: InstanceSpec, generation: number): Promise<void> {
    await this.step('createInstance', node, spec.name);
    const existing = this.world.node(node).containers.get(spec.name);
    if (existing && specMatches(existing.specHash, spec) && existing.generation === generation) {
      if (existing.memory !== spec.memory || existing.vcpus !== spec.vcpus) await this.world.putContainer(node, { ...existing, memory: spec.memory, vcpus: spec.vcpus });
      return;
    }
    if (existing?.state === 'running') throw new DriverError(`${node}: container for ${spec.name} is running with another spec; stop it first`, false, node);
    const nics = spec.nics?.map(({ network, ip, mac }) => ({ network, ip, mac }));
    await this.world.putContainer(node, { instance: spec.name, state: 'stopped', specHash: specHash(spec), generation, memory: spec.memory, vcpus: spec.vcpus, ...(nics?.length && { nics }),
      ...(spec.hypervisor === 'kvm' && { vm: { accel: 'kvm' as const } }) });
  }

  async startInstance(node: string, instance: string): Promise<void> {
    await this.step('startInstance', node, instance);
    const c = this.container(node, instance);
    if (c.state === 'running') return;
    this.addressesFree(node, c);
    if (c.vm && this.latencyMs > 0) await this.delay(SIM_VM_BOOT_MS);
    await this.world.putContainer(node, { ...c, state: 'running' });
  }

  /**
   * As one L2 segment would: an address or MAC another instance answers on (running on a node that is
   * neither failed nor fenced) cannot be taken; no packets, only the check.
   */
  private addressesFree(node: string, c: SimContainer): void {
    for (const other of this.nodes.keys()) {
      const flags = this.world.flagsOf(other);
      if (flags.failed || flags.fenced) continue;
      for (const x of this.world.node(other).containers.values()) {
        if (x.instance === c.instance || x.state !== 'running') continue;
        const clash = c.nics?.find((n) => x.nics?.some((m) => (m.ip === n.ip && m.network === n.network) || m.mac === n.mac));
        if (clash) throw new DriverError(`${node}: cannot start ${c.instance}: ${clash.ip} / ${clash.mac} is in use by ${x.instance} on ${other}`, false, node);
      }
    }
  }

  async stopInstance(node: string, instance: string): Promise<void> {
    await this.step('stopInstance', node, instance);
    const c = this.container(node, instance);
    if (c.state === 'stopped') return;
    if (c.vm && this.latencyMs > 0) await this.delay(SIM_VM_POWERDOWN_MS);
    await this.world.putContainer(node, { ...c, state: 'stopped', ...(c.vm && { vm: { accel: c.vm.accel } }) }); // QEMU gone: no mirror
  }

  /**
   * A VM moves live as QEMU moves it (its capability `vm.liveMigration`): its disks copied while it runs,
   * then a pause of SIM_VM_MIGRATION_DOWNTIME_MS for the switchover, the guest going on (no boot) on `to`.
   * Containers do not (capability `liveMigration: false`; apply never asks): answered cold, nothing moved.
   */
  async liveMigrate(from: string, to: string, spec: InstanceSpec, generation: number, onProgress?: ProgressFn): Promise<LiveMigrateResult> {
    if (spec.hypervisor !== 'kvm') return { kind: 'cold', cause: 'fell-back', why: 'the simulator moves only VMs live' };
    await this.step('liveMigrate', from, spec.name);
    this.reachable(to);
    const source = this.container(from, spec.name);
    if (source.state !== 'running') return { kind: 'cold', cause: 'stopped', why: `${spec.name} is not running on ${from}` };
    await this.syncDisks(from, to, spec.name, onProgress);
    await this.createInstance(to, spec, generation);
    const downtimeMs = this.latencyMs > 0 ? SIM_VM_MIGRATION_DOWNTIME_MS : 0;
    // the switchover: the source stops before the destination resumes (never two running copies)
    await this.world.putContainer(from, { ...source, state: 'stopped', vm: { accel: 'kvm' } });
    if (downtimeMs > 0) await this.delay(downtimeMs);
    await this.world.putContainer(to, { ...this.container(to, spec.name), state: 'running' });
    await this.world.deleteContainer(from, spec.name);
    return { kind: 'live', downtimeMs };
  }

  async updateInstance(node: string, instance: string, limits: Limits): Promise<void> {
    await this.step('updateInstance', node, instance);
    const c = this.container(node, instance);
    const next = { ...c, ...(limits.memory !== undefined && { memory: limits.memory }), ...(limits.vcpus !== undefined && { vcpus: limits.vcpus }) };
    if (next.memory !== c.memory || next.vcpus !== c.vcpus) await this.world.putContainer(node, next);
  }

  async growDisk(node: string, instance: string, disk: number, size: number): Promise<void> {
    await this.step('growDisk', node, instance);
    const v = this.world.node(node).volumes.get(volumeKey(instance, disk));
    if (!v) throw new DriverError(`${node}: no volume ${volumeKey(instance, disk)} to grow`, false, node);
    if (v.size >= size) return;
    const free = this.freeDisk(node);
    if (free !== undefined && size - v.size > free) {
      throw new DriverError(`${node}: cannot grow ${volumeKey(instance, disk)} by ${size - v.size} bytes: only ${free} free`, false, node);
    }
    await this.world.putVolume(node, { ...v, size });
  }

  async removeInstance(node: string, instance: string): Promise<void> {
    await this.step('removeInstance', node, instance);
    if (this.world.node(node).containers.has(instance)) await this.world.deleteContainer(node, instance);
  }

  /** In place, running or not: each copy is written under the new name before the old one goes. */
  async renameInstance(node: string, from: string, to: string): Promise<void> {
    await this.step('renameInstance', node, from);
    const n = this.world.node(node);
    const c = n.containers.get(from);
    if (c) {
      await this.world.putContainer(node, { ...c, instance: to });
      await this.world.deleteContainer(node, from);
    }
    for (const v of this.volumesOf(node, from)) {
      await this.world.putVolume(node, { ...v, instance: to });
      await this.world.deleteVolume(node, `${from}/${v.disk}`);
    }
  }

  /** Healthy while running, unless `drover sim unhealthy` said otherwise. */
  async checkHealth(node: string, instance: string, probe: HealthProbe): Promise<HealthResult> {
    await this.step('checkHealth', node, instance);
    const what = 'exec' in probe ? probe.exec.join(' ') : `tcp ${probe.tcp}`;
    if (this.container(node, instance).state !== 'running') return { ok: false, output: `${what}: ${instance} is not running` };
    if (this.world.unhealthy().includes(instance)) return { ok: false, output: `${what}: failed (simulated: drover sim unhealthy ${instance})` };
    return { ok: true, output: `${what}: ok` };
  }

  /** The sim's power switch: a fenced node runs nothing until `drover sim restore-node`. */
  async powerOff(node: string): Promise<void> {
    this.known(node);
    await this.delay(this.latencyMs);
    const flags = this.world.flagsOf(node);
    this.world.setFlags(node, { ...flags, fenced: true });
    const stops = [...this.world.node(node).containers.values()]
      .filter((c) => c.state === 'running')
      .map((c) => this.world.putContainer(node, { ...c, state: 'stopped' }));
    await Promise.all(stops);
  }

  /**
   * The sim has no processes and so no output: its logs are its journal of what happened to the
   * instance (containers and disks created, started, stopped, synced, removed) on every node.
   */
  async instanceLogs(node: string, instance: string, request: LogRequest, write: LogWriter): Promise<void> {
    await this.step('logs', node, instance);
    const since = request.since;
    let shown = 0;
    const show = (): void => {
      const lines = this.world.journalOf(instance);
      if (lines.length < shown) shown = 0; // compacted meanwhile: the kept history starts again
      for (const l of lines.slice(shown)) {
        if (since !== undefined && (l.at === undefined || l.at < since)) continue;
        write(Buffer.from(`${l.at !== undefined ? new Date(l.at).toISOString() : '-'} ${l.text}\n`), 'stdout');
      }
      shown = lines.length;
    };
    show();
    const stopped = new Promise<void>((resolve) => request.signal.addEventListener('abort', () => resolve(), { once: true }));
    while (request.follow && !request.signal.aborted) {
      await Promise.race([this.delay(250), stopped]);
      show();
    }
  }

  /** A sim disk's contents are its data version: that is what a backup holds (`{"dataVersion":N}`). */
  async exportDisks(node: string, instance: string, sink: (disk: number) => NodeJS.WritableStream): Promise<DiskExport> {
    await this.step('exportDisks', node, instance);
    const vols = this.volumesOf(node, instance).sort((a, b) => a.disk - b.disk);
    if (!vols.length) throw new DriverError(`${node}: ${instance} has no disks there`, false, node);
    for (const v of vols) await new Promise<void>((resolve, reject) => sink(v.disk).on('error', reject).end(JSON.stringify({ dataVersion: v.dataVersion }), resolve));
    const running = this.world.node(node).containers.get(instance)?.state === 'running';
    return { disks: vols.map((v) => v.disk), consistency: running ? 'frozen' : 'stopped', frozenMs: 0 };
  }

  async seedDisk(node: string, instance: string, disk: number, data: NodeJS.ReadableStream): Promise<void> {
    await this.step('seedDisk', node, instance);
    const chunks: Buffer[] = [];
    for await (const c of data as AsyncIterable<Buffer>) chunks.push(c);
    const { dataVersion } = JSON.parse(Buffer.concat(chunks).toString()) as { dataVersion: number };
    const v = this.world.node(node).volumes.get(volumeKey(instance, disk));
    if (!v) throw new DriverError(`${node}: disk ${disk} of ${instance} does not exist`, false, node);
    await this.world.putVolume(node, { ...v, dataVersion });
  }

  async close(): Promise<void> {
    this.world.close();
  }

  /** Bumps the data version of the instance's volumes on `node`: a stand-in for writes. */
  async writeData(node: string, instance: string): Promise<number> {
    const vols = this.volumesOf(node, instance);
    const version = Math.max(0, ...vols.map((v) => v.dataVersion)) + 1;
    await Promise.all(vols.map((v) => this.world.putVolume(node, { ...v, dataVersion: version })));
    return version;
  }

  dataVersion(node: string, instance: string): number | undefined {
    const vols = this.volumesOf(node, instance);
    return vols.length ? Math.min(...vols.map((v) => v.dataVersion)) : undefined;
  }

  /** The node's disk not taken by volumes, when its manifest gives a capacity. */
  private freeDisk(node: string): number | undefined {
    const disk = this.nodes.get(node)?.capacity?.disk;
    if (disk === undefined) return undefined;
    return disk - [...this.world.node(node).volumes.values()].reduce((sum, v) => sum + v.size, 0);
  }

  private volumesOf(node: string, instance: string): SimVolume[] {
    return [...this.world.node(node).volumes.values()].filter((v) => v.instance === instance);
  }

  private container(node: string, instance: string) {
    const c = this.world.node(node).containers.get(instance);
    if (!c) throw new DriverError(`${node}: no container for instance ${instance}`, false, node);
    return c;
  }

  private async step(name: string, node: string, instance?: string): Promise<void> {
    this.known(node);
    if (this.latencyMs > 0) await this.delay(this.latencyMs);
    this.reachable(node);
    this.options.faults?.(name, node, instance);
  }

  private known(node: string): void {
    if (!this.nodes.has(node)) throw new DriverError(`unknown node "${node}"`, false, node);
  }

  private reachable(node: string): void {
    const f = this.world.flagsOf(node);
    if (f.failed) throw new DriverError(`${node}: unreachable (simulated failure)`, true, node);
    if (f.fenced) throw new DriverError(`${node}: powered off by fencing`, true, node);
  }

  private async transfer(total: number, from: string, to: string, onProgress?: ProgressFn): Promise<void> {
    const ms = this.latencyMs * (1 + total / SYNC_BYTES_PER_LATENCY);
    const ticks = this.latencyMs > 0 ? Math.max(2, Math.min(20, Math.round(ms / 50))) : 1;
    for (let i = 1; i <= ticks; i++) {
      if (this.latencyMs > 0) await this.delay(ms / ticks);
      this.reachable(from);
      this.reachable(to);
      onProgress?.(Math.round((total * i) / ticks), total);
    }
  }

  /**
   * A running VM's mirror as QEMU would report it: in sync while the node it writes into has not gone down
   * since it started; a fall ends it for good (a node back up waits for the next sync's full copy).
   */
  private mirrorOf(mirror: { readonly node: string; readonly falls: number } | undefined): ObservedReplication {
    if (!mirror) return { kind: 'stopped', detail: 'no replication job on the primary' };
    const f = this.world.flagsOf(mirror.node);
    return f.failed || f.fenced || this.world.fallsOf(mirror.node) !== mirror.falls ? { kind: 'stopped', detail: `the replica's node ${mirror.node} went down` } : { kind: 'in-sync' };
  }

  private delay(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }
}
