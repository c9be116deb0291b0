/** One YAML document → a valid manifest of a known kind, or diagnostics. */

import type { Diagnostics } from './diagnostic.ts';
import { brokenDoc, type Gaps } from './gaps.ts';
import { describeErrors, show } from './schema-errors.ts';
import { KINDS, validatorFor, type Kind } from './schemas.ts';
import { didYouMean } from './suggest.ts';
import type { AnyManifest } from './types.ts';
import type { YamlDoc } from './yaml.ts';

export const API_VERSION = 'drover/v1';

export function checkDocument(doc: YamlDoc, diags: Diagnostics, gaps: Gaps): AnyManifest | undefined {
  const value = doc.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    diags.error(doc.root, `a manifest must be a mapping with apiVersion, kind, metadata and spec; got ${show(value)}`);
    gaps.add({ kind: '', name: undefined, cluster: undefined });
    return undefined;
  }
  const fields = value as Record<string, unknown>;
  const kind = checkEnvelope(doc, fields, diags);
  if (kind === undefined) {
    gaps.add({ ...brokenDoc(fields), kind: '' }); // a mistyped kind could be any kind
    return undefined;
  }
  const title = `${kind}${nameOf(fields)}`;
  const validate = validatorFor(kind);
  if (!validate(fields)) {
    for (const p of describeErrors(validate.errors ?? [])) {
      diags.error(doc.locate(p.pointer, p.part), `${title}: ${p.message}`);
    }
    gaps.add(brokenDoc(fields));
    return undefined;
  }
  const metadata = fields.metadata as { name: string; labels?: Record<string, string>; renamedFrom?: string };
  const renamed = metadata.renamedFrom !== undefined && { renamedFrom: metadata.renamedFrom };
  return { kind, name: metadata.name, labels: metadata.labels ?? {}, ...renamed, spec: fields.spec, doc, title } as AnyManifest;
}

/** apiVersion and kind decide which schema applies, so they are checked first, with plain words. */
function checkEnvelope(doc: YamlDoc, fields: Record<string, unknown>, diags: Diagnostics): Kind | undefined {
  const { apiVersion, kind } = fields;
  let ok = true;
  if (apiVersion === undefined) {
    diags.error(doc.root, `missing apiVersion (use apiVersion: ${API_VERSION})`);
    ok = false;
  } else if (apiVersion !== API_VERSION) {
    diags.error(doc.locate('/apiVersion'), `unknown apiVersion ${show(apiVersion)} (this Drover reads ${API_VERSION})`);
    ok = false;
  }
  if (kind === undefined) {
    diags.error(doc.root, `missing kind (use ${KINDS.join(', ')})`);
    return undefined;
  }
  if (!(KINDS as readonly unknown[]).includes(kind)) {
    const hint = typeof kind === 'string' ? didYouMean(kind, KINDS) : '';
    diags.error(doc.locate('/kind'), `unknown kind ${show(kind)} (expected ${KINDS.join(', ')})${hint}`);
    return undefined;
  }
  return ok ? (kind as Kind) : undefined;
}

function nameOf(fields: Record<string, unknown>): string {
  const name = (fields.metadata as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? ` "${name}"` : '';
}
