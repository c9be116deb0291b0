/**
 * Documents that failed to load. Cross-document checks ("no such cluster", "needs two nodes") would
 * blame the wrong thing when the document they look for is merely broken, so they ask here first
 * and hold back: the broken document has its own error already.
 */

export interface BrokenDoc {
  /** '' when the kind itself was wrong: it could have been any. */
  readonly kind: string;
  readonly name: string | undefined;
  readonly cluster: string | undefined;
}

export class Gaps {
  private readonly broken: BrokenDoc[] = [];
  /** Some text could not be read as documents at all (syntax error, encoding): anything may be missing. */
  private unreadable = false;

  addUnreadable(): void {
    this.unreadable = true;
  }

  add(doc: BrokenDoc): void {
    this.broken.push(doc);
  }

  /** Could a document we failed to load be this object? */
  mayBe(kind: string, name?: string): boolean {
    return this.unreadable || this.broken.some((b) => (b.kind === kind || b.kind === '') && (name === undefined || b.name === undefined || b.name === name));
  }

  /** Could a node of this cluster be missing? Then capacity sums are not to be trusted. */
  mayMissNodeOf(cluster: string): boolean {
    return this.unreadable || this.broken.some((b) => (b.kind === 'Node' || b.kind === '') && (b.cluster === undefined || b.cluster === cluster));
  }
}

/** What can be read from a document that failed validation. */
export function brokenDoc(value: Record<string, unknown>): BrokenDoc {
  const metadata = value.metadata as { name?: unknown } | null | undefined;
  const spec = value.spec as { cluster?: unknown } | null | undefined;
  return {
    kind: typeof value.kind === 'string' ? value.kind : '',
    name: typeof metadata?.name === 'string' ? metadata.name : undefined,
    cluster: typeof spec?.cluster === 'string' ? spec.cluster : undefined,
  };
}
