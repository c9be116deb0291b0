/**
 * The simulated nodes' world: containers and volumes per node, kept in the state directory so
 * that successive commands (and a master restarted after kill -9) see one world. Node failures
 * live in a separate small file, so `drover sim fail-node` in another shell reaches a running master.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatBytes } from '../../model/quantity.ts';
import type { ObservedNic } from '../../model/nics.ts';
import { AppendLog, writeFileAtomic } from '../../store/log.ts';

export interface SimContainer {
  readonly instance: string;
  readonly state: 'running' | 'stopped';
  readonly specHash: string;
  readonly generation: number;
  readonly memory: number;
  readonly vcpus: number;
  /** The addresses and MACs it was created with (no packets: kept for probes, drift and verify). */
  readonly nics?: readonly ObservedNic[];
  /** A VM (`hypervisor: kvm`): the simulated nodes have hardware KVM. Absent: a container. */
  readonly vm?: {
    readonly accel: 'kvm';
    /** While it runs: the node its synchronous mirror writes into, and that node's falls when it started. */
    readonly mirror?: { readonly node: string; readonly falls: number };
    /** Replicated by increments (replication.mode async): no mirror to report, its syncs date its replica. */
    readonly increments?: true;
  };
}

export interface SimVolume {
  readonly instance: string;
  readonly disk: number;
  readonly role: 'primary' | 'replica';
  readonly size: number;
  readonly generation: number;
  /** Stands for the volume's contents: bumped by writes, copied by syncs. */
  readonly dataVersion: number;
}

export interface SimNodeFlags {
  /** Unreachable, as if its network or power were gone. */
  readonly failed: boolean;
  /** Powered off by a fence: stays off until restored. */
  readonly fenced: boolean;
}

/** `at`: when it happened (ms since epoch; absent in worlds written before it was kept): the sim's journal. */
type WorldRecord =
  | { readonly k: 'ctr'; readonly node: string; readonly name: string; readonly v: SimContainer | null; readonly at?: number }
  | { readonly k: 'vol'; readonly node: string; readonly name: string; readonly v: SimVolume | null; readonly at?: number };

/** One thing that happened to an instance in the simulated world, for `drover logs`. */
export interface JournalLine {
  readonly at?: number;
  readonly text: string;
}

interface WorldSnapshot {
  readonly containers: readonly (readonly [string, SimContainer])[];
  readonly volumes: readonly (readonly [string, SimVolume])[];
}

export interface SimNode {
  readonly containers: Map<string, SimContainer>;
  readonly volumes: Map<string, SimVolume>;
}

export const volumeKey = (instance: string, disk: number): string => `${instance}/${disk}`;

function describe(r: WorldRecord): string {
  if (r.k === 'ctr') return r.v ? `container ${r.v.state} (generation ${r.v.generation}, memory ${formatBytes(r.v.memory)}, ${r.v.vcpus} vCPUs)` : 'container removed';
  const disk = `disk ${r.name.slice(r.name.lastIndexOf('/') + 1)}`;
  return r.v ? `${disk} ${r.v.role} (generation ${r.v.generation}, ${formatBytes(r.v.size)}, data version ${r.v.dataVersion})` : `${disk} removed`;
}

export class SimWorld {
  private readonly nodes = new Map<string, SimNode>();
  private readonly log: AppendLog<WorldSnapshot, WorldRecord>;
  private readonly flagsFile: string;
  private readonly logFile: string;
  /** With each node's falls: how many times it went down (kept by setFlags; fallsOf). */
  private flags: Record<string, SimNodeFlags & { readonly falls?: number }> = {};
  private flagsMtime = -1;
  private flagsCheckedAt = 0;

  constructor(stateDir: string, options: { readonly fsync?: boolean; readonly readOnly?: boolean } = {}) {
    const dir = path.join(stateDir, 'sim');
    // The world stands for the nodes' own disks, not for Drover's state: it is written at once (a
    // killed master loses nothing of it) but not fdatasync'ed unless asked; the store is.
    const fsync = options.fsync ?? false;
    this.logFile = path.join(dir, 'world.log');
    const { log, loaded } = AppendLog.open<WorldSnapshot, WorldRecord>(this.logFile, { fsync, compactAfter: 50_000 }, options.readOnly ?? false);
    this.log = log;
    this.flagsFile = path.join(dir, 'nodes.json');
    for (const [key, c] of loaded.snapshot?.containers ?? []) this.node(key.split('|')[0]!).containers.set(c.instance, c);
    for (const [key, v] of loaded.snapshot?.volumes ?? []) this.node(key.split('|')[0]!).volumes.set(volumeKey(v.instance, v.disk), v);
    for (const r of loaded.records) this.applyRecord(r);
  }

  node(name: string): SimNode {
    let n = this.nodes.get(name);
    if (!n) {
      n = { containers: new Map(), volumes: new Map() };
      this.nodes.set(name, n);
    }
    return n;
  }

  /** Current flags of a node, re-reading the flags file when another process changed it. */
  flagsOf(name: string): SimNodeFlags {
    this.refreshFlags();
    const f = this.flags[name];
    return f ? { failed: f.failed, fenced: f.fenced } : { failed: false, fenced: false };
  }

  /** How many times the node went down (failed or fenced): a VM's mirror into it ends at a fall, for good. */
  fallsOf(name: string): number {
    this.refreshFlags();
    return this.flags[name]?.falls ?? 0;
  }

  setFlags(name: string, flags: SimNodeFlags): void {
    this.refreshFlags(true);
    const was = this.flags[name];
    const fell = !was?.failed && !was?.fenced && (flags.failed || flags.fenced);
    const falls = (was?.falls ?? 0) + (fell ? 1 : 0);
    this.flags = { ...this.flags, [name]: { failed: flags.failed, fenced: flags.fenced, ...(falls > 0 && { falls }) } };
    fs.mkdirSync(path.dirname(this.flagsFile), { recursive: true });
    writeFileAtomic(this.flagsFile, JSON.stringify(this.flags, null, 2));
    this.flagsMtime = fs.statSync(this.flagsFile).mtimeMs;
  }

  /** Instances whose health checks fail (`drover sim unhealthy`): a small file, like the node flags. */
  unhealthy(): readonly string[] {
    try {
      return JSON.parse(fs.readFileSync(this.healthFile, 'utf8')) as string[];
    } catch {
      return [];
    }
  }

  setUnhealthy(instance: string, unhealthy: boolean): void {
    const rest = this.unhealthy().filter((n) => n !== instance);
    fs.mkdirSync(path.dirname(this.healthFile), { recursive: true });
    writeFileAtomic(this.healthFile, JSON.stringify(unhealthy ? [...rest, instance] : rest));
  }

  private get healthFile(): string {
    return path.join(path.dirname(this.flagsFile), 'unhealthy.json');
  }

  putContainer(node: string, c: SimContainer): Promise<void> { return this.write({ k: 'ctr', node, name: c.instance, v: c }); }
  deleteContainer(node: string, instance: string): Promise<void> { return this.write({ k: 'ctr', node, name: instance, v: null }); }
  putVolume(node: string, v: SimVolume): Promise<void> { return this.write({ k: 'vol', node, name: volumeKey(v.instance, v.disk), v }); }
  deleteVolume(node: string, key: string): Promise<void> { return this.write({ k: 'vol', node, name: key, v: null }); }

  close(): void {
    if (this.log.shouldCompact) this.log.compact(this.snapshot());
    this.log.close();
  }

  private write(r: WorldRecord): Promise<void> {
    this.applyRecord(r);
    return this.log.append({ ...r, at: Date.now() });
  }

  /**
   * What happened to `instance` on every node, oldest first, read afresh from the world's log (so
   * another process's changes show). History before the log's last compaction is not kept.
   */
  journalOf(instance: string): JournalLine[] {
    const { log, loaded } = AppendLog.open<WorldSnapshot, WorldRecord>(this.logFile, { fsync: false, compactAfter: Infinity }, true);
    log.close();
    return loaded.records.flatMap((r) => {
      const name = r.k === 'ctr' ? r.name : r.name.slice(0, r.name.lastIndexOf('/'));
      return name === instance ? [{ ...(r.at !== undefined && { at: r.at }), text: `${r.node}: ${describe(r)}` }] : [];
    });
  }

  private applyRecord(r: WorldRecord): void {
    const map: Map<string, SimContainer | SimVolume> = r.k === 'ctr' ? this.node(r.node).containers : this.node(r.node).volumes;
    if (r.v === null) map.delete(r.name);
    else map.set(r.name, r.v);
  }

  /** At most every 100 ms: a stat per driver call would be wasteful at thousands of calls/s. */
  private refreshFlags(force = false): void {
    const now = Date.now();
    if (!force && now - this.flagsCheckedAt < 100) return;
    this.flagsCheckedAt = now;
    let mtime: number;
    try {
      mtime = fs.statSync(this.flagsFile).mtimeMs;
    } catch {
      return;
    }
    if (mtime === this.flagsMtime) return;
    this.flagsMtime = mtime;
    this.flags = JSON.parse(fs.readFileSync(this.flagsFile, 'utf8')) as Record<string, SimNodeFlags>;
  }

  private snapshot(): WorldSnapshot {
    const containers: [string, SimContainer][] = [];
    const volumes: [string, SimVolume][] = [];
    for (const [name, n] of this.nodes) {
      for (const c of n.containers.values()) containers.push([`${name}|${c.instance}`, c]);
      for (const v of n.volumes.values()) volumes.push([`${name}|${volumeKey(v.instance, v.disk)}`, v]);
    }
    return { containers, volumes };
  }
}
