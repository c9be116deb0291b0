/**
 * Running drover from tests: in-process through `main(argv, io)` with captured output, or as a child
 * process (`bin/drover.js`) when the test must kill it or needs its own process (the lease, env).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/io.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/drover.js');
export const fixture = (name: string): string => path.join(ROOT, 'test/fixtures/clusters', name);

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `main` in this process; never a TTY, never asks. */
export async function drover(argv: readonly string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (t) => void out.push(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => void err.push(t.endsWith('\n') ? t : `${t}\n`),
    isTty: false,
    stdinIsTty: false,
    ask: async () => { throw new Error('a test must never be asked a question'); },
  };
  const code = await main([...argv], io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** Like `drover`, but parses stdout as JSON (failing with the output on error). */
export async function droverJson<T = any>(argv: readonly string[]): Promise<T> {
  const r = await drover(argv);
  if (r.code !== 0) throw new Error(`drover ${argv.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`drover ${argv.join(' ')}: not JSON:\n${r.stdout}`);
  }
}

export interface Spawned {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult & { signal: NodeJS.Signals | null }>;
}

/** Start bin/drover.js as a child process (cwd: the repository). */
export function spawnDrover(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const child = spawn(process.execPath, [BIN, ...argv], {
    cwd: ROOT,
    env: { ...process.env, DROVER_STATE_DIR: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Run bin/drover.js to its end. */
export function runDrover(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult & { signal: NodeJS.Signals | null }> {
  return spawnDrover(argv, env).done;
}
