/**
 * manifest/: load files → parse (js-yaml) → validate (ajv + semantic checks) → resolve defaults →
 * Desired. Every problem found is reported with its file:line:col; nothing stops at the first.
 */

import type { Desired } from '../model/desired.ts';
import { buildDesired } from './build.ts';
import { Diagnostics, type Diagnostic } from './diagnostic.ts';
import { checkDocument } from './document.ts';
import { expandPaths, readText } from './files.ts';
import { Gaps } from './gaps.ts';
import { checkTlsFiles } from './tls.ts';
import { checkVmFiles } from './vm.ts';
import type { AnyManifest } from './types.ts';
import { parseYamlFile } from './yaml.ts';

export { formatDiagnostic, formatError, type Diagnostic } from './diagnostic.ts';
export { API_VERSION } from './document.ts';

export type LoadResult =
  | { readonly ok: true; readonly desired: Desired; readonly files: readonly string[]; readonly warnings: readonly Diagnostic[] }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

/** The default manifest folder, relative to the current directory. */
export const DEFAULT_MANIFEST_PATH = 'manifests';

export interface LoadOptions {
  /** Also read the files manifests name (a node's TLS ca, cert, key; a VM's image and boot files) and report those missing or unparsable. */
  readonly checkFiles?: boolean;
}

export async function loadManifests(paths: readonly string[], options: LoadOptions = {}): Promise<LoadResult> {
  const diags = new Diagnostics();
  const files = await expandPaths(paths, diags);
  const texts = await Promise.all(files.map((file) => readText(file, diags)));
  const manifests: AnyManifest[] = [];
  const gaps = new Gaps();
  files.forEach((file, i) => {
    const text = texts[i];
    if (text === undefined) gaps.addUnreadable();
    else for (const m of loadFile(file, text, diags, gaps)) manifests.push(m); // no spread: files may hold 100k documents
  });
  if (files.length === 0 && diags.errorCount === 0) {
    diags.error({ file: paths[0] ?? '.', line: 1, column: 1 }, 'no manifest files (*.yaml, *.yml) found');
  }
  const desired = buildDesired(manifests, gaps, diags);
  if (options.checkFiles === true) await Promise.all([checkTlsFiles(desired, manifests, diags), checkVmFiles(desired, manifests, diags)]);
  if (diags.errorCount > 0) return { ok: false, diagnostics: [...diags.sorted('error'), ...diags.sorted('warning')] };
  return { ok: true, desired, files, warnings: diags.sorted('warning') };
}

function loadFile(file: string, text: string, diags: Diagnostics, gaps: Gaps): AnyManifest[] {
  const before = diags.errorCount;
  const docs = parseYamlFile(file, text, diags).filter((d) => d.value !== null); // `---` alone is no document
  if (diags.errorCount > before) gaps.addUnreadable();
  else if (docs.length === 0) {
    diags.error({ file, line: 1, column: 1 }, 'empty file: no manifest documents in it');
  }
  const out: AnyManifest[] = [];
  for (const doc of docs) {
    const m = checkDocument(doc, diags, gaps);
    if (m !== undefined) out.push(m);
  }
  return out;
}
