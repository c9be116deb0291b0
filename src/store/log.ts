/**
 * An append-only NDJSON log with group commit, plus a compacted snapshot beside it.
 *
 * Every record is a keyed put or delete, so replaying a record twice is harmless: that is what
 * makes compaction crash-safe (snapshot renamed into place, then the log truncated; a crash in
 * between replays records the snapshot already holds). Records appended in one tick are written
 * with one write() and one fdatasync(): durable steps at thousands per second.
 * A kill -9 can leave a torn last line; it is ignored on load.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface LogOptions {
  /** fdatasync after every batch (survives power loss). A kill -9 needs only write(). */
  readonly fsync: boolean;
  /** Compact when the log holds this many records. */
  readonly compactAfter: number;
}

export interface Loaded<S, R> {
  readonly snapshot: S | undefined;
  readonly records: readonly R[];
}

export class AppendLog<S, R> {
  private fd: number;
  private pending: string[] = [];
  private waiters: Array<() => void> = [];
  private scheduled = false;
  private count: number;

  private constructor(
    private readonly file: string,
    private readonly options: LogOptions,
    count: number,
    private readonly readOnly: boolean,
  ) {
    this.fd = readOnly ? -1 : fs.openSync(file, 'a');
    this.count = count;
  }

  /** Open (creating the folder) and return the log with its replayable contents. */
  static open<S, R>(file: string, options: LogOptions, readOnly = false): { log: AppendLog<S, R>; loaded: Loaded<S, R> } {
    if (!readOnly) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      dropTornTail(file);
    }
    const snapshot = readJson<S>(`${file}.snapshot.json`);
    const records = readRecords<R>(file);
    return { log: new AppendLog<S, R>(file, options, records.length, readOnly), loaded: { snapshot, records } };
  }

  /** Queue a record; resolves once it is on disk together with the rest of its batch. */
  append(record: R): Promise<void> {
    if (this.readOnly) throw new Error(`${this.file}: opened read-only`);
    this.pending.push(JSON.stringify(record));
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushNow());
    }
    return done;
  }

  /** Write everything queued now (also called by the timer). */
  flushNow(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending.join('\n') + '\n';
    const waiters = this.waiters;
    this.count += this.pending.length;
    this.pending = [];
    this.waiters = [];
    failpoint(this.fd, batch);
    fs.writeSync(this.fd, batch);
    if (this.options.fsync) fs.fdatasyncSync(this.fd);
    for (const w of waiters) w();
  }

  get shouldCompact(): boolean {
    return this.count >= this.options.compactAfter;
  }

  /** Replace snapshot + log by `snapshot` (which must include every record appended so far). */
  compact(snapshot: S): void {
    this.flushNow();
    const snapFile = `${this.file}.snapshot.json`;
    writeFileAtomic(snapFile, JSON.stringify(snapshot), this.options.fsync);
    fs.ftruncateSync(this.fd, 0);
    if (this.options.fsync) fs.fdatasyncSync(this.fd);
    this.count = 0;
  }

  close(): void {
    if (this.readOnly) return;
    this.flushNow();
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * Crash tests' failpoint: with DROVER_FAILPOINT_KILL_AT=N, the process kills itself with SIGKILL
 * at its Nth batch write (counting every log of the process), having written half of that batch
 * when DROVER_FAILPOINT_TORN=1. Lets a test stop a master at every durable step, not at a guess.
 */
let batchesWritten = 0;
const killAt = Number(process.env.DROVER_FAILPOINT_KILL_AT ?? 0);
function failpoint(fd: number, batch: string): void {
  if (!killAt || ++batchesWritten < killAt) return;
  if (process.env.DROVER_FAILPOINT_TORN === '1') fs.writeSync(fd, batch.slice(0, Math.floor(batch.length / 2)));
  process.kill(process.pid, 'SIGKILL');
}

export function writeFileAtomic(file: string, text: string, fsync = true): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, text);
    if (fsync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** A kill -9 mid-write can leave a last line without its newline: cut it before appending. */
function dropTornTail(file: string): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return;
  }
  if (text === '' || text.endsWith('\n')) return;
  fs.truncateSync(file, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file}: unreadable state file: ${(e as Error).message}`);
  }
}

function readRecords<R>(file: string): R[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const lines = text.split('\n');
  const records: R[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    try {
      records.push(JSON.parse(line) as R);
    } catch {
      // Only the last line can be torn by a kill -9 mid-write; anything else is corruption.
      if (i < lines.length - 2) throw new Error(`${file}:${i + 1}: corrupt state record`);
    }
  }
  return records;
}
