/** The JSON Schemas in schemas/, compiled once per process (compiling costs ~50 ms; validating, µs). */

import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { AnySchemaObject, ValidateFunction } from 'ajv/dist/2020.js';

export const KINDS = ['Cluster', 'Node', 'Instance', 'Network'] as const;
export type Kind = (typeof KINDS)[number];

export const SCHEMA_DIR = new URL('../../schemas/', import.meta.url);
const FILES = ['common', 'cluster', 'node', 'instance', 'network'] as const;

export function readSchema(name: (typeof FILES)[number]): AnySchemaObject {
  return JSON.parse(readFileSync(new URL(`${name}.schema.json`, SCHEMA_DIR), 'utf8')) as AnySchemaObject;
}

let compiled: ReadonlyMap<Kind, ValidateFunction> | undefined;

/**
 * useDefaults fills the schema's `default`s into the document, so the schemas are the one place
 * defaults are written (and documented). verbose gives errors their parent schema, for "did you mean".
 */
export function validatorFor(kind: Kind): ValidateFunction {
  compiled ??= compileAll();
  return compiled.get(kind)!;
}

function compileAll(): ReadonlyMap<Kind, ValidateFunction> {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, useDefaults: true, verbose: true });
  ajv.addSchema(readSchema('common'));
  return new Map(KINDS.map((kind) => [kind, ajv.compile(readSchema(fileOf(kind)))]));
}

function fileOf(kind: Kind): Exclude<(typeof FILES)[number], 'common'> {
  return kind.toLowerCase() as Exclude<(typeof FILES)[number], 'common'>;
}
