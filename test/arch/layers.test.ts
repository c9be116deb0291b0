/**
 * Imports go one way between src/'s layers. Reads every import of src/**\/*.ts (static, type-only,
 * re-exports and dynamic import()) and fails naming each import that runs the wrong way, as
 * FILE:LINE: imports TARGET (the rule).
 *
 * The rules, precisely:
 * - manifest/ → observe/ → plan/ → apply/: each may import the ones before it, never one after it.
 * - model/ is imported by all and imports nothing of src/ but drivers/backends.ts, the backends'
 *   capability table (plain data, itself importing nothing).
 * - alloc/ is pure: no drivers/, store/, apply/, cli/.
 * - plan/ imports no apply/, cli/, and of drivers/ only the capability table.
 * - drivers/ imports no manifest/, observe/, plan/, apply/, cli/, and of store/ only store/log.ts:
 *   the generic append-only log (a file format, no Drover state) in which the sim keeps its world.
 * - Nothing outside cli/ imports cli/.
 * - Nothing model/, manifest/, plan/ or alloc/ loads reaches a backend's implementation
 *   (drivers/docker/, drivers/sim/) or dockerode, however indirectly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

const SRC = path.resolve(new URL('../../src/', import.meta.url).pathname);

interface Import {
  readonly file: string; // relative to src/
  readonly line: number;
  /** A file relative to src/, or a package name. */
  readonly target: string;
  readonly local: boolean;
}

function sourceFiles(dir = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [path.relative(SRC, p)] : [];
  });
}

/**
 * Top-level import/export statements start a line (as everywhere in this tree) and end at their
 * `from '…'`; dynamic imports may be anywhere outside comments.
 */
function importsOf(file: string): Import[] {
  const lines = fs.readFileSync(path.join(SRC, file), 'utf8').split('\n');
  const found: Import[] = [];
  const add = (spec: string, line: number) => {
    const local = spec.startsWith('.');
    const target = local ? path.relative(SRC, path.resolve(SRC, path.dirname(file), spec)) : spec;
    found.push({ file, line, target, local });
  };
  let open = false;
  lines.forEach((text, i) => {
    const trimmed = text.trimStart();
    if (trimmed.startsWith('*') || trimmed.startsWith('//') || trimmed.startsWith('/*')) return;
    const starts = /^(import|export)\b/.test(text);
    if (starts || open) {
      const m = /(?:from\s+|^import\s+)['"]([^'"]+)['"]/.exec(text);
      if (m) { add(m[1]!, i + 1); open = false; } else if (starts) open = /^import\b/.test(text) || /^export\s+(type\s+)?\{/.test(text) || /^export\s+\*/.test(text);
    }
    for (const d of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) add(d[1]!, i + 1);
  });
  return found;
}

const layerOf = (f: string): string => f.split(path.sep)[0]!;
const BACKEND_TABLE = 'drivers/backends.ts';
const GENERIC_LOG = 'store/log.ts';
const ORDER = ['manifest', 'observe', 'plan', 'apply'];

/** Why this import runs the wrong way, or undefined when it may. */
function violation(i: Import): string | undefined {
  if (!i.local) return undefined;
  const from = layerOf(i.file);
  const to = layerOf(i.target);
  if (from === to && i.file !== BACKEND_TABLE) return undefined;
  if (i.file === BACKEND_TABLE) return 'the capability table imports nothing';
  if (to === 'cli') return 'nothing outside cli/ imports cli/';
  if (ORDER.includes(from) && ORDER.includes(to) && ORDER.indexOf(to) > ORDER.indexOf(from)) return `${from}/ comes before ${to}/ (manifest → observe → plan → apply)`;
  switch (from) {
    case 'model': return i.target === BACKEND_TABLE ? undefined : 'model/ imports nothing of src/ but the capability table';
    case 'alloc': return ['drivers', 'store', 'apply'].includes(to) ? 'alloc/ is pure: no drivers/, store/, apply/, cli/' : undefined;
    case 'plan':
    case 'manifest': return to === 'drivers' && i.target !== BACKEND_TABLE ? `${from}/ reads only the capability table of drivers/` : undefined;
    case 'drivers':
      if (['manifest', 'observe', 'plan', 'apply'].includes(to)) return `drivers/ imports no ${to}/`;
      return to === 'store' && i.target !== GENERIC_LOG ? 'drivers/ imports of store/ only its generic append log' : undefined;
    default: return undefined;
  }
}

const files = sourceFiles();
const all = files.flatMap(importsOf);

test('the import reader sees every kind of import', () => {
  assert.ok(files.length > 50, `found ${files.length} files`);
  const targets = (file: string) => all.filter((i) => i.file === file).map((i) => i.target);
  assert.ok(targets(path.join('apply', 'converge.ts')).includes(path.join('plan', 'index.ts')), 'static');
  assert.ok(targets(path.join('drivers', 'index.ts')).includes(path.join('drivers', 'docker', 'index.ts')), 'dynamic');
  assert.ok(targets(path.join('drivers', 'index.ts')).includes(BACKEND_TABLE), 're-export');
  assert.ok(targets(path.join('drivers', 'docker', 'engine.ts')).includes('dockerode'), 'package');
  for (const i of all.filter((x) => x.local)) assert.ok(fs.existsSync(path.join(SRC, i.target)), `${i.file}:${i.line}: ${i.target} exists`);
});

test('the rules catch a wrong-way import', () => {
  const wrong = (file: string, target: string) => violation({ file, line: 1, target, local: true });
  assert.ok(wrong('plan/x.ts', 'apply/executor.ts'));
  assert.ok(wrong('plan/x.ts', 'drivers/docker/index.ts'));
  assert.not.ok(wrong('plan/x.ts', BACKEND_TABLE));
  assert.ok(wrong('drivers/docker/x.ts', 'store/store.ts'));
  assert.not.ok(wrong('drivers/sim/world.ts', GENERIC_LOG));
  assert.ok(wrong('model/x.ts', 'plan/index.ts'));
  assert.ok(wrong('manifest/x.ts', 'observe/index.ts'));
  assert.ok(wrong('alloc/x.ts', 'store/types.ts'));
  assert.ok(wrong('apply/x.ts', 'cli/io.ts'));
  assert.not.ok(wrong('apply/x.ts', 'plan/index.ts'));
});

test('no import runs the wrong way between layers', () => {
  const bad = all.flatMap((i) => {
    const why = violation(i);
    return why ? [`src/${i.file}:${i.line}: imports ${i.target} (${why})`] : [];
  });
  assert.equal(bad, [], `\n${bad.join('\n')}\n`);
});

test('model/, manifest/, plan/ and alloc/ never load a backend implementation or dockerode, however indirectly', () => {
  const byFile = new Map<string, Import[]>();
  for (const i of all) byFile.set(i.file, [...(byFile.get(i.file) ?? []), i]);
  const forbidden = (t: string) => t === 'dockerode' || t.startsWith(path.join('drivers', 'docker')) || t.startsWith(path.join('drivers', 'sim'));
  const bad: string[] = [];
  for (const start of files.filter((f) => ['model', 'manifest', 'plan', 'alloc'].includes(layerOf(f)))) {
    const seen = new Set<string>([start]);
    const queue: { file: string; via: string[] }[] = [{ file: start, via: [] }];
    for (let q = queue.shift(); q; q = queue.shift()) {
      for (const i of byFile.get(q.file) ?? []) {
        const chain = [...q.via, `${i.file}:${i.line}`];
        if (forbidden(i.target)) bad.push(`src/${start} loads ${i.target} through ${chain.map((c) => `src/${c}`).join(' → ')}`);
        else if (i.local && !seen.has(i.target)) { seen.add(i.target); queue.push({ file: i.target, via: chain }); }
      }
    }
  }
  assert.equal(bad, [], `\n${bad.join('\n')}\n`);
});

test.run();
