/**
 * The one QMP connection per VM the driver keeps (QEMU serves one client per monitor socket: a second
 * would hang until the first closes, shared/reference/qemu.md step 2). Keyed by the container's Id, so a
 * restarted QEMU (a new container, or the same one started again) gets a new connection; a connection
 * that closes (QEMU quit, the engine went away) is dropped and the next call opens a new one. Events are
 * not buffered for absent clients: after a (re)connect, callers reconcile with query-status (and i14's
 * replication with query-migrate / query-block-jobs).
 *
 * Every QMP connection of the docker driver (a VM's monitor, a replica server's) is made here, so that one
 * place classifies a monitor that closes under a command: a transient DriverError naming the node (the
 * executor retries the step, and the retry opens a new connection). QEMU's own error answers (QmpError)
 * pass unchanged: not transient.
 */
import { DriverError } from '../../driver.ts';
import { connectQmp, QmpClosedError, type Qmp, type QmpData } from '../../qemu/qmp.ts';
import { VM_PATHS } from '../../qemu/argv.ts';
import type { Conn, Engine } from '../engine.ts';
import { socketStream } from './streams.ts';

const open = new WeakMap<Engine, Map<string, Promise<Qmp>>>();

/**
 * The VM's QMP connection (opened on first use, kept while it lives). Retries while QEMU is still creating
 * its monitor socket, up to `timeoutMs`.
 */
export function openQmp(e: Engine, c: Conn, containerId: string, timeoutMs = 30_000): Promise<Qmp> {
  let byId = open.get(e);
  if (!byId) { byId = new Map(); open.set(e, byId); }
  const key = `${c.name}\0${containerId}`;
  const have = byId.get(key);
  if (have) return have;
  const p = connect(e, c, containerId, timeoutMs);
  byId.set(key, p);
  p.then((q) => q.closed.then(() => { if (byId.get(key) === p) byId.delete(key); }), () => { if (byId.get(key) === p) byId.delete(key); });
  return p;
}

async function connect(e: Engine, c: Conn, id: string, timeoutMs: number): Promise<Qmp> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await connectMonitor(e, c, id, VM_PATHS.qmp, `QMP of ${id.slice(0, 12)}`, Math.max(1000, Math.min(10_000, deadline - Date.now())));
    } catch (err) {
      if (err instanceof DriverError && !err.transient) throw err;
      if (Date.now() > deadline) {
        throw new DriverError(`node ${c.name}: no QMP monitor in container ${id.slice(0, 12)} within ${timeoutMs} ms: ${(err as Error).message}`, true, c.name);
      }
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * (attempt + 1))));
    }
  }
}

/**
 * A QMP connection to the unix socket `socket` in container `id` (a replica server's monitor; a VM's goes
 * through openQmp), its closing classified (onNode).
 */
export async function connectMonitor(e: Engine, c: Conn, id: string, socket: string, what: string, timeoutMs: number): Promise<Qmp> {
  const closedOn = classify(c, what);
  return onNode(await connectQmp(await socketStream(e, c, id, socket, what), timeoutMs).catch(closedOn), closedOn);
}

/** A QmpClosedError becomes a transient DriverError naming the node; anything else passes unchanged. */
function classify(c: Conn, what: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof QmpClosedError) throw new DriverError(`node ${c.name}: ${what}: ${err.message}`, true, c.name);
    throw err;
  };
}

/** The connection with its rejections classified, and a memory of its reads (remembered). */
function onNode(q: Qmp, closedOn: (err: unknown) => never): Qmp {
  const memory: Memory = { generation: 0, answers: new Map() };
  q.onEvent((ev) => { if (ev.event === 'JOB_STATUS_CHANGE' || ev.event.startsWith('BLOCK_JOB_')) memory.generation++; });
  const held: Qmp = {
    execute: <T>(command: string, args?: QmpData) => {
      if (!command.startsWith('query-')) memory.generation++;
      return q.execute<T>(command, args).catch(closedOn);
    },
    waitEvent: (name, timeoutMs, match) => q.waitEvent(name, timeoutMs, match).catch(closedOn),
    onEvent: (l) => q.onEvent(l),
    closed: q.closed,
    close: () => q.close(),
  };
  memories.set(held, memory);
  return held;
}

/** What one connection remembers of its QEMU's answers; `generation` counts what may have changed them. */
interface Memory { generation: number; readonly answers: Map<string, { readonly generation: number; readonly value: unknown }> }
const memories = new WeakMap<Qmp, Memory>();

/**
 * `read`'s answer as last read on this connection, read again only when something may have changed it:
 * a job event (JOB_STATUS_CHANGE, BLOCK_JOB_*), a command other than a query sent on this connection (QEMU
 * serves one client: nobody else sends any meanwhile), or `moving(answer)` (what QEMU sends no event for,
 * such as a running job's progress). A new connection remembers nothing: a (re)connect reads again. For
 * reads whose answers change only that way (the jobs, the block nodes' bitmaps), so that a probe every
 * few seconds costs QEMU nothing while nothing happens.
 */
export async function remembered<T>(q: Qmp, key: string, read: (q: Qmp) => Promise<T>, moving: (answer: T) => boolean = () => false): Promise<T> {
  const memory = memories.get(q);
  if (!memory) return read(q);
  const have = memory.answers.get(key);
  if (have?.generation === memory.generation && !moving(have.value as T)) return have.value as T;
  const generation = memory.generation;
  const value = await read(q);
  // an event or a command between the question and the answer: the answer may be older than they are
  if (generation === memory.generation) memory.answers.set(key, { generation, value });
  return value;
}

/** Close every connection this engine context holds (the driver's close). */
export async function closeAll(e: Engine): Promise<void> {
  const byId = open.get(e);
  if (!byId) return;
  open.delete(e);
  for (const p of byId.values()) await p.then((q) => q.close(), () => {});
}
