/** Problems found in manifests, each with the place it was found (Terraform's tfdiags, small). */

import type { SourceLocation } from '../model/desired.ts';

export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

/** `FILE:LINE:COL: error: MESSAGE`, the format editors and CI annotate. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`;
}

/**
 * Any error as every command prints it: `FILE:LINE:COL: error: MESSAGE` when it has a place in the
 * manifests (a diagnostic's form), else `error: MESSAGE`. Plan errors, failed operations, watch runs.
 */
export function formatError(e: { readonly message: string; readonly source?: SourceLocation | undefined }): string {
  return e.source ? formatDiagnostic({ ...e.source, message: e.message, severity: 'error' }) : `error: ${e.message}`;
}

export function formatLocation(at: SourceLocation): string {
  return `${at.file}:${at.line}:${at.column}`;
}

/** Collects diagnostics; loading never stops at the first problem. */
export class Diagnostics {
  readonly list: Diagnostic[] = [];
  private errors = 0;

  error(at: SourceLocation, message: string): void {
    this.errors++;
    this.list.push({ file: at.file, line: at.line, column: at.column, message, severity: 'error' });
  }

  warning(at: SourceLocation, message: string): void {
    this.list.push({ file: at.file, line: at.line, column: at.column, message, severity: 'warning' });
  }

  get errorCount(): number {
    return this.errors;
  }

  /** One severity, by file then line, so the output reads like the files. */
  sorted(severity: Diagnostic['severity']): Diagnostic[] {
    return this.list
      .filter((d) => d.severity === severity)
      .map((d, i) => ({ d, i }))
      .sort((a, b) => byPosition(a.d, b.d) || a.i - b.i)
      .map(({ d }) => d);
  }
}

function byPosition(a: Diagnostic, b: Diagnostic): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.line - b.line || a.column - b.column;
}
