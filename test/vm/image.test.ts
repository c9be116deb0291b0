/**
 * Drover's QEMU image, built from this machine's Debian packages: the emulator with every library it loads,
 * the TCG module Debian ships apart (without it QEMU has no accelerator at all), the firmware, socat and
 * busybox; reproducible, so every node loading it gets the same image ID. Skips loudly without QEMU here.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { QEMU_BINARY, qemuBuild, qemuLayer } from '../../src/drivers/docker/vm/qemu-image.ts';

const have = existsSync(QEMU_BINARY);
if (!have) console.log(`\n  SKIPPED (QEMU image): ${QEMU_BINARY} is not installed (scripts/ci-setup-qemu installs it)\n`);

/** name → typeflag and link target of each entry of a ustar archive. */
function entries(tar: Buffer): Map<string, { type: string; link: string }> {
  const out = new Map<string, { type: string; link: string }>();
  for (let i = 0; i + 512 <= tar.length;) {
    const name = tar.toString('utf8', i, i + 100).replace(/\0.*$/s, '');
    if (!name) break;
    const size = parseInt(tar.toString('latin1', i + 124, i + 136).replace(/\0.*$/s, '').trim() || '0', 8);
    out.set(name, { type: tar.toString('latin1', i + 156, i + 157), link: tar.toString('utf8', i + 157, i + 257).replace(/\0.*$/s, '') });
    i += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

test('the image holds QEMU, its libraries, the TCG module, firmware, socat and busybox; its tag is the QEMU version', () => {
  if (!have) return;
  const { image, version, machines } = qemuBuild();
  assert.match(version, /^\d+\.\d+\.\d+$/);
  assert.is(image, `drover/qemu:${version}`);
  assert.ok(machines.includes('pc-i440fx-7.2') || machines.some((m) => m.startsWith('pc-i440fx-')), machines.join(' '));
  const e = entries(qemuLayer());
  for (const f of ['usr/bin/qemu-system-x86_64', 'usr/bin/qemu-storage-daemon', 'usr/bin/qemu-img', 'usr/bin/socat', 'usr/bin/busybox',
    'usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so', 'usr/lib64/ld-linux-x86-64.so.2', 'usr/share/seabios/bios-256k.bin']) {
    assert.is(e.get(f)?.type, '0', `${f} is a file in the image`);
  }
  assert.ok([...e.keys()].some((n) => n.startsWith('usr/lib/x86_64-linux-gnu/libglib-2.0.so')), 'QEMU\'s libraries');
  assert.equal(e.get('lib'), { type: '2', link: 'usr/lib' }, 'merged /usr: lib → usr/lib');
  assert.equal(e.get('usr/bin/sh'), { type: '2', link: 'busybox' });
});

test('reproducible: the same layer twice (so the same image ID on every node)', () => {
  if (!have) return;
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  assert.is(sha(qemuLayer()), sha(qemuLayer()));
});

test.run();
