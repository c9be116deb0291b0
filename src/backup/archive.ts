/**
 * The backup archive: one POSIX tar (ustar) whose last member, SHA256SUMS, holds the sha256 of
 * every other member in `sha256sum` format (so `tar x` then `sha256sum -c SHA256SUMS` checks it by
 * hand too). Written to FILE.partial and renamed, so a file at FILE is always whole; read in one
 * pass that hashes each member as it streams by and refuses the archive when a sum differs, a
 * member is unlisted or missing, or the tar is cut short.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';

const BLOCK = 512;
export const SUMS = 'SHA256SUMS';

export class ArchiveError extends Error {}

export type Member =
  | { readonly name: string; readonly data: Buffer }
  | { readonly name: string; readonly file: string };

/** Write the members and their SHA256SUMS to `file` (through file.partial). */
export async function writeArchive(file: string, members: readonly Member[]): Promise<void> {
  const partial = `${file}.partial`;
  const out = fs.openSync(partial, 'w');
  try {
    const sums: string[] = [];
    for (const m of members) sums.push(`${await writeMember(out, m)}  ${m.name}`);
    await writeMember(out, { name: SUMS, data: Buffer.from(`${sums.join('\n')}\n`) });
    fs.writeSync(out, Buffer.alloc(BLOCK * 2)); // end of archive
    fs.fsyncSync(out);
  } catch (e) {
    fs.closeSync(out);
    fs.rmSync(partial, { force: true });
    throw e;
  }
  fs.closeSync(out);
  fs.renameSync(partial, file);
}

async function writeMember(fd: number, m: Member): Promise<string> {
  const size = 'data' in m ? m.data.length : fs.statSync(m.file).size;
  fs.writeSync(fd, header(m.name, size));
  const hash = createHash('sha256');
  if ('data' in m) { hash.update(m.data); fs.writeSync(fd, m.data); } else {
    await pipeline(fs.createReadStream(m.file), new Writable({
      write(chunk: Buffer, _enc, cb) { hash.update(chunk); fs.writeSync(fd, chunk); cb(); },
    }));
  }
  if (size % BLOCK) fs.writeSync(fd, Buffer.alloc(BLOCK - (size % BLOCK)));
  return hash.digest('hex');
}

function header(name: string, size: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new ArchiveError(`member name too long: ${name}`);
  const h = Buffer.alloc(BLOCK);
  const put = (text: string, at: number, len: number) => h.write(text.padEnd(len, '\0').slice(0, len), at, 'latin1');
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  if (size < 8 ** 11) put(`${size.toString(8).padStart(11, '0')}\0`, 124, 12);
  else { h[124] = 0x80; let v = size; for (let i = 135; i > 124; i--) { h[i] = v % 256; v = Math.floor(v / 256); } } // GNU base-256
  put(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136, 12);
  h.fill(' ', 148, 156);
  h.write('0', 156, 'latin1');
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/**
 * Read `file`, giving each member's bytes to `sink(name)` (a writable, or undefined to skip), and
 * verify every member against SHA256SUMS. Throws ArchiveError naming what is wrong.
 */
export async function readArchive(file: string, sink: (name: string) => NodeJS.WritableStream | undefined): Promise<void> {
  const fd = fs.openSync(file, 'r');
  const got = new Map<string, string>();
  let declared: string | undefined;
  try {
    let pos = 0;
    for (;;) {
      const h = Buffer.alloc(BLOCK);
      if (fs.readSync(fd, h, 0, BLOCK, pos) < BLOCK) throw new ArchiveError(`${file}: cut short (no end-of-archive block)`);
      pos += BLOCK;
      if (h.every((b) => b === 0)) break;
      const { name, size } = parseHeader(h, file);
      const out = name === SUMS ? undefined : sink(name);
      const hash = createHash('sha256');
      const chunks: Buffer[] = [];
      for (let left = size; left > 0;) {
        const buf = Buffer.alloc(Math.min(left, 1 << 20));
        const n = fs.readSync(fd, buf, 0, buf.length, pos);
        if (n === 0) throw new ArchiveError(`${file}: cut short inside ${name}`);
        const chunk = buf.subarray(0, n);
        hash.update(chunk);
        if (name === SUMS) chunks.push(chunk);
        else if (out && !out.write(chunk)) await new Promise((r) => out.once('drain', r));
        pos += n;
        left -= n;
      }
      if (out) await new Promise<void>((resolve, reject) => { out.on('error', reject); out.end(resolve); });
      pos += (BLOCK - (size % BLOCK)) % BLOCK;
      if (name === SUMS) declared = Buffer.concat(chunks).toString();
      else got.set(name, hash.digest('hex'));
    }
  } finally {
    fs.closeSync(fd);
  }
  verify(file, got, declared);
}

function verify(file: string, got: ReadonlyMap<string, string>, declared: string | undefined): void {
  if (declared === undefined) throw new ArchiveError(`${file}: no ${SUMS} member: not a Drover backup, or cut short`);
  const want = new Map(declared.trim().split('\n').map((l) => { const [sum, name] = l.split(/ {2}/); return [name!, sum!] as const; }));
  for (const [name, sum] of got) {
    if (!want.has(name)) throw new ArchiveError(`${file}: member ${name} is not in ${SUMS}`);
    if (want.get(name) !== sum) throw new ArchiveError(`${file}: member ${name}: sha256 ${sum} does not match ${SUMS} (${want.get(name)}): the archive is corrupted or was altered`);
  }
  for (const name of want.keys()) if (!got.has(name)) throw new ArchiveError(`${file}: member ${name}, listed in ${SUMS}, is missing`);
}

function parseHeader(h: Buffer, file: string): { name: string; size: number } {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  const stored = parseInt(h.toString('latin1', 148, 156).replace(/[\0 ]/g, ''), 8);
  if (stored !== sum) throw new ArchiveError(`${file}: a tar header's checksum is wrong: not a tar, or corrupted`);
  const name = h.toString('utf8', 0, 100).replace(/\0.*$/s, '');
  let size = 0;
  if (h[124]! & 0x80) for (let i = 125; i < 136; i++) size = size * 256 + h[i]!;
  else size = parseInt(h.toString('latin1', 124, 136).replace(/[\0 ]/g, '') || '0', 8);
  if (h[156] !== 0x30 && h[156] !== 0) throw new ArchiveError(`${file}: member ${name} is not a plain file`);
  return { name, size };
}
