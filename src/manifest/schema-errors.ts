/** ajv errors → short messages that name the field, and the pointer to show them at. */

import type { ErrorObject } from 'ajv/dist/2020.js';
import { didYouMean } from './suggest.ts';

export interface FieldProblem {
  readonly pointer: string;
  /** Show at the key (unknown or missing fields) rather than at the value. */
  readonly part: 'key' | 'value';
  readonly message: string;
}

export const QUANTITY_HINT = 'is not a quantity (use 512M, 1G, 1.5T)';
export const DURATION_HINT = 'is not a duration (use 250ms, 30s, 5m, 1h)';
const NAME_HINT = 'is not a valid name (use a lowercase DNS label like web-1 or an FQDN like srv-www.or.lan)';

/** Messages for one document's errors; redundant ones (a propertyNames pattern twice) dropped. */
export function describeErrors(errors: readonly ErrorObject[]): FieldProblem[] {
  const out: FieldProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if ((e as { propertyName?: string }).propertyName !== undefined) continue; // repeated by `propertyNames`
    const p = describe(e);
    const key = `${p.pointer} ${p.message}`;
    if (!seen.has(key)) out.push(p);
    seen.add(key);
  }
  return out;
}

function describe(e: ErrorObject): FieldProblem {
  const path = dotted(e.instancePath);
  const field = path === '' ? '' : `${path}: `;
  const shared = /\$defs\/(quantity|duration|name)\//.exec(e.schemaPath)?.[1];
  if (shared !== undefined) {
    const hint = shared === 'quantity' ? QUANTITY_HINT : shared === 'duration' ? DURATION_HINT : NAME_HINT;
    return at(e.instancePath, `${field}${show(e.data)} ${hint}`);
  }
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(e.params.additionalProperty);
      const known = Object.keys((e.parentSchema?.properties ?? {}) as object);
      const where = path === '' ? 'the document' : path;
      return at(`${e.instancePath}/${escape(name)}`, `unknown field "${name}" in ${where}${didYouMean(name, known)}`, 'key');
    }
    case 'required':
      return at(e.instancePath, `${field}missing required field "${String(e.params.missingProperty)}"`, 'key');
    case 'propertyNames': {
      const name = String(e.params.propertyName);
      const what = e.instancePath.endsWith('/env') ? 'variable name' : 'label key';
      return at(`${e.instancePath}/${escape(name)}`, `${field}"${name}" is not a valid ${what}`, 'key');
    }
    case 'type':
      return at(e.instancePath, `${field}expected ${expected(e.params.type)}, got ${show(e.data)}${quoteHint(e)}`);
    case 'enum': {
      const allowed = (e.params.allowedValues as unknown[]).map(String);
      const hint = typeof e.data === 'string' ? didYouMean(e.data, allowed) : '';
      return at(e.instancePath, `${field}${show(e.data)} is not one of ${allowed.join(', ')}${hint}`);
    }
    case 'const':
      return at(e.instancePath, `${field}must be ${show(e.params.allowedValue)}, got ${show(e.data)}`);
    case 'pattern':
      return at(e.instancePath, `${field}${show(e.data)} ${patternHint(e.instancePath)}`);
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
      return at(e.instancePath, `${field}must be ${String(e.params.comparison)} ${String(e.params.limit)}, got ${show(e.data)}`);
    case 'minLength':
      return at(e.instancePath, `${field}must not be empty`);
    case 'minItems':
      return at(e.instancePath, `${field}must list at least ${String(e.params.limit)} item(s)`);
    default:
      return at(e.instancePath, `${field}${e.message ?? e.keyword}`);
  }
}

function at(pointer: string, message: string, part: 'key' | 'value' = 'value'): FieldProblem {
  return { pointer, part, message };
}

function patternHint(pointer: string): string {
  const segments = pointer.split('/');
  const last = segments[segments.length - 1];
  if (last === 'mount') return 'is not an absolute path (use /data)';
  if (last === 'endpoint') return 'is not an endpoint (use unix:///var/run/docker.sock or tcp://host:2376)';
  if (segments[segments.length - 2] === 'ports') return 'is not a port (use "8080:80", "80" or "53/udp")';
  return 'has the wrong format';
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false',
  object: 'a mapping', array: 'a list', null: 'nothing',
};

function expected(type: unknown): string {
  const types = Array.isArray(type) ? type.map(String) : [String(type)];
  return types.map((t) => TYPE_NAMES[t] ?? t).join(' or ');
}

/** YAML makes `1`, `true` and `1.10` typed; strings need quotes, so say it. */
function quoteHint(e: ErrorObject): string {
  const wantsString = e.params.type === 'string';
  const scalar = typeof e.data === 'number' || typeof e.data === 'boolean';
  return wantsString && scalar ? ` (quote it: "${String(e.data)}")` : '';
}

/** A value as a user would recognise it in a message. */
export function show(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** `/spec/disks/0/size` → `spec.disks[0].size`. */
export function dotted(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  }
  return out;
}

export function escape(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
