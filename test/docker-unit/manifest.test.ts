/**
 * The docker driver's pure parts, without an engine: content-manifest parsing and diffing, path pruning,
 * name batching, and turning a node's container/volume listings into observations.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batches, diffDisk, parseManifest, topMost, type ManifestEntry } from '../../src/drivers/docker/sync/manifest.ts';
import { observeContainers, observeVolumes } from '../../src/drivers/docker/probe.ts';

const MD5A = 'a'.repeat(32);
const MD5B = 'b'.repeat(32);
const file = (size: number, md5: string, meta = '644:0:0'): ManifestEntry => ({ type: 'f', size, meta, md5 });
const dir: ManifestEntry = { type: 'd', size: 4096, meta: '755:0:0', md5: '' };

test('parseManifest: stat lines then md5 lines, per disk; types from the mode; other lines ignored', () => {
  const out = [
    '81a4 5 0 0 ./d0/a.txt',
    '41ed 4096 1000 1000 ./d0/sub',
    'a1ff 7 0 0 ./d0/sub/link',
    '81a4 3 0 0 ./d1/b b.txt',
    '1180 0 0 0 ./d0/fifo',
    '81a4 1 0 0 ./d9/elsewhere',
    'garbage',
    '--md5',
    `${MD5A}  ./d0/a.txt`,
    `${MD5B}  ./d1/b b.txt`,
    `${MD5B}  ./d0/missing`,
  ].join('\n');
  const m = parseManifest(out, [0, 1, 2]);
  assert.equal([...m.keys()], [0, 1, 2]);
  assert.equal(m.get(0)!.get('a.txt'), { type: 'f', size: 5, meta: '644:0:0', md5: MD5A });
  assert.equal(m.get(0)!.get('sub'), { type: 'd', size: 4096, meta: '755:1000:1000', md5: '' });
  assert.is(m.get(0)!.get('sub/link')!.type, 'l');
  assert.is(m.get(0)!.get('fifo')!.type, 'o');
  assert.is(m.get(1)!.get('b b.txt')!.md5, MD5B, 'names with spaces');
  assert.is(m.get(0)!.has('missing'), false, 'an md5 line without a stat line adds nothing');
  assert.is(m.get(2)!.size, 0);
});

test('topMost: sorted, children of a listed directory dropped, prefixes that are not parents kept', () => {
  assert.equal(topMost(['a/b/c', 'b', 'a', 'a/b', 'ab', 'b/x']), ['a', 'ab', 'b']);
  assert.equal(topMost([]), []);
});

test('diffDisk: changed, new, gone, type changes, directories and links', () => {
  const src = new Map<string, ManifestEntry>([
    ['same', file(1, MD5A)],
    ['content', file(1, MD5B)],
    ['mode', file(1, MD5A, '600:0:0')],
    ['new', file(9, MD5A)],
    ['d', dir],
    ['d/new', file(2, MD5A)],
    ['newdir', dir],
    ['was-file', dir],
    ['ln', { type: 'l', size: 3, meta: '777:0:0', md5: '' }],
  ]);
  const dst = new Map<string, ManifestEntry>([
    ['same', file(1, MD5A)],
    ['content', file(1, MD5A)],
    ['mode', file(1, MD5A)],
    ['d', { ...dir, meta: '700:0:0' }],
    ['gone', dir],
    ['gone/x', file(1, MD5A)],
    ['was-file', file(1, MD5A)],
    ['ln', { type: 'l', size: 3, meta: '777:0:0', md5: '' }],
  ]);
  const p = diffDisk(3, src, dst);
  assert.is(p.disk, 3);
  assert.equal(p.remove, ['gone', 'was-file']);
  assert.equal(p.mkdir, ['newdir', 'was-file'], 'directories compare by type only');
  assert.equal(p.send.map((f) => f.name).sort(), ['content', 'd/new', 'ln', 'mode', 'new']);
  assert.equal(p.send.find((f) => f.name === 'ln')!.size, 0, 'links count no bytes');
  const none = diffDisk(0, src, src);
  assert.equal([none.remove, none.mkdir, none.send.map((f) => f.name)], [[], [], ['ln']], 'equal sides: only links are sent');
});

test('batches: about maxChars of arguments each, never empty, order kept', () => {
  assert.equal(batches(['aaaa', 'bb', 'c', 'dddddd'], 6), [['aaaa', 'bb'], ['c', 'dddddd']]);
  assert.equal(batches(['x'.repeat(20), 'y'], 6), [['x'.repeat(20)], ['y']], 'a name longer than the limit goes alone');
  assert.equal(batches([], 6), []);
});

test('observeContainers: a paused instance is `backup` while its backup helper runs, `left` when the helper ended or is absent', () => {
  const cl = { 'drover.cluster': 'c1' };
  const inst = (name: string) => ({ State: 'paused', Labels: { ...cl, 'drover.instance': name } });
  const helper = (name: string, State: string) => ({ State, Labels: { ...cl, 'drover.instance': name, 'drover.helper': 'backup' } });
  const cs = observeContainers('c1', [inst('held'), helper('held', 'running'), inst('killed'), helper('killed', 'exited'), inst('byhand'),
    { State: 'running', Labels: { 'drover.cluster': 'other', 'drover.instance': 'byhand', 'drover.helper': 'backup' } }]);
  assert.equal(cs.map((c) => [c.instance, c.state, c.paused]), [['held', 'running', 'backup'], ['killed', 'running', 'left'], ['byhand', 'running', 'left']]);
});

test('observeContainers / observeVolumes: only this cluster, helpers and markers are not instances or disks, marker role wins', () => {
  const cl = { 'drover.cluster': 'c1' };
  const cs = observeContainers('c1', [
    { State: 'running', Labels: { ...cl, 'drover.instance': 'web', 'drover.spec': 'h', 'drover.generation': '3' } },
    { State: 'paused', Labels: { ...cl, 'drover.instance': 'db' } },
    { State: 'exited', Labels: { ...cl, 'drover.instance': 'x' } },
    { State: 'running', Labels: { ...cl, 'drover.instance': 'web', 'drover.helper': 'sync' } },
    { State: 'running', Labels: { 'drover.cluster': 'other', 'drover.instance': 'web' } },
    { State: 'running', Labels: null },
  ]);
  assert.equal(cs, [
    { instance: 'web', state: 'running', specHash: 'h', generation: 3 },
    { instance: 'db', state: 'running', paused: 'left', specHash: '', generation: 0 },
    { instance: 'x', state: 'stopped', specHash: '', generation: 0 },
  ]);
  const vs = observeVolumes('c1', [
    { Labels: { ...cl, 'drover.instance': 'web', 'drover.disk': '1', 'drover.size': '10', 'drover.role': 'primary', 'drover.generation': '1' } },
    { Labels: { ...cl, 'drover.instance': 'web', 'drover.disk': '0', 'drover.size': '20', 'drover.role': 'primary', 'drover.generation': '1' } },
    { Labels: { ...cl, 'drover.instance': 'web', 'drover.meta': '1', 'drover.role': 'replica', 'drover.generation': '4' } },
    { Labels: { ...cl, 'drover.instance': 'app', 'drover.disk': '0', 'drover.role': 'primary', 'drover.generation': '2' } },
    { Labels: { 'drover.cluster': 'other', 'drover.instance': 'app', 'drover.disk': '1' } },
  ]);
  assert.equal(vs, [
    { instance: 'app', disk: 0, role: 'primary', size: 0, generation: 2 },
    { instance: 'web', disk: 0, role: 'replica', size: 20, generation: 4 },
    { instance: 'web', disk: 1, role: 'replica', size: 10, generation: 4 },
  ]);
});

test.run();
