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

/** The connection with its rejections classified. */
function onNode(q: Qmp, closedOn: (err: unknown) => never): Qmp {
  return {
    execute: <T>(command: string, args?: QmpData) => q.execute<T>(command, args).catch(closedOn),
    waitEvent: (name, timeoutMs, match) => q.waitEvent(name, timeoutMs, match).catch(closedOn),
    onEvent: (l) => q.onEvent(l),
    closed: q.closed,
    close: () => q.close(),
  };
}

/** Close every connection this engine context holds (the driver's close). */
export async function closeAll(e: Engine): Promise<void> {
  const byId = open.get(e);
  if (!byId) return;
  open.delete(e);
  for (const p of byId.values()) await p.then((q) => q.close(), () => {});
}
