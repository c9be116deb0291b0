/**
 * Images on nodes: whether a node has one, and getting it there — copied from another node of the
 * cluster (save → load, no registry needed), else pulled when the options allow it.
 */
import { Readable } from 'node:stream';
import { DriverError } from '../driver.ts';
import { loose, readAll, streamError } from './api.ts';
import type { Conn, Engine } from './engine.ts';
import { EngineFault } from './errors.ts';
import { BUILTIN_HELPER_IMAGE, builtinHelperArchive } from './helper-image.ts';
import { transfer } from './transfer.ts';

export async function hasImage(e: Engine, c: Conn, image: string): Promise<boolean> {
  return (await e.maybe(c, `inspect image ${image}`, (signal) => loose<unknown>(c.docker.getImage(image), 'inspect', { abortSignal: signal }))) !== undefined;
}

export async function imagesPresent(e: Engine, node: string, images: readonly string[]): Promise<readonly string[]> {
  const c = e.conn(node);
  const present = await Promise.all(images.map((i) => hasImage(e, c, i)));
  return images.filter((_, k) => present[k]);
}

/** Make sure `c` has `image` (one copy at a time per node and image). */
export async function ensureImage(e: Engine, c: Conn, image: string): Promise<void> {
  if (await hasImage(e, c, image)) return;
  const key = `${c.name}\0${image}`;
  const running = e.imageInFlight.get(key);
  if (running) return running;
  const p = fetchImage(e, c, image).finally(() => e.imageInFlight.delete(key));
  e.imageInFlight.set(key, p);
  return p;
}

/** Throw the error a 200 JSON-lines answer (load, pull) reports inside its body. */
async function checkStream(res: NodeJS.ReadableStream, what: string): Promise<void> {
  const err = streamError(await readAll(res));
  if (err) throw new EngineFault(`${what} failed: ${err}`, 500);
}

async function fetchImage(e: Engine, c: Conn, image: string): Promise<void> {
  if (image === BUILTIN_HELPER_IMAGE) {
    await e.call(c, `load helper image ${image}`, async (signal) =>
      checkStream(await c.docker.loadImage(Readable.from([builtinHelperArchive(c.name)]), { quiet: true, abortSignal: signal }), 'image load'),
    Math.max(e.timeout, 60_000));
    if (!(await hasImage(e, c, image))) throw new DriverError(`node ${c.name}: helper image ${image} still missing after loading it`, true, c.name);
    return;
  }
  const problems: string[] = [];
  for (const other of e.opts.nodes) {
    if (other.name === c.name || !other.endpoint) continue;
    let src: Conn;
    try {
      src = e.conn(other.name);
      if (!(await hasImage(e, src, image))) continue;
    } catch (err) {
      problems.push((err as Error).message);
      continue;
    }
    await transfer(e, src, c, `copy image ${image}`,
      () => src.docker.getImage(image).get(),
      async (body, signal) => checkStream(await c.docker.loadImage(body, { quiet: true, abortSignal: signal }), 'image load'));
    if (!(await hasImage(e, c, image))) throw new DriverError(`node ${c.name}: image ${image} still missing after loading it from ${src.name}`, true, c.name);
    return;
  }
  if (e.opts.pullImages) {
    await e.call(c, `pull image ${image}`, async (signal) => checkStream(await c.docker.pull(image, { abortSignal: signal }), 'pull'),
      Math.max(e.timeout, 600_000));
    return;
  }
  throw new DriverError(
    `node ${c.name}: image ${image} is not there, and no other node of cluster ${e.cluster} has it to copy from` +
    `${problems.length ? ` (some nodes could not be asked: ${problems.join('; ')})` : ''} (no registry pull configured)`,
    problems.length > 0, c.name);
}
