/**
 * Git at the CLI edge: which commit the manifests are at, and whether they carry uncommitted
 * changes. plan/ and apply/ never run git; commands pass the answer in.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GitInfo } from '../store/types.ts';

/** The commit of the work tree holding the first path, or undefined outside git (or without git). */
export async function gitInfo(paths: readonly string[]): Promise<GitInfo | undefined> {
  const first = path.resolve(paths[0] ?? 'manifests');
  const cwd = isDir(first) ? first : path.dirname(first);
  const commit = await git(cwd, ['rev-parse', 'HEAD']);
  if (!commit) return undefined;
  // Dirty only counts under the manifest paths: an edited README does not change what is applied.
  const status = await git(cwd, ['status', '--porcelain', '--', ...paths.map((p) => path.resolve(p))]);
  return { commit, dirty: status !== undefined && status.length > 0 };
}

function isDir(p: string): boolean {
  try { return fs.statSync(p).isDirectory(); } catch { return false; }
}

function git(cwd: string, args: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', [...args], { cwd, timeout: 5000 }, (err, stdout) => resolve(err ? undefined : stdout.trim()));
  });
}

/** `abc1234` or `abc1234+dirty`, for one-line reports. */
export function shortGit(g: GitInfo | undefined): string {
  return g ? `${g.commit.slice(0, 7)}${g.dirty ? '+dirty' : ''}` : '';
}
