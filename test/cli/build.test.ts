/**
 * The compiled build: bin/drover.js starts dist/ in an installed package (no src/), finds the schemas
 * from there, and never starts a dist/ built from other sources than those under src/.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';

test.after(cleanupTemps);

/** A package laid out as `npm pack` ships it: package.json, bin/, dist/, schemas/ and the dependencies, no src/. */
function packageWith(dist: (dir: string) => void): string {
  const dir = tempDir('drover-pkg-');
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.cpSync(path.join(ROOT, 'bin'), path.join(dir, 'bin'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'schemas'), path.join(dir, 'schemas'), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  dist(path.join(dir, 'dist'));
  fs.writeFileSync(path.join(dir, 'dist/.built'), '');
  return dir;
}

/** A dist/ whose entry point only says it ran: to tell which of dist/ and src/ a start used. */
function stubDist(dist: string): void {
  fs.mkdirSync(path.join(dist, 'cli'), { recursive: true });
  fs.writeFileSync(path.join(dist, 'cli/main.js'), 'export async function main() { console.log("from dist"); return 0; }\n');
}

function run(dir: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [path.join(dir, 'bin/drover.js'), ...args], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, DROVER_FROM_SOURCE: '', ...env },
  });
}

test('a package built with tsc starts from dist/ and loads the schemas from there', () => {
  const dir = packageWith((dist) => execFileSync(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', dist], { cwd: ROOT }));
  assert.not.ok(fs.existsSync(path.join(dir, 'src')), 'nothing to fall back to: only dist/ can answer');
  const version = run(dir, ['--version']);
  assert.is(version.status, 0, version.stderr);
  assert.is(version.stdout, 'drover 0.1.0\n');
  const valid = run(dir, ['validate', 'manifests']);
  assert.is(valid.status, 0, valid.stderr);
  assert.match(valid.stdout, /files OK/);
  const broken = run(dir, ['validate', 'test/fixtures/manifests/bad/schema-type.yaml']);
  assert.is(broken.status, 1, 'the schemas found from dist/ reject what they should');
});

test('dist/ is started only while the sources are those it was built from', async () => {
  const { sourcesFingerprint } = await import(path.join(ROOT, 'bin/sources.js')) as { sourcesFingerprint(src: string): string };
  const dir = packageWith(stubDist);
  assert.is(run(dir, ['--version']).stdout, 'from dist\n', 'no src/: an installed package');
  const src = path.join(dir, 'src');
  fs.cpSync(path.join(ROOT, 'src'), src, { recursive: true, preserveTimestamps: true });
  const stamp = path.join(dir, 'dist/.built');
  fs.writeFileSync(stamp, sourcesFingerprint(src)); // as scripts/build records it
  assert.is(run(dir, ['--version']).stdout, 'from dist\n', 'built from these sources');
  assert.is(run(dir, ['--version'], { DROVER_FROM_SOURCE: '1' }).stdout, 'drover 0.1.0\n', 'DROVER_FROM_SOURCE=1 forces the sources');
  fs.utimesSync(path.join(src, 'cli/main.ts'), new Date(0), new Date(0));
  assert.is(run(dir, ['--version']).stdout, 'drover 0.1.0\n', 'a file put back with an older mtime: stale, the sources answer');
  fs.writeFileSync(stamp, sourcesFingerprint(src));
  fs.writeFileSync(path.join(src, 'cli/new.ts'), 'export {};\n');
  assert.is(run(dir, ['--version']).stdout, 'drover 0.1.0\n', 'a new file: stale');
});

test.run();
