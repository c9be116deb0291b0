/**
 * The store: Drover's decisions, as keyed records in a backend (the state directory's log by
 * default, or etcd). Mutations apply in memory at once and resolve when durable; `flush()` waits
 * for all of them.
 */
import { FileBackend, type OpenedBackend, type StoreBackend, type StoreLocation, type StoreRecord, type StoreSnapshot } from './backend.ts';
import type { MasterLease } from './lease.ts';
import type { BalanceTarget, JobRecord, MachineRecord, NodeRecord, Placement, StoreView } from './types.ts';

export interface StoreOptions {
  readonly fsync?: boolean;
  readonly readOnly?: boolean;
  /** etcd: the cluster lease; every write is guarded on it still being ours. */
  readonly lease?: MasterLease;
}

export class Store implements StoreView {
  readonly placements = new Map<string, Placement>();
  readonly nodes = new Map<string, NodeRecord>();
  readonly machines = new Map<string, MachineRecord>();
  readonly jobs = new Map<string, JobRecord>();
  readonly targets = new Map<string, BalanceTarget>();
  private readonly backend: StoreBackend;
  private last: Promise<void> = Promise.resolve();

  /** The file store in `stateDir` (synchronous); `Store.open` for any location. */
  constructor(where: string | OpenedBackend, options: StoreOptions = {}) {
    const fsync = options.fsync ?? process.env.DROVER_FSYNC !== '0';
    const { backend, loaded } = typeof where === 'string' ? FileBackend.open(where, { fsync, readOnly: options.readOnly ?? false }) : where;
    this.backend = backend;
    const snap = loaded.snapshot;
    for (const p of snap?.placements ?? []) this.placements.set(p.instance, p);
    for (const n of snap?.nodes ?? []) this.nodes.set(n.name, n);
    for (const m of snap?.machines ?? []) this.machines.set(m.id, m);
    for (const j of snap?.jobs ?? []) this.jobs.set(j.id, j);
    for (const t of snap?.targets ?? []) this.targets.set(t.instance, t);
    for (const r of loaded.records) this.apply(r);
    backend.attach?.(this);
  }

  /** Open the store wherever it is; etcd is loaded only when asked for. */
  static async open(location: StoreLocation, options: StoreOptions = {}): Promise<Store> {
    if (location.kind === 'file') return new Store(location.stateDir, options);
    const { openEtcdBackend } = await import('./etcd.ts');
    return new Store(await openEtcdBackend(location, options));
  }

  putPlacement(p: Placement): Promise<void> { return this.write({ k: 'placement', name: p.instance, v: p }); }
  deletePlacement(instance: string): Promise<void> { return this.write({ k: 'placement', name: instance, v: null }); }
  putNode(n: NodeRecord): Promise<void> { return this.write({ k: 'node', name: n.name, v: n }); }
  deleteNode(name: string): Promise<void> { return this.write({ k: 'node', name, v: null }); }
  putMachine(m: MachineRecord): Promise<void> {
    return this.machines.has(m.id) ? this.write({ k: 'snap', name: m.id, s: m.snapshot }) : this.write({ k: 'machine', name: m.id, v: m });
  }
  deleteMachine(id: string): Promise<void> { return this.write({ k: 'machine', name: id, v: null }); }
  /** The whole record again, in one write (a resumed machine moved to a newer step list). */
  replaceMachine(m: MachineRecord): Promise<void> { return this.write({ k: 'machine', name: m.id, v: m }); }
  putJob(j: JobRecord): Promise<void> { return this.write({ k: 'job', name: j.id, v: j }); }
  putTarget(t: BalanceTarget): Promise<void> { return this.write({ k: 'target', name: t.instance, v: t }); }
  deleteTarget(instance: string): Promise<void> { return this.write({ k: 'target', name: instance, v: null }); }

  /** Resolves when every mutation so far is durable. */
  flush(): Promise<void> {
    return this.last;
  }

  /** Next job id: sortable, unique across masters and restarts. */
  nextJobId(): string {
    return `${Date.now().toString(36)}-${(this.seq++).toString(36).padStart(4, '0')}-${process.pid.toString(36)}`;
  }
  private seq = 0;

  async close(): Promise<void> {
    await this.last;
    await this.backend.close(() => this.snapshot());
  }

  private write(r: StoreRecord): Promise<void> {
    this.apply(r);
    this.last = this.backend.append(r);
    return this.last;
  }

  private apply(r: StoreRecord): void {
    switch (r.k) {
      case 'placement': setOrDelete(this.placements, r.name, r.v); break;
      case 'node': setOrDelete(this.nodes, r.name, r.v); break;
      case 'machine': setOrDelete(this.machines, r.name, r.v); break;
      case 'job': this.jobs.set(r.name, r.v); break;
      case 'target': setOrDelete(this.targets, r.name, r.v); break;
      case 'snap': {
        const m = this.machines.get(r.name);
        if (m) this.machines.set(r.name, { ...m, snapshot: r.s });
        break;
      }
    }
  }

  private snapshot(): StoreSnapshot {
    return {
      placements: [...this.placements.values()],
      nodes: [...this.nodes.values()],
      machines: [...this.machines.values()],
      jobs: [...this.jobs.values()],
      targets: [...this.targets.values()],
    };
  }
}

function setOrDelete<V>(map: Map<string, V>, key: string, v: V | null): void {
  if (v === null) map.delete(key);
  else map.set(key, v);
}
