/**
 * Streaming from one engine into another (images, volumes, checkpoints) with an idle timeout instead of a
 * total one: a copy may take long, but it may not stall.
 */
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DriverError } from '../driver.ts';
import type { Conn, Engine } from './engine.ts';
import { toDriverError } from './errors.ts';

/**
 * `open` returns the source stream, `send` consumes the body and resolves when the target has answered;
 * `through` are transforms in between (e.g. a TarScanner counting bytes).
 */
export async function transfer(
  e: Engine, from: Conn, to: Conn, what: string,
  open: (signal: AbortSignal) => Promise<NodeJS.ReadableStream>,
  send: (body: Readable, signal: AbortSignal) => Promise<unknown>,
  through: readonly Transform[] = [],
): Promise<void> {
  const acFrom = new AbortController();
  const acTo = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let fail: (err: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => { fail = reject; });
  failed.catch(() => {});
  const arm = (stage: string, who: Conn): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      fail(new DriverError(`node ${who.name} (${who.endpoint}): ${what}: no progress for ${e.timeout} ms while ${stage}`, true, who.name));
    }, e.timeout);
  };
  const at = (c: Conn) => (err: unknown): never => { throw toDriverError(c.name, c.endpoint, what, err); };
  let src: NodeJS.ReadableStream | undefined;
  const pass = new PassThrough();
  try {
    arm('waiting for the source to answer', from);
    src = await Promise.race([open(acFrom.signal).catch(at(from)), failed]);
    const watch = new Transform({ transform: (chunk: Buffer, _enc, cb) => { arm('copying', from); cb(null, chunk); } });
    const pipe = pipeline([src, watch, ...through, pass]).catch(at(from)).then(() => arm('waiting for the target to finish', to));
    const sent = send(pass, acTo.signal).catch(at(to));
    await Promise.race([Promise.all([pipe, sent]), failed]);
  } catch (err) {
    acFrom.abort();
    acTo.abort();
    (src as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined)?.destroy?.();
    pass.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
