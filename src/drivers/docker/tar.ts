/**
 * A pass-through Transform that counts bytes and collects the entry names of the tar stream going
 * through it (ustar name+prefix, GNU long names 'L', PAX 'x' path records), without buffering data.
 * syncDisks uses the names to delete, on the target, what the source no longer has.
 */
import { Transform, type TransformCallback } from 'node:stream';

const BLOCK = 512;

function cstr(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

function octal(buf: Buffer, start: number, len: number): number {
  if (buf[start]! & 0x80) { // base-256 (GNU) for big sizes
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + buf[i]!;
    return v;
  }
  const s = cstr(buf, start, len).trim();
  return s ? parseInt(s, 8) : 0;
}

/** Normalise a tar path: no leading "./" or "/", no trailing "/". "" for the root itself. */
export function normaliseTarPath(p: string): string {
  let s = p;
  while (s.startsWith('./')) s = s.slice(2);
  while (s.startsWith('/')) s = s.slice(1);
  while (s.endsWith('/')) s = s.slice(0, -1);
  return s === '.' ? '' : s;
}

export class TarScanner extends Transform {
  bytes = 0;
  readonly names = new Set<string>();
  private header = Buffer.alloc(0);
  /** bytes of entry data (incl. padding) still to skip */
  private skip = 0;
  /** data of a 'L' or 'x' entry being collected */
  private meta: { type: string; remaining: number; chunks: Buffer[]; size: number } | undefined;
  private nextName: string | undefined;
  private ended = false;

  constructor(private readonly onChunk?: (bytes: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    try {
      this.scan(chunk);
    } catch {
      this.ended = true; // not a tar we understand: stop scanning, keep passing the bytes through
    }
    this.onChunk?.(this.bytes);
    done(null, chunk);
  }

  private scan(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && !this.ended) {
      if (this.meta) {
        const take = Math.min(this.meta.remaining, chunk.length - off);
        this.meta.chunks.push(chunk.subarray(off, off + take));
        this.meta.remaining -= take;
        off += take;
        if (this.meta.remaining === 0) this.finishMeta();
        continue;
      }
      if (this.skip > 0) {
        const take = Math.min(this.skip, chunk.length - off);
        this.skip -= take;
        off += take;
        continue;
      }
      const need = BLOCK - this.header.length;
      const take = Math.min(need, chunk.length - off);
      this.header = Buffer.concat([this.header, chunk.subarray(off, off + take)]);
      off += take;
      if (this.header.length === BLOCK) {
        const h = this.header;
        this.header = Buffer.alloc(0);
        this.onHeader(h);
      }
    }
  }

  private onHeader(h: Buffer): void {
    if (h.every((b) => b === 0)) return; // end-of-archive blocks
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 48);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L' || type === 'x' || type === 'g' || type === 'K') {
      this.meta = { type, remaining: padded, chunks: [], size };
      if (padded === 0) this.finishMeta();
      return;
    }
    let name = cstr(h, 0, 100);
    if (h.toString('latin1', 257, 262) === 'ustar') {
      const prefix = cstr(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (this.nextName !== undefined) { name = this.nextName; this.nextName = undefined; }
    this.names.add(normaliseTarPath(name));
    // links and directories carry no data whatever their size field says
    this.skip = type === '1' || type === '2' || type === '5' ? 0 : padded;
  }

  private finishMeta(): void {
    const m = this.meta!;
    this.meta = undefined;
    const data = Buffer.concat(m.chunks).subarray(0, m.size);
    if (m.type === 'L') {
      this.nextName = cstr(data, 0, data.length);
    } else if (m.type === 'x') {
      // PAX records: "<len> key=value\n"
      let i = 0;
      while (i < data.length) {
        const sp = data.indexOf(0x20, i);
        if (sp < 0) break;
        const len = parseInt(data.toString('latin1', i, sp), 10);
        if (!(len > 0)) break;
        const rec = data.toString('utf8', sp + 1, i + len - 1);
        const eq = rec.indexOf('=');
        if (eq > 0 && rec.slice(0, eq) === 'path') this.nextName = rec.slice(eq + 1);
        i += len;
      }
    }
  }
}

export type TarEntry =
  | { readonly type: 'file'; readonly name: string; readonly data: Buffer | string; readonly mode?: number }
  | { readonly type: 'dir'; readonly name: string; readonly mode?: number }
  | { readonly type: 'symlink'; readonly name: string; readonly target: string };

/** One ustar header (name and link target < 100 bytes, owner root): also for streaming a big file (drivers/docker/vm). */
export function header(name: string, typeflag: string, mode: number, size: number, mtime: number, link = ''): Buffer {
  const h = Buffer.alloc(BLOCK);
  const oct = (n: number, width: number): string => `${n.toString(8).padStart(width - 1, '0')}\0`;
  h.write(name, 0, 100, 'utf8');
  h.write(oct(mode, 8), 100);
  h.write(oct(0, 8), 108);
  h.write(oct(0, 8), 116);
  h.write(oct(size, 12), 124);
  h.write(oct(mtime, 12), 136);
  h.write('        ', 148);
  h.write(typeflag, 156);
  h.write(link, 157, 100, 'utf8');
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** A small ustar archive (names and link targets < 100 bytes, owner root); `mtime` 0 makes it reproducible. */
export function tarEntries(entries: readonly TarEntry[], mtime = Math.floor(Date.now() / 1000)): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.type === 'dir') { parts.push(header(e.name, '5', e.mode ?? 0o755, 0, mtime)); continue; }
    if (e.type === 'symlink') { parts.push(header(e.name, '2', 0o777, 0, mtime, e.target)); continue; }
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : e.data;
    parts.push(header(e.name, '0', e.mode ?? 0o644, data.length, mtime), data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** A small ustar archive of regular files, e.g. list files put into a helper. */
export function tarOf(files: Readonly<Record<string, Buffer | string>>): Buffer {
  return tarEntries(Object.entries(files).map(([name, data]) => ({ type: 'file' as const, name, data })));
}

/**
 * Bytes the tars of these entries take when they are split into batches of about `batchChars` characters of
 * names ("./" + name, as the sync sends them): per batch the end blocks, per entry a header, data padded to
 * 512, and a GNU long-name entry for names of 100 bytes or more.
 */
export function tarSize(entries: readonly { name: string; size: number }[], batchChars = Infinity): number {
  let n = 0;
  let len = 0;
  let open = false;
  for (const e of entries) {
    const name = `./${e.name}`;
    if (!open || len >= batchChars) { n += BLOCK * 2; len = 0; open = true; }
    len += name.length + 1;
    n += BLOCK + Math.ceil(e.size / BLOCK) * BLOCK;
    const nb = Buffer.byteLength(name);
    if (nb >= 100) n += BLOCK + Math.ceil((nb + 1) / BLOCK) * BLOCK;
  }
  return n;
}
