/**
 * One error format everywhere (formatError, manifest/diagnostic.ts): every command prints an error located in the manifests as
 * `FILE:LINE:COL: error: MESSAGE` (validate's form), never `Error: FILE:LINE:COL: …`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { drover, fixture } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';
import { WatchProcess } from '../support/watch.ts';

test.after(cleanupTemps);

const COMMANDS: readonly (readonly string[])[] = [
  ['validate'], ['plan'], ['apply', '--yes'], ['status'], ['balance'],
  ['capacity', '--spec', 'memory=1G,disk=1G,vcpus=1'], ['verify'], ['export', 'ganeti'],
];

/** The `impossible` fixture with big2's memory made unreadable: a manifest error at a known place. */
function broken(): string {
  const dir = tempDir();
  fs.cpSync(fixture('impossible'), dir, { recursive: true });
  const file = path.join(dir, 'instances.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('metadata: { name: big2 }\nspec: { cluster: tight }', 'metadata: { name: big2 }\nspec: { cluster: tight, memory: lots }'));
  return dir;
}

test('a broken manifest: every command prints the same located line, and changes nothing', async () => {
  const dir = broken();
  const line = `${path.join(dir, 'instances.yaml')}:10:33: error: Instance "big2": spec.memory: "lots" is not a quantity (use 512M, 1G, 1.5T)`;
  for (const [name, ...args] of COMMANDS) {
    const state = tempDir();
    const r = await drover([name!, ...args, dir, ...(name === 'validate' ? [] : ['--state-dir', state])]);
    assert.is(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
    assert.ok(r.stderr.split('\n').includes(line), `${name} prints ${line}; it printed:\n${r.stderr}`);
    assert.not.match(r.stdout + r.stderr, /Error:/, name);
    assert.equal(fs.readdirSync(state), [], `${name} wrote nothing`);
  }
});

test('a plan error (an instance that fits nowhere) reads the same in plan and apply', async () => {
  const line = `${path.join(fixture('impossible'), 'instances.yaml')}:13:1: error: cannot place big3: no node: 2 lack memory`;
  const plan = await drover(['plan', fixture('impossible'), '--state-dir', tempDir()]);
  const apply = await drover(['apply', '--yes', fixture('impossible'), '--state-dir', tempDir()]);
  for (const [name, r, out] of [['plan', plan, plan.stdout], ['apply', apply, apply.stderr]] as const) {
    assert.is(r.code, 1, name);
    assert.ok(out.split('\n').includes(line), `${name} prints ${line}; it printed:\n${out}`);
    assert.not.match(r.stdout + r.stderr, /Error:/, name);
  }
});

test('a watch run prints a plan error in the same form', async () => {
  const dir = tempDir();
  fs.cpSync(fixture('impossible'), path.join(dir, 'manifests'), { recursive: true });
  const w = new WatchProcess({ dir, manifests: path.join(dir, 'manifests'), state: path.join(dir, 'state') }, []);
  try {
    await w.waitFor(/Run 1 \(start\)/, 20_000);
    const line = `${path.join(dir, 'manifests', 'instances.yaml')}:13:1: error: cannot place big3: no node: 2 lack memory`;
    assert.ok(w.err.split('\n').map((l) => l.trim()).includes(line), w.err);
    assert.is(await w.stop(), 0);
  } finally { w.child.kill('SIGKILL'); }
});

test.run();
