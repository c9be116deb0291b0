/** JSON pointer → source offsets of a key and its value, from one document's js-yaml 5 events. */

import { COLLECTION_STYLE, EVENT_ID, SCALAR_STYLE, getScalarValue } from 'js-yaml';
import type { Event } from 'js-yaml';

export interface Offsets {
  /** Offset of the mapping key, -1 for sequence items and the root. */
  readonly key: number;
  /** Offset where the value starts (its anchor or tag included), -1 for an empty value. */
  readonly value: number;
  /** A block mapping or sequence: it starts on the line after its key, so its key shows it better. */
  readonly block: boolean;
}
export type Positions = ReadonlyMap<string, Offsets>;

/** Where a node starts in the source: anchors (`&x`) and tags (`!!str`) count as part of it. */
export function nodeStart(text: string, ev: Event): number {
  let start: number;
  switch (ev.type) {
    case EVENT_ID.SCALAR: {
      const quoted = ev.style === SCALAR_STYLE.SINGLE_QUOTED || ev.style === SCALAR_STYLE.DOUBLE_QUOTED;
      start = ev.valueStart < 0 ? -1 : ev.valueStart - (quoted ? 1 : 0);
      break;
    }
    case EVENT_ID.ALIAS:
      return ev.anchorStart - 1; // the `*`
    case EVENT_ID.MAPPING:
    case EVENT_ID.SEQUENCE:
      start = ev.start;
      break;
    default:
      return -1;
  }
  if (ev.anchorStart >= 0) start = minStart(start, ev.anchorStart - 1);
  if (ev.tagStart >= 0) start = minStart(start, ev.tagStart);
  return start >= 0 && text[start] === '\n' ? start + 1 : start;
}

function minStart(a: number, b: number): number {
  return a < 0 ? b : Math.min(a, b);
}

interface Frame {
  readonly pointer: string;
  readonly isMap: boolean;
  /** Inside a complex (non-scalar) key: nothing below gets a pointer. */
  readonly skip: boolean;
  items: number;
  key: string | undefined;
  keyOffset: number;
}

/** Index the document whose DOCUMENT event is at `from` and whose POP is at `to`. */
export function indexPositions(text: string, events: readonly Event[], from: number, to: number): Positions {
  const map = new Map<string, Offsets>();
  const stack: Frame[] = [];
  for (let i = from + 1; i < to; i++) {
    const ev = events[i]!;
    if (ev.type === EVENT_ID.POP) {
      stack.pop();
      continue;
    }
    const parent = stack[stack.length - 1];
    const opens = ev.type === EVENT_ID.MAPPING || ev.type === EVENT_ID.SEQUENCE;
    if (parent?.isMap && parent.key === undefined) {
      // This node is a key. Scalar keys name the next value; others are skipped with their value.
      const scalar = ev.type === EVENT_ID.SCALAR;
      parent.key = scalar && !parent.skip ? getScalarValue(text, ev) : '\u0000complex';
      parent.keyOffset = nodeStart(text, ev);
      if (opens) stack.push(frame('', ev.type === EVENT_ID.MAPPING, true));
      continue;
    }
    const skip = parent?.skip === true || parent?.key === '\u0000complex';
    const pointer = parent === undefined ? '' : `${parent.pointer}/${segment(parent)}`;
    const block = opens && ev.style === COLLECTION_STYLE.BLOCK;
    if (!skip) map.set(pointer, { key: parent?.isMap ? parent.keyOffset : -1, value: nodeStart(text, ev), block });
    if (parent !== undefined) {
      parent.key = undefined;
      parent.items++;
    }
    if (opens) stack.push(frame(pointer, ev.type === EVENT_ID.MAPPING, skip));
  }
  return map;
}

function frame(pointer: string, isMap: boolean, skip: boolean): Frame {
  return { pointer, isMap, skip, items: 0, key: undefined, keyOffset: -1 };
}

/** JSON pointer escaping, as ajv's instancePath has it. */
function segment(parent: Frame): string {
  if (!parent.isMap) return String(parent.items);
  return parent.key!.replace(/~/g, '~0').replace(/\//g, '~1');
}
