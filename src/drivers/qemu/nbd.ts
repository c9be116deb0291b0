/**
 * Where an NBD export lives, and the two ends of it over QMP: a client node on the VM that writes into
 * it, and an export of a node (in a VM or in qemu-storage-daemon) that serves it.
 */
import type { Qmp } from './qmp.ts';

export type NbdAddress =
  | { readonly type: 'inet'; readonly host: string; readonly port: number }
  | { readonly type: 'unix'; readonly path: string };

export interface NbdTarget {
  readonly address: NbdAddress;
  /** The export's name on that server. */
  readonly export: string;
}

/** QMP's SocketAddress for the client side (blockdev-add's `server`). */
function flat(a: NbdAddress): Record<string, string> {
  return a.type === 'inet' ? { type: 'inet', host: a.host, port: String(a.port) } : { type: 'unix', path: a.path };
}

/** The nbd-server-start form of the same address (the legacy tagged union). */
function tagged(a: NbdAddress): Record<string, unknown> {
  return a.type === 'inet' ? { type: 'inet', data: { host: a.host, port: String(a.port) } } : { type: 'unix', data: { path: a.path } };
}

/** Adds a block node named `node` that reads and writes the export. */
export async function addNbdNode(qmp: Qmp, node: string, target: NbdTarget): Promise<void> {
  await qmp.execute('blockdev-add', { driver: 'nbd', 'node-name': node, server: flat(target.address), export: target.export });
}

/** Removes the node if it exists (after its jobs ended). */
export async function removeNode(qmp: Qmp, node: string): Promise<void> {
  const nodes = await qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
  if (nodes.some((n) => n['node-name'] === node)) await qmp.execute('blockdev-del', { 'node-name': node });
}

/** Serves `device` (a node name) writable as export `name` on `address` from a VM (old-style NBD server). */
export async function serveFromVm(qmp: Qmp, address: NbdAddress, device: string, name: string): Promise<void> {
  await qmp.execute('nbd-server-start', { addr: tagged(address) });
  await qmp.execute('nbd-server-add', { device, name, writable: true });
}
