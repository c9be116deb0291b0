/**
 * A node's TLS files (spec.tls: ca, cert, key), read and parsed before anything connects: a
 * missing file or one that does not parse is an error at the field that names it, not a failed
 * handshake later. Only nodes that use them (a tcp:// endpoint) are checked.
 */

import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import type { Desired, TlsFiles } from '../model/desired.ts';
import type { Diagnostics } from './diagnostic.ts';
import type { AnyManifest, Manifest } from './types.ts';
import { where } from './types.ts';

type Field = keyof TlsFiles;

/** A file's bytes, or why it could not be read. */
type Read = { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly why: string };

export interface TlsProblem {
  readonly field: Field;
  readonly message: string;
}

export async function checkTlsFiles(desired: Desired, manifests: readonly AnyManifest[], diags: Diagnostics): Promise<void> {
  const docs = new Map<string, Manifest<'Node'>>();
  for (const m of manifests) if (m.kind === 'Node' && !docs.has(m.name)) docs.set(m.name, m);
  const checks = [...desired.nodes.values()]
    .filter((n) => n.tls !== undefined && n.endpoint?.startsWith('tcp://') === true)
    .map(async (node) => {
      const m = docs.get(node.name)!;
      const files = node.tls!;
      const shown = { ca: shortPath(files.ca), cert: shortPath(files.cert), key: shortPath(files.key) };
      for (const p of tlsProblems(shown, await readTls(files))) {
        diags.error(where(m, `/spec/tls/${p.field}`), `${m.title}: spec.tls.${p.field}: ${p.message}`);
      }
    });
  await Promise.all(checks);
}

async function readTls(files: TlsFiles): Promise<Readonly<Record<Field, Read>>> {
  const [ca, cert, key] = await Promise.all([files.ca, files.cert, files.key].map(readOne));
  return { ca: ca!, cert: cert!, key: key! };
}

async function readOne(file: string): Promise<Read> {
  try {
    return { ok: true, bytes: await readFile(file) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a folder, not a file' : String(code ?? e);
    return { ok: false, why };
  }
}

/** Relative to the current folder when inside it: the absolute path only when that is shorter to read. */
function shortPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

/** What is wrong with read TLS files (named as `files` says): unreadable, not PEM of the right kind, cert and key apart. */
export function tlsProblems(files: TlsFiles, read: Readonly<Record<Field, Read>>): TlsProblem[] {
  const problems: TlsProblem[] = [];
  const parse = <T>(field: Field, what: string, f: (bytes: Buffer) => T): T | undefined => {
    const r = read[field];
    if (!r.ok) { problems.push({ field, message: `cannot read ${files[field]}: ${r.why}` }); return undefined; }
    try {
      return f(r.bytes);
    } catch (e) {
      problems.push({ field, message: `${files[field]} is not ${what} (${firstLine(e)})` });
      return undefined;
    }
  };
  parse('ca', 'a PEM certificate', (b) => new X509Certificate(b));
  const cert = parse('cert', 'a PEM certificate', (b) => new X509Certificate(b));
  const key = parse('key', 'a PEM private key', (b): KeyObject => createPrivateKey(b));
  if (cert !== undefined && key !== undefined && !cert.checkPrivateKey(key)) {
    problems.push({ field: 'key', message: `${files.key} does not belong to the certificate ${files.cert}` });
  }
  return problems;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}
