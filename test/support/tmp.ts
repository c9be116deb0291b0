/**
 * Temporary state directories under os.tmpdir(), removed by `cleanupTemps()` (call it from a suite's
 * `after` hook) and, as a fallback, when the process exits.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const made: string[] = [];

export function tempDir(prefix = 'drover-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function cleanupTemps(): void {
  while (made.length) fs.rmSync(made.pop()!, { recursive: true, force: true });
}

process.on('exit', cleanupTemps);

/** Every file under `dir` with its bytes: to assert that a command changed nothing. */
export function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = fs.readFileSync(p).toString('base64');
    }
  };
  walk(dir);
  return out;
}
