/**
 * The helper image Drover brings itself, so that a node needs no registry and no image loaded by hand:
 * the manager's own static busybox (Debian's busybox-static, /bin/busybox) with a link per applet, as a
 * one-layer image in `docker save` format, loaded through POST /images/load. Reproducible (mtime 0,
 * owner root), so every node gets the same image ID. `helperImage` in the driver options replaces it.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DriverError } from '../driver.ts';
import { tarEntries, type TarEntry } from './tar.ts';

export const BUILTIN_HELPER_IMAGE = 'drover/helper:1';
const BUSYBOX = '/bin/busybox';

/** The root filesystem: busybox, its applets as links, a passwd/group for root, the usual empty directories. */
export function helperLayer(busybox: Buffer, applets: readonly string[]): Buffer {
  const dirs = ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'root', 'tmp'];
  const entries: TarEntry[] = [
    ...dirs.map((name) => ({ type: 'dir' as const, name: `${name}/`, mode: name === 'tmp' ? 0o1777 : 0o755 })),
    { type: 'file', name: 'bin/busybox', data: busybox, mode: 0o755 },
    { type: 'file', name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\n' },
    { type: 'file', name: 'etc/group', data: 'root:x:0:\n' },
    ...[...new Set(applets)].filter((a) => a !== 'bin/busybox' && /^(usr\/)?s?bin\/[^/]+$/.test(a)).sort()
      .map((name) => ({ type: 'symlink' as const, name, target: '/bin/busybox' })),
  ];
  return tarEntries(entries, 0);
}

/** A `docker save` archive holding one image `name` made of this one layer. */
export function imageArchive(name: string, layer: Buffer): Buffer {
  const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
  const config = JSON.stringify({
    architecture: process.arch === 'arm64' ? 'arm64' : 'amd64', os: 'linux', created: '1970-01-01T00:00:00Z',
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] },
  });
  const configFile = `${sha(config)}.json`;
  const manifest = JSON.stringify([{ Config: configFile, RepoTags: [name], Layers: ['layer/layer.tar'] }]);
  return tarEntries([
    { type: 'dir', name: 'layer/' },
    { type: 'file', name: 'layer/VERSION', data: '1.0' },
    { type: 'file', name: 'layer/layer.tar', data: layer },
    { type: 'file', name: configFile, data: config },
    { type: 'file', name: 'manifest.json', data: manifest },
  ], 0);
}

let built: Buffer | undefined;

/** The built-in helper image as a load archive, made once per process from this machine's busybox. */
export function builtinHelperArchive(node: string): Buffer {
  if (built) return built;
  let busybox: Buffer;
  let applets: string[];
  try {
    busybox = readFileSync(BUSYBOX);
    applets = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8', timeout: 10_000 }).split('\n').filter(Boolean);
  } catch (e) {
    throw new DriverError(`node ${node}: cannot build Drover's helper image from ${BUSYBOX} (${(e as Error).message}): ` +
      `install busybox-static on this machine, or set the cluster's docker helperImage`, false, node);
  }
  built = imageArchive(BUILTIN_HELPER_IMAGE, helperLayer(busybox, applets));
  return built;
}
