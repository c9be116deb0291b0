/** Which files to read (paths and folders, recursively) and reading them as strict UTF-8. */

import { readdir, readFile, stat } from 'node:fs/promises';
import type { Diagnostics } from './diagnostic.ts';
import { LineIndex } from './lines.ts';

const MANIFEST_FILE = /\.ya?ml$/i;

/** Files named directly are read whatever their extension; folders contribute `*.yaml`/`*.yml`. */
export async function expandPaths(paths: readonly string[], diags: Diagnostics): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) diags.error(at(path), `no such file or folder: ${path}`);
    else if (info.isDirectory()) files.push(...(await walk(path)));
    else files.push(path);
  }
  return [...new Set(files)];
}

/** Sorted so that the same folder always loads in the same order (and reports the same way). */
async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue; // editor swap files, .git
    const path = dir.endsWith('/') ? `${dir}${e.name}` : `${dir}/${e.name}`; // as given: `./m` stays `./m/...`
    if (e.isDirectory()) files.push(...(await walk(path)));
    else if (e.isFile() && MANIFEST_FILE.test(e.name)) files.push(path);
  }
  return files;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The file's text, or undefined after a diagnostic (unreadable, or not UTF-8). */
export async function readText(file: string, diags: Diagnostics): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    diags.error(at(file), `cannot read file: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    return undefined;
  }
  try {
    return utf8.decode(bytes);
  } catch {
    diags.error(badByteLocation(file, bytes), 'file is not valid UTF-8 (save it as UTF-8)');
    return undefined;
  }
}

/** Where the first undecodable byte is: the lenient decoder marks it with U+FFFD. */
function badByteLocation(file: string, bytes: Buffer): { file: string; line: number; column: number } {
  const lenient = bytes.toString('utf8');
  const offset = Math.max(0, lenient.indexOf('\uFFFD'));
  return { file, ...new LineIndex(lenient).position(offset) };
}

function at(file: string): { file: string; line: number; column: number } {
  return { file, line: 1, column: 1 };
}
