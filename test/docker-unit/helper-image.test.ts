/** The built-in helper image's archive, without an engine: layer entries and the `docker save` manifest. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { helperLayer, imageArchive } from '../../src/drivers/docker/helper-image.ts';

/** name → [typeflag, content or link target] of a ustar archive made by tarEntries. */
function entries(tar: Buffer): Map<string, [string, Buffer | string]> {
  const out = new Map<string, [string, Buffer | string]>();
  for (let i = 0; i + 512 <= tar.length;) {
    const h = tar.subarray(i, i + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, n: number): string => h.toString('utf8', a, a + n).replace(/\0.*$/s, '');
    const size = parseInt(str(124, 12), 8);
    const type = str(156, 1);
    out.set(str(0, 100), [type, type === '2' ? str(157, 100) : tar.subarray(i + 512, i + 512 + size)]);
    i += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

test('helperLayer: busybox, one link per applet of the usual directories, root in /etc/passwd, reproducible', () => {
  const bin = Buffer.from('ELF-busybox');
  const layer = helperLayer(bin, ['bin/busybox', 'bin/sh', 'usr/bin/md5sum', 'sbin/ip', 'bin/sh', 'linuxrc']);
  const e = entries(layer);
  assert.equal(e.get('bin/busybox'), ['0', bin]);
  assert.equal(e.get('bin/sh'), ['2', '/bin/busybox']);
  assert.equal(e.get('usr/bin/md5sum'), ['2', '/bin/busybox']);
  assert.is(e.has('linuxrc'), false, 'only links in bin directories');
  assert.is(e.get('tmp/')![0], '5');
  assert.match(String(e.get('etc/passwd')![1]), /^root:x:0:0:/);
  assert.ok(layer.equals(helperLayer(bin, ['bin/sh', 'usr/bin/md5sum', 'sbin/ip', 'bin/busybox'])), 'same bytes for the same input');
});

test('imageArchive: manifest names the image and its config, whose diff_id is the layer digest', () => {
  const layer = helperLayer(Buffer.from('x'), ['bin/sh']);
  const e = entries(imageArchive('drover/helper:1', layer));
  const manifest = JSON.parse(String(e.get('manifest.json')![1])) as { Config: string; RepoTags: string[]; Layers: string[] }[];
  assert.equal(manifest[0]!.RepoTags, ['drover/helper:1']);
  assert.ok((e.get(manifest[0]!.Layers[0]!)![1] as Buffer).equals(layer));
  const config = JSON.parse(String(e.get(manifest[0]!.Config)![1])) as { rootfs: { diff_ids: string[] }; os: string };
  assert.equal(config.rootfs.diff_ids, [`sha256:${createHash('sha256').update(layer).digest('hex')}`]);
  assert.is(config.os, 'linux');
});

test.run();
