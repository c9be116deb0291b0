/**
 * YAML → documents, keeping a way back from a JSON pointer to line:column.
 * js-yaml 5 parses to a flat event list with source offsets; we build the JS values from the same
 * events, and index a document's positions only when someone asks (most documents have no error).
 */

import {
  CORE_SCHEMA, EVENT_ID, YAMLException, constructFromEvents, mergeTag, parseEvents,
} from 'js-yaml';
import type { Event } from 'js-yaml';
import type { SourceLocation } from '../model/desired.ts';
import type { Diagnostics } from './diagnostic.ts';
import { LineIndex } from './lines.ts';
import { indexPositions, nodeStart, type Positions } from './positions.ts';
import { aliasBomb, MAX_EXPANDED_NODES } from './aliases.ts';

/** YAML 1.2 core types (`yes` stays a string), plus `<<` merge keys, which people expect. */
const SCHEMA = CORE_SCHEMA.withTags(mergeTag);

export interface YamlDoc {
  /** null for an empty document. */
  readonly value: unknown;
  readonly file: string;
  /** Where the document's content starts. */
  readonly root: SourceLocation;
  /** The value (or its key) at a JSON pointer; a missing pointer falls back to its nearest ancestor. */
  locate(pointer: string, part?: 'key' | 'value'): SourceLocation;
}

interface Span {
  readonly from: number; // the DOCUMENT event
  readonly to: number; // its POP
  readonly hasAlias: boolean;
}

/** Every document of a file that parsed; problems go to diags. */
export function parseYamlFile(file: string, text: string, diags: Diagnostics): YamlDoc[] {
  let events: Event[];
  try {
    events = parseEvents(text, { filename: file });
  } catch (e) {
    reportYamlError(file, text, e, diags);
    return [];
  }
  const lines = new LineIndex(text);
  const spans = documentSpans(events);
  const refused = refuseAliasBombs(file, text, events, spans, lines, diags);
  const values = construct(file, text, events, spans, refused, diags);
  const docs: YamlDoc[] = [];
  spans.forEach((span, i) => {
    if (values[i] !== NOT_BUILT) docs.push(makeDoc(file, text, lines, events, span, values[i]));
  });
  return docs;
}

const NOT_BUILT = Symbol('not built');

function documentSpans(events: readonly Event[]): Span[] {
  const spans: Span[] = [];
  let depth = 0;
  let from = 0;
  let hasAlias = false;
  for (let i = 0; i < events.length; i++) {
    const type = events[i]!.type;
    if (type === EVENT_ID.ALIAS) hasAlias = true;
    else if (type === EVENT_ID.POP) {
      if (--depth === 0) spans.push({ from, to: i, hasAlias });
    } else if (type !== EVENT_ID.SCALAR) {
      if (depth++ === 0) [from, hasAlias] = [i, false];
    }
  }
  return spans;
}

/** Aliases are shared references when loaded, but every consumer expands them: billion laughs. */
function refuseAliasBombs(
  file: string, text: string, events: readonly Event[], spans: readonly Span[], lines: LineIndex, diags: Diagnostics,
): Set<number> {
  const refused = new Set<number>();
  spans.forEach((span, i) => {
    if (!span.hasAlias) return;
    const offset = aliasBomb(text, events, span.from, span.to);
    if (offset === undefined) return;
    refused.add(i);
    diags.error({ file, ...lines.position(offset) },
      `aliases expand this document beyond ${MAX_EXPANDED_NODES} nodes ("billion laughs"?); write the values out or use fewer aliases`);
  });
  return refused;
}

/** One pass for the whole file when all is well; document by document to report every bad one. */
function construct(
  file: string, text: string, events: Event[], spans: readonly Span[], refused: ReadonlySet<number>,
  diags: Diagnostics,
): unknown[] {
  if (refused.size === 0) {
    try {
      return constructFromEvents(events, { source: text, filename: file, schema: SCHEMA });
    } catch {
      // fall through: find which documents fail, and report each
    }
  }
  return spans.map((span, i) => {
    if (refused.has(i)) return NOT_BUILT;
    try {
      const slice = events.slice(span.from, span.to + 1);
      return constructFromEvents(slice, { source: text, filename: file, schema: SCHEMA })[0];
    } catch (e) {
      reportYamlError(file, text, e, diags);
      return NOT_BUILT;
    }
  });
}

function reportYamlError(file: string, text: string, e: unknown, diags: Diagnostics): void {
  if (!(e instanceof YAMLException) || e.mark === undefined) {
    diags.error({ file, line: 1, column: 1 }, `cannot parse YAML: ${String(e)}`);
    return;
  }
  const at = { file, line: e.mark.line + 1, column: e.mark.column + 1 };
  if (e.reason.startsWith('duplicated mapping key')) {
    diags.error(at, `duplicate key ${JSON.stringify(keyAt(text, e.mark.position))}: each key may appear once in a mapping`);
  } else {
    diags.error(at, `YAML syntax error: ${e.reason}`);
  }
}

/** The key written at an offset (js-yaml reports where the duplicate starts, not its name). */
function keyAt(text: string, offset: number): string {
  const m = /^(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^:#\n]*?))\s*:/.exec(text.slice(offset, offset + 300));
  return (m?.[1] ?? m?.[2] ?? m?.[3] ?? '?').trim();
}

function makeDoc(
  file: string, text: string, lines: LineIndex, events: readonly Event[], span: Span, value: unknown,
): YamlDoc {
  const rootOffset = Math.max(0, nodeStart(text, events[span.from + 1]!));
  const root = { file, ...lines.position(rootOffset) };
  let positions: Positions | undefined;
  return {
    value,
    file,
    root,
    locate(pointer, part = 'value') {
      positions ??= indexPositions(text, events, span.from, span.to);
      for (let p = pointer; ; p = p.slice(0, p.lastIndexOf('/'))) {
        const found = positions.get(p);
        if (found !== undefined) {
          const atKey = (part === 'key' || found.block || found.value < 0) && found.key >= 0;
          const offset = atKey ? found.key : found.value;
          return offset >= 0 ? { file, ...lines.position(offset) } : root;
        }
        if (p === '') return root;
      }
    },
  };
}
