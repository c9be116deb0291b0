/** The backup archive (format, checksums, corruption) and backup → restore --as → apply on the sim. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { ArchiveError, readArchive, writeArchive } from '../../src/backup/archive.ts';
import { documentAt, renamed } from '../../src/backup/manifest.ts';
import { drover, sandbox } from '../support/watch.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'drover-backup-'));

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof Error && re.test(e.message), `expected a rejection matching ${re}, got ${String(e)}`);
}

async function members(file: string): Promise<Map<string, string>> {
  const got = new Map<string, string>();
  await readArchive(file, (name) => {
    const chunks: Buffer[] = [];
    const w = new Writable({ write(c: Buffer, _e: unknown, cb: () => void) { chunks.push(c); cb(); } });
    w.on('finish', () => got.set(name, Buffer.concat(chunks).toString()));
    return w;
  });
  return got;
}

test('archive: a plain tar whose SHA256SUMS `sha256sum -c` accepts, read back member by member', async () => {
  const big = path.join(tmp, 'big');
  fs.writeFileSync(big, Buffer.alloc(3 * 1024 * 1024 + 7, 'z'));
  const file = path.join(tmp, 'a.tar');
  await writeArchive(file, [{ name: 'backup.json', data: Buffer.from('{"x":1}') }, { name: 'disks/d0', file: big }, { name: 'empty', data: Buffer.alloc(0) }]);
  assert.not.ok(fs.existsSync(`${file}.partial`));
  assert.equal(execFileSync('tar', ['tf', file], { encoding: 'utf8' }).trim().split('\n'), ['backup.json', 'disks/d0', 'empty', 'SHA256SUMS']);
  const out = path.join(tmp, 'x');
  fs.mkdirSync(out);
  execFileSync('tar', ['xf', file, '-C', out]);
  assert.match(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' }), /disks\/d0: OK/);
  const got = await members(file);
  assert.is(got.get('backup.json'), '{"x":1}');
  assert.is(got.get('disks/d0')!.length, 3 * 1024 * 1024 + 7);
  assert.is(got.get('empty'), '');
});

test('archive: a flipped byte, a cut-short file, an unlisted member, a non-tar are refused by name', async () => {
  const file = path.join(tmp, 'b.tar');
  await writeArchive(file, [{ name: 'manifest.yaml', data: Buffer.from('kind: Instance\n') }, { name: 'disks/d0', data: Buffer.alloc(2000, 'a') }]);
  const bytes = fs.readFileSync(file);
  const variant = (name: string, b: Buffer) => { const f = path.join(tmp, name); fs.writeFileSync(f, b); return f; };
  const flipped = Buffer.from(bytes);
  flipped[1024 + 600] = 0x62; // inside disks/d0's data
  await rejects(readArchive(variant('flip.tar', flipped), () => undefined), /member disks\/d0: sha256 \S+ does not match SHA256SUMS/);
  await rejects(readArchive(variant('cut.tar', bytes.subarray(0, 1800)), () => undefined), /cut short/);
  await rejects(readArchive(variant('junk.tar', Buffer.alloc(4096, 7)), () => undefined), /not a tar, or corrupted/);
  const e = await readArchive(variant('flip2.tar', flipped), () => undefined).catch((x: unknown) => x);
  assert.instance(e, ArchiveError);
});

test('manifest: the instance\'s own document of a multi-document file, renamed in place', () => {
  const text = '# two\napiVersion: drover/v1\nkind: Instance\nmetadata:\n  name: a\nspec: {}\n---\nkind: Instance\nmetadata:\n  name: "b"  # the second\n  renamedFrom: old\nspec:\n  memory: 1G\n';
  assert.is(documentAt(text, 2), '# two\napiVersion: drover/v1\nkind: Instance\nmetadata:\n  name: a\nspec: {}\n');
  const b = documentAt(text, 9);
  assert.is(renamed(b, 'b', 'c'), 'kind: Instance\nmetadata:\n  name: c  # the second\nspec:\n  memory: 1G\n');
  assert.throws(() => renamed(b, 'x', 'c'), /does not name x/);
  const json = '{"apiVersion":"drover/v1","kind":"Instance","metadata":{"name":"app","renamedFrom":"old"},"spec":{"name":"app"}}\n';
  assert.is(renamed(json, 'app', 'app2'), '{"apiVersion":"drover/v1","kind":"Instance","metadata":{"name":"app2"},"spec":{"name":"app"}}\n');
  assert.is(renamed('metadata: { name: app }\n', 'app', 'b'), 'metadata: { name: b }\n');
});

test('on the sim: backup, write more, restore --as a new name, apply: the new instance has the backed-up data', async () => {
  const sb = sandbox();
  const run = (...args: string[]) => drover(sb, args);
  assert.is(run('apply', sb.manifests).code, 0);
  assert.match(run('sim', 'write', 'web1', sb.manifests).out, /data version 1/);
  const file = path.join(sb.dir, 'web1.tar');
  const b = run('backup', 'web1', sb.manifests, '--to', file);
  assert.is(b.code, 0, b.err);
  assert.match(b.out, /^Backed up web1 from node\d \(1 disk, frozen 0ms for a consistent copy\) to \S+web1\.tar/);
  assert.match(run('sim', 'write', 'web1', sb.manifests).out, /data version 2/);
  // a corrupted copy: refused, nothing staged
  const bad = path.join(sb.dir, 'bad.tar');
  const bytes = fs.readFileSync(file);
  bytes[512 * 3 + 10] ^= 1;
  fs.writeFileSync(bad, bytes);
  const refused = run('restore', bad, sb.manifests, '--as', 'web9');
  assert.is(refused.code, 1);
  assert.match(refused.err, /^drover restore: \S+bad\.tar: member \S+: sha256 .* corrupted or was altered; nothing was changed\n$/);
  assert.is(fs.readdirSync(path.join(sb.state, 'restores')).length, 0);
  const other = path.join(sb.dir, 'other.tar');
  await writeArchive(other, [{ name: 'notes.txt', data: Buffer.from('hello') }]);
  const foreign = run('restore', other, sb.manifests);
  assert.is(foreign.code, 1);
  assert.match(foreign.err, /other\.tar: no backup\.json or manifest\.yaml: not a Drover backup; nothing was changed\n$/);
  // the manifest is written into the manifests folder straight from restore's output
  const target = path.join(sb.manifests, 'instances/web3.yaml');
  fs.writeFileSync(target, '');
  const r = run('restore', file, sb.manifests, '--as', 'web3');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^ {2}name: web3$/m);
  assert.not.match(r.out, /name: web1/);
  fs.writeFileSync(target, r.out.replace(/^ +ports: .*\n/m, '').replace(/^ +antiAffinity: .*\n/m, ''));
  assert.is(run('restore', file, sb.manifests, '--as', 'web3').code, 0, 'staged again: not yet placed');
  const a = run('apply', sb.manifests);
  assert.is(a.code, 0, a.out + a.err);
  assert.match(a.out, /CreateInstance web3/);
  const logs = run('logs', 'web3', sb.manifests).out;
  assert.match(logs, /disk 0 primary \(generation 1, 1G, data version 1\)/, logs);
  assert.match(logs, /disk 0 replica \(generation 1, 1G, data version 1\)/, 'the replica got it by the first sync');
  assert.not.match(logs, /data version 2/);
  assert.is(fs.readdirSync(path.join(sb.state, 'restores')).length, 0, 'seeded once, then gone');
  const again = run('restore', file, sb.manifests, '--as', 'web3');
  assert.is(again.code, 1);
  assert.match(again.err, /web3 exists \(placed on node\d\): choose another name; nothing was changed/);
});

test.run();
