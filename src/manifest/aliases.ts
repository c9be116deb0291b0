/**
 * Billion-laughs defence. js-yaml keeps aliases as shared references, so loading is cheap, but
 * schema validation, JSON and every later walk expand them. Count the nodes a document would have
 * once expanded, and refuse it past a limit no hand-written manifest comes near.
 */

import { EVENT_ID } from 'js-yaml';
import type { Event } from 'js-yaml';

export const MAX_EXPANDED_NODES = 100_000;

/** Offset of the alias that pushes the document over the limit, or undefined if it stays under. */
export function aliasBomb(text: string, events: readonly Event[], from: number, to: number): number | undefined {
  const anchorSize = new Map<string, number>(); // anchor name → expanded node count
  const stack: { size: number; anchor: string | undefined }[] = [{ size: 0, anchor: undefined }];
  let total = 0;
  const add = (n: number): void => {
    stack[stack.length - 1]!.size += n;
    total += n;
  };
  for (let i = from + 1; i < to; i++) {
    const ev = events[i]!;
    switch (ev.type) {
      case EVENT_ID.SCALAR:
        add(1);
        if (ev.anchorStart >= 0) anchorSize.set(anchorName(text, ev), 1);
        break;
      case EVENT_ID.ALIAS:
        add(anchorSize.get(anchorName(text, ev)) ?? 1);
        if (total > MAX_EXPANDED_NODES) return ev.anchorStart - 1;
        break;
      case EVENT_ID.MAPPING:
      case EVENT_ID.SEQUENCE:
        stack.push({ size: 1, anchor: ev.anchorStart >= 0 ? anchorName(text, ev) : undefined });
        total += 1;
        break;
      case EVENT_ID.POP: {
        const done = stack.pop()!;
        stack[stack.length - 1]!.size += done.size;
        if (done.anchor !== undefined) anchorSize.set(done.anchor, done.size);
        break;
      }
    }
  }
  return undefined;
}

/** Anchor offsets cover the name only, without `&`/`*`. */
function anchorName(text: string, ev: { anchorStart: number; anchorEnd: number }): string {
  return text.slice(ev.anchorStart, ev.anchorEnd);
}
