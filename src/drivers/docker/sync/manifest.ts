/**
 * Content manifests, pure: the script a sync helper runs to list its disks, the parsing of its output,
 * and the comparison of two manifests into what to delete, what directories to make and what to send.
 */

export interface ManifestEntry {
  /** f file, d directory, l symlink, o other */
  readonly type: 'f' | 'd' | 'l' | 'o';
  readonly size: number;
  /** mode:uid:gid */
  readonly meta: string;
  readonly md5: string;
}

/** disk index → path relative to the disk → entry */
export type Manifest = ReadonlyMap<number, ReadonlyMap<string, ManifestEntry>>;

/** What to do on one disk of the target so that it equals the source's. */
export interface DiskPlan {
  readonly disk: number;
  /** top-most paths to delete (gone on the source, or of another type there) */
  readonly remove: readonly string[];
  /** directories the target lacks (or has with other metadata) */
  readonly mkdir: readonly string[];
  /** files and links to send, with their sizes (links 0) */
  readonly send: readonly { readonly name: string; readonly size: number }[];
}

/** The exit code of MANIFEST_SCRIPT when a name contains a newline: the lists are line based, copy everything. */
export const UNLISTABLE = 4;

/**
 * Run in a sync helper with the disks at /v/d<i>: `stat` lines (type+mode in hex, size, uid, gid, path),
 * then `--md5`, then md5sum lines. Files are compared by md5 (plus mode/owner), not by mtime: tar keeps
 * whole seconds only, so a same-size rewrite in the second of the last sync would be missed, and an md5 of
 * 100 MB costs about what a stat does (testbed.md §5).
 */
export const MANIFEST_SCRIPT = [
  'cd /v || exit 3',
  `if [ -n "$(find . -name '*\n*' | head -n 1)" ]; then exit ${UNLISTABLE}; fi`,
  "find . -mindepth 2 -exec stat -c '%f %s %u %g %n' {} + || exit 5",
  'echo --md5',
  'find . -mindepth 2 -type f -exec md5sum {} + || exit 6',
].join('\n');

function typeOf(mode: number): ManifestEntry['type'] {
  const fmt = mode & 0o170000;
  return fmt === 0o100000 ? 'f' : fmt === 0o040000 ? 'd' : fmt === 0o120000 ? 'l' : 'o';
}

/** Parse MANIFEST_SCRIPT's output; every listed disk gets a (possibly empty) map, lines of other disks are ignored. */
export function parseManifest(stdout: string, disks: readonly number[]): Manifest {
  const out = new Map<number, Map<string, ManifestEntry>>(disks.map((d) => [d, new Map()]));
  let md5 = false;
  for (const line of stdout.split('\n')) {
    if (line === '--md5') { md5 = true; continue; }
    if (!md5) {
      const m = /^([0-9a-f]+) (\d+) (\d+) (\d+) \.\/d(\d+)\/(.+)$/.exec(line);
      if (!m) continue;
      const mode = parseInt(m[1]!, 16);
      out.get(Number(m[5]))?.set(m[6]!, { type: typeOf(mode), size: Number(m[2]), meta: `${(mode & 0o7777).toString(8)}:${m[3]}:${m[4]}`, md5: '' });
    } else {
      const m = /^([0-9a-f]{32}) {2}\.\/d(\d+)\/(.+)$/.exec(line);
      const files = m ? out.get(Number(m[2])) : undefined;
      const e = files?.get(m![3]!);
      if (e) files!.set(m![3]!, { ...e, md5: m![1]! });
    }
  }
  return out;
}

/** The top-most of these paths, sorted: deleting `a` deletes `a/b` too. */
export function topMost(paths: Iterable<string>): string[] {
  const top: string[] = [];
  for (const p of [...paths].sort()) if (!top.some((t) => p.startsWith(`${t}/`))) top.push(p);
  return top;
}

function same(x: ManifestEntry | undefined, e: ManifestEntry): boolean {
  if (x === undefined || x.type !== e.type) return false;
  if (e.type === 'd') return true;
  return x.meta === e.meta && (e.type !== 'f' || (x.size === e.size && x.md5 === e.md5));
}

/** Compare one disk's source and target manifests. Links are always sent (cheap, and their target is not listed). */
export function diffDisk(disk: number, src: ReadonlyMap<string, ManifestEntry>, dst: ReadonlyMap<string, ManifestEntry>): DiskPlan {
  const gone = [...dst].filter(([p, e]) => src.get(p)?.type !== e.type).map(([p]) => p);
  const mkdir: string[] = [];
  const send: { name: string; size: number }[] = [];
  for (const [p, e] of src) {
    const unchanged = same(dst.get(p), e);
    if (e.type === 'd') { if (!unchanged) mkdir.push(p); continue; }
    if (e.type === 'l' || !unchanged) send.push({ name: p, size: e.type === 'f' ? e.size : 0 });
  }
  return { disk, remove: topMost(gone), mkdir: mkdir.sort(), send };
}

/** Split names into batches of about `maxChars` characters of arguments (busybox tar has no -T). */
export function batches(names: readonly string[], maxChars: number): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let len = 0;
  for (const n of names) {
    if (cur.length > 0 && len >= maxChars) { out.push(cur); cur = []; len = 0; }
    cur.push(n);
    len += n.length + 1;
  }
  if (cur.length) out.push(cur);
  return out;
}
