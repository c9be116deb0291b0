/**
 * A QMP client over any byte stream (a unix socket, a TCP socket, or a Docker exec/attach stream that reaches
 * the VM's monitor socket). QEMU accepts one client per monitor socket (shared/reference/qemu.md, step 2), so
 * the driver keeps exactly one Qmp per VM, and after a reconnect reconciles with query-status,
 * query-migrate and query-block-jobs: QEMU does not buffer events for absent clients.
 *
 * Protocol: one JSON object per line. The greeting {"QMP":…} comes first; we answer qmp_capabilities. Replies
 * carry the "id" we sent; {"event":…} lines are interleaved with them.
 */
import type { Duplex } from 'node:stream';

export type QmpData = Readonly<Record<string, unknown>>;

export interface QmpEvent {
  readonly event: string;
  readonly data: QmpData;
  /** QEMU's own timestamp of the event, in ms since the epoch. */
  readonly atMs: number;
}

export interface Qmp {
  /** Sends one command; resolves with its "return", rejects with QmpError on an "error" reply or when closed. */
  execute<T = unknown>(command: string, args?: QmpData): Promise<T>;
  /** The first event named `name` (and matching `match`) from now on; rejects after timeoutMs or on close. */
  waitEvent(name: string, timeoutMs: number, match?: (data: QmpData) => boolean): Promise<QmpEvent>;
  /** Every event from now on; returns the unsubscribe function. */
  onEvent(listener: (e: QmpEvent) => void): () => void;
  /** Resolves when the stream ends (QEMU quit, the container died, or close()). */
  readonly closed: Promise<void>;
  close(): void;
}

export class QmpError extends Error {
  constructor(readonly command: string, readonly errorClass: string, readonly desc: string) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
    this.name = 'QmpError';
  }
}

/** The connection ended (QEMU quit, the container or the engine's stream went away): a new one may work. */
export class QmpClosedError extends Error {
  constructor(why: string) {
    super(`QMP connection closed: ${why}`);
    this.name = 'QmpClosedError';
  }
}

interface Waiting { readonly command: string; readonly resolve: (v: unknown) => void; readonly reject: (e: Error) => void }

/** Performs the handshake on `stream` and answers the ready client; rejects if no greeting within timeoutMs. */
export async function connectQmp(stream: Duplex, timeoutMs = 10_000): Promise<Qmp> {
  const pending = new Map<number, Waiting>();
  const listeners = new Set<(e: QmpEvent) => void>();
  let nextId = 1;
  let buffered = '';
  let ended: Error | undefined;
  let greeted: (() => void) | undefined;

  const closed = new Promise<void>((resolve) => {
    const finish = (why: string) => {
      if (ended) return;
      ended = new QmpClosedError(why);
      for (const w of pending.values()) w.reject(ended);
      pending.clear();
      resolve();
    };
    stream.on('end', () => finish('end of stream'));
    stream.on('close', () => finish('stream closed'));
    stream.on('error', (e: Error) => finish(e.message));
  });

  const onLine = (line: string) => {
    let msg: Record<string, unknown>;
    try { msg = JSON.parse(line) as Record<string, unknown>; } catch { return; } // not QMP (e.g. exec noise)
    if ('QMP' in msg) { greeted?.(); return; }
    if (typeof msg.event === 'string') {
      const ts = msg.timestamp as { seconds?: number; microseconds?: number } | undefined;
      const e: QmpEvent = { event: msg.event, data: (msg.data ?? {}) as QmpData, atMs: ts ? (ts.seconds ?? 0) * 1000 + (ts.microseconds ?? 0) / 1000 : Date.now() };
      for (const l of listeners) l(e);
      return;
    }
    const w = typeof msg.id === 'number' ? pending.get(msg.id) : undefined;
    if (!w) return;
    pending.delete(msg.id as number);
    if ('error' in msg) {
      const err = msg.error as { class?: string; desc?: string };
      w.reject(new QmpError(w.command, err.class ?? 'GenericError', err.desc ?? ''));
    } else w.resolve(msg.return);
  };
  stream.on('data', (chunk: Buffer | string) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) onLine(line);
    }
  });

  const execute = <T>(command: string, args?: QmpData): Promise<T> => {
    if (ended) return Promise.reject(ended);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject });
      stream.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + '\n');
    });
  };

  const onEvent = (l: (e: QmpEvent) => void) => { listeners.add(l); return () => { listeners.delete(l); }; };

  const waitEvent = (name: string, ms: number, match?: (d: QmpData) => boolean) =>
    new Promise<QmpEvent>((resolve, reject) => {
      const done = (f: () => void) => { clearTimeout(timer); off(); f(); };
      const off = onEvent((e) => { if (e.event === name && (!match || match(e.data))) done(() => resolve(e)); });
      const timer = setTimeout(() => done(() => reject(new Error(`QMP: no ${name} event within ${ms} ms`))), ms);
      void closed.then(() => done(() => reject(ended ?? new Error('QMP connection closed'))));
    });

  await new Promise<void>((resolve, reject) => {
    // a monitor that never greets (another client holds it) must not keep the stream open
    const timer = setTimeout(() => { stream.destroy(); reject(new Error(`QMP: no greeting within ${timeoutMs} ms`)); }, timeoutMs);
    greeted = () => { clearTimeout(timer); resolve(); };
    void closed.then(() => { clearTimeout(timer); reject(ended ?? new Error('QMP connection closed')); });
  });
  await execute('qmp_capabilities');
  return { execute, waitEvent, onEvent, closed, close: () => { stream.destroy(); } };
}
