/** What apply/ reports while it works: rendered live on a TTY, or as NDJSON with --json. */
import type { MigrationPath, Operation } from '../model/operations.ts';

export type ApplyEvent =
  | { readonly type: 'round'; readonly round: number; readonly operations: number }
  | { readonly type: 'operation-started'; readonly id: string; readonly op: Operation; readonly resumed: boolean }
  | { readonly type: 'step'; readonly id: string; readonly instance: string; readonly step: string }
  | { readonly type: 'progress'; readonly id: string; readonly instance: string; readonly bytesDone: number; readonly bytesTotal: number }
  | { readonly type: 'retry'; readonly id: string; readonly instance: string; readonly step: string; readonly error: string; readonly attempt: number; readonly delayMs: number }
  | { readonly type: 'operation-finished'; readonly id: string; readonly op: Operation; readonly result: 'succeeded' | 'failed'; readonly error?: string; readonly durationMs: number; readonly note?: string; readonly migration?: MigrationPath }
  | { readonly type: 'waiting'; readonly reason: string; readonly untilMs: number }
  | { readonly type: 'summary'; readonly succeeded: number; readonly failed: number; readonly pending: number; readonly durationMs: number };

export type EventSink = (e: ApplyEvent) => void;
