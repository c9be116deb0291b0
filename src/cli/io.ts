/** The CLI's edges: where output goes, and the options every command shares. */
import * as path from 'node:path';
import { storeLocation, type StoreLocation } from '../store/backend.ts';

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly isTty: boolean;
  readonly stdinIsTty: boolean;
  readonly ask: (question: string) => Promise<string>;
}

export function processIo(): Io {
  // `drover apply | head` closes the pipe early: not an error, and no reason to stop converging.
  let closed = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') closed = true; else throw e; });
  return {
    out: (t) => { if (!closed) process.stdout.write(t.endsWith('\n') ? t : `${t}\n`); },
    err: (t) => void process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    isTty: !!process.stdout.isTTY,
    stdinIsTty: !!process.stdin.isTTY,
    ask: async (q) => {
      const rl = (await import('node:readline/promises')).createInterface({ input: process.stdin, output: process.stderr });
      try { return await rl.question(q); } finally { rl.close(); }
    },
  };
}

/** `--state-dir`, else `$DROVER_STATE_DIR`, else `.drover/` in the current directory. */
export function stateDirOf(flag: string | undefined): string {
  return path.resolve(flag || process.env.DROVER_STATE_DIR || '.drover'); // an empty variable counts as unset
}

/** The options every command that opens the store takes (spread into parseArgs). */
export const STORE_OPTIONS = { 'state-dir': { type: 'string' }, store: { type: 'string' } } as const;

/** Where the store is: `--store`/`$DROVER_STORE` (etcd), else the state directory's log. */
export function locationOf(values: { readonly 'state-dir'?: string | undefined; readonly store?: string | undefined }): StoreLocation {
  return storeLocation(stateDirOf(values['state-dir']), values.store);
}

/** Thrown for a usage mistake: printed as one line, exit 1. */
export class UsageError extends Error {}

/** Exit codes, documented in the README. */
export const EXIT = { ok: 0, error: 1, changes: 2, pending: 3 } as const;

