/**
 * The store: Drover's decisions, kept in the state directory as a log of keyed records.
 * Mutations apply in memory at once and resolve when durable; `flush()` waits for all of them.
 */
import * as path from 'node:path';
import { AppendLog } from './log.ts';
import type { BalanceTarget, JobRecord, MachineRecord, NodeRecord, Placement, StoreView } from './types.ts';

type StoreRecord =
  | { readonly k: 'placement'; readonly name: string; readonly v: Placement | null }
  | { readonly k: 'node'; readonly name: string; readonly v: NodeRecord | null }
  | { readonly k: 'machine'; readonly name: string; readonly v: MachineRecord | null }
  /** A machine's new snapshot: the operation itself was written once, with the first record. */
  | { readonly k: 'snap'; readonly name: string; readonly s: unknown }
  | { readonly k: 'job'; readonly name: string; readonly v: JobRecord }
  | { readonly k: 'target'; readonly name: string; readonly v: BalanceTarget | null };

interface StoreSnapshot {
  readonly placements: readonly Placement[];
  readonly nodes: readonly NodeRecord[];
  readonly machines: readonly MachineRecord[];
  readonly jobs: readonly JobRecord[];
  readonly targets?: readonly BalanceTarget[];
}

export interface StoreOptions {
  readonly fsync?: boolean;
  readonly readOnly?: boolean;
}

export class Store implements StoreView {
  readonly placements = new Map<string, Placement>();
  readonly nodes = new Map<string, NodeRecord>();
  readonly machines = new Map<string, MachineRecord>();
  readonly jobs = new Map<string, JobRecord>();
  readonly targets = new Map<string, BalanceTarget>();
  private readonly log: AppendLog<StoreSnapshot, StoreRecord>;
  private last: Promise<void> = Promise.resolve();

  constructor(readonly stateDir: string, options: StoreOptions = {}) {
    const fsync = options.fsync ?? process.env.DROVER_FSYNC !== '0';
    const { log, loaded } = AppendLog.open<StoreSnapshot, StoreRecord>(
      path.join(stateDir, 'store.log'), { fsync, compactAfter: 50_000 }, options.readOnly ?? false);
    this.log = log;
    const snap = loaded.snapshot;
    for (const p of snap?.placements ?? []) this.placements.set(p.instance, p);
    for (const n of snap?.nodes ?? []) this.nodes.set(n.name, n);
    for (const m of snap?.machines ?? []) this.machines.set(m.id, m);
    for (const j of snap?.jobs ?? []) this.jobs.set(j.id, j);
    for (const t of snap?.targets ?? []) this.targets.set(t.instance, t);
    for (const r of loaded.records) this.apply(r);
  }

  putPlacement(p: Placement): Promise<void> { return this.write({ k: 'placement', name: p.instance, v: p }); }
  deletePlacement(instance: string): Promise<void> { return this.write({ k: 'placement', name: instance, v: null }); }
  putNode(n: NodeRecord): Promise<void> { return this.write({ k: 'node', name: n.name, v: n }); }
  deleteNode(name: string): Promise<void> { return this.write({ k: 'node', name, v: null }); }
  putMachine(m: MachineRecord): Promise<void> {
    return this.machines.has(m.id) ? this.write({ k: 'snap', name: m.id, s: m.snapshot }) : this.write({ k: 'machine', name: m.id, v: m });
  }
  deleteMachine(id: string): Promise<void> { return this.write({ k: 'machine', name: id, v: null }); }
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
    if (this.log.shouldCompact) this.log.compact(this.snapshot());
    this.log.close();
  }

  private write(r: StoreRecord): Promise<void> {
    this.apply(r);
    this.last = this.log.append(r);
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
