/**
 * The one QMP connection per VM the driver keeps (QEMU serves one client per monitor socket: a second
 * would hang until the first closes, shared/reference/qemu.md step 2). Keyed by the container's Id, so a
 * restarted QEMU (a new container, or the same one started again) gets a new connection; a connection
 * that closes (QEMU quit, the engine went away) is dropped and the next call opens a new one. Events are
 * not buffered for absent clients: after a (re)connect, callers reconcile with query-status (and i14's
 * replication with query-migrate / query-block-jobs).
 */
import { DriverError } from '../../driver.ts';
import { connectQmp, type Qmp } from '../../qemu/qmp.ts';
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
      const stream = await socketStream(e, c, id, VM_PATHS.qmp, `QMP of ${id.slice(0, 12)}`);
      return await connectQmp(stream, Math.max(1000, Math.min(10_000, deadline - Date.now())));
    } catch (err) {
      if (err instanceof DriverError && !err.transient) throw err;
      if (Date.now() > deadline) {
        throw new DriverError(`node ${c.name}: no QMP monitor in container ${id.slice(0, 12)} within ${timeoutMs} ms: ${(err as Error).message}`, true, c.name);
      }
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * (attempt + 1))));
    }
  }
}

/** Close every connection this engine context holds (the driver's close). */
export async function closeAll(e: Engine): Promise<void> {
  const byId = open.get(e);
  if (!byId) return;
  open.delete(e);
  for (const p of byId.values()) await p.then((q) => q.close(), () => {});
}
