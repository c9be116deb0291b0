/**
 * The master lease: one process at a time changes the cluster. A file in the state directory
 * names the holder and an expiry; the holder renews it while it works. A holder killed with -9
 * stops renewing, and its lease is taken over once expired (or at once, when the holder's pid is
 * gone on this host): no stale lock ever needs a human. The holder looks at the file every second:
 * when it is gone (`drover lock break`) or names another holder (a takeover after a stall), the
 * lease is lost and onLost tells the holder to stop, as the etcd lease does.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StoreError, type StoreLocation } from './backend.ts';
import { writeFileAtomic } from './log.ts';

export interface LeaseHolder {
  readonly host: string;
  readonly pid: number;
  readonly command: string;
  readonly acquiredAt: number;
  readonly expiresAt: number;
}

export class LeaseBusyError extends Error {
  constructor(readonly holder: LeaseHolder) {
    super(`the cluster lease is held by pid ${holder.pid} on ${holder.host} (${holder.command}) until ${new Date(holder.expiresAt).toISOString()}`);
  }
}

/** The cluster lease, wherever it lives: what a command holds while it changes the cluster. */
export interface MasterLease {
  readonly holder: LeaseHolder;
  /**
   * `fn` runs once if the lease is lost while held (etcd: keep-alive failed, the lease expired, or
   * it was broken; file: the file was removed or names another holder): the holder must stop
   * acting at once, another master may take over.
   */
  onLost(fn: (e: Error) => void): void;
  release(): void | Promise<void>;
}

/** Thrown (and given to onLost) when a holder finds the lease is no longer its own. */
export class LeaseLostError extends StoreError {}

export const TTL_MS = 15_000;

/** Take the cluster lease where the store is: the state directory, or etcd. */
export async function acquireLease(location: StoreLocation, command: string, waitMs: number): Promise<MasterLease> {
  if (location.kind === 'file') return Lease.acquire(location.stateDir, command, waitMs);
  const { EtcdLease } = await import('./etcd.ts');
  return EtcdLease.acquire(location, command, waitMs);
}

export async function leaseStatus(location: StoreLocation): Promise<LeaseHolder | undefined> {
  if (location.kind === 'file') return Lease.status(location.stateDir);
  const { EtcdLease } = await import('./etcd.ts');
  return EtcdLease.status(location);
}

export async function breakLease(location: StoreLocation): Promise<void> {
  if (location.kind === 'file') return Lease.breakLease(location.stateDir);
  const { EtcdLease } = await import('./etcd.ts');
  return EtcdLease.breakLease(location);
}

export class Lease implements MasterLease {
  private timer: NodeJS.Timeout | undefined;
  private readonly lostHandlers: ((e: Error) => void)[] = [];
  private lostError: Error | undefined;
  private constructor(private readonly file: string, private current: LeaseHolder) {}

  get holder(): LeaseHolder { return this.current; }

  onLost(fn: (e: Error) => void): void {
    if (this.lostError) { const e = this.lostError; queueMicrotask(() => fn(e)); } else this.lostHandlers.push(fn);
  }

  /** Take the lease, waiting up to `waitMs` for a live holder to let go. */
  static async acquire(stateDir: string, command: string, waitMs: number): Promise<Lease> {
    fs.mkdirSync(stateDir, { recursive: true });
    const file = path.join(stateDir, 'lease.json');
    const deadline = Date.now() + waitMs;
    for (;;) {
      const current = readHolder(file);
      if (!current || isStale(current)) {
        const lease = withMutex(file, () => {
          const now = readHolder(file); // re-read inside the critical section
          return !now || isStale(now) ? Lease.take(file, command) : undefined;
        });
        if (lease) return lease;
      } else if (Date.now() >= deadline) {
        throw new LeaseBusyError(current);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  static status(stateDir: string): LeaseHolder | undefined {
    const h = readHolder(path.join(stateDir, 'lease.json'));
    return h && !isStale(h) ? h : undefined;
  }

  static breakLease(stateDir: string): void {
    fs.rmSync(path.join(stateDir, 'lease.json'), { force: true });
  }

  private static take(file: string, command: string): Lease {
    const now = Date.now();
    const holder: LeaseHolder = { host: os.hostname(), pid: process.pid, command, acquiredAt: now, expiresAt: now + TTL_MS };
    writeFileAtomic(file, JSON.stringify(holder));
    const lease = new Lease(file, holder);
    lease.timer = setInterval(() => lease.check(), CHECK_MS);
    lease.timer.unref(); // the lease never keeps a finished command alive
    return lease;
  }

  /** Still ours? Then renew when a third of the TTL has passed; otherwise the lease is lost. */
  private check(): void {
    const lost = (why: string) => this.lose(new LeaseLostError(`the cluster lease ${why}`));
    const seen = readHolder(this.file);
    if (!seen && fs.existsSync(this.file)) return; // there but unreadable this once: look again at the next tick
    if (!seen) return lost(`file ${this.file} is gone (broken by hand?)`);
    if (!sameHolder(seen, this.current)) return lost(`was taken over by pid ${seen.pid} on ${seen.host} (${seen.command})`);
    if (this.current.expiresAt - Date.now() > (TTL_MS * 2) / 3) return;
    // Renew inside the mutex, so that a taker's check-and-write cannot interleave; busy: the next tick.
    const renewed = withMutex(this.file, () => {
      const now = readHolder(this.file);
      if (!now || !sameHolder(now, this.current)) return false;
      this.current = { ...this.current, expiresAt: Date.now() + TTL_MS };
      writeFileAtomic(this.file, JSON.stringify(this.current));
      return true;
    });
    if (renewed === false) lost('changed hands while being renewed');
  }

  /** Declare the lease lost (once): every handler runs. */
  private lose(e: Error): void {
    if (this.lostError) return;
    clearInterval(this.timer);
    this.lostError = e;
    for (const fn of this.lostHandlers.splice(0)) fn(e);
  }

  release(): void {
    clearInterval(this.timer);
    if (this.lostError) return;
    this.lostError = new LeaseLostError('the cluster lease was released');
    const back = readHolder(this.file);
    if (back && sameHolder(back, this.current)) fs.rmSync(this.file, { force: true });
  }
}

/** How often a holder looks at its lease file (and renews it when due). */
const CHECK_MS = 1000;

function sameHolder(a: LeaseHolder, b: LeaseHolder): boolean {
  return a.pid === b.pid && a.host === b.host && a.acquiredAt === b.acquiredAt;
}

/**
 * A tiny critical section around read-check-write: mkdir is atomic. A mutex left by a process
 * killed inside it (a few ms wide) is broken after a few seconds.
 */
function withMutex<T>(file: string, fn: () => T): T | undefined {
  const dir = `${file}.mutex`;
  try {
    fs.mkdirSync(dir);
  } catch {
    try {
      if (Date.now() - fs.statSync(dir).mtimeMs > 5000) fs.rmdirSync(dir);
    } catch { /* someone else broke it */ }
    return undefined;
  }
  try {
    return fn();
  } finally {
    fs.rmdirSync(dir);
  }
}

function readHolder(file: string): LeaseHolder | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LeaseHolder;
  } catch {
    return undefined;
  }
}

function isStale(h: LeaseHolder): boolean {
  if (h.expiresAt < Date.now()) return true;
  if (h.host !== os.hostname()) return false;
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
