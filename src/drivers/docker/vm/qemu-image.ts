/**
 * The QEMU image Drover brings itself, like the helper image (helper-image.ts): built on the master from the
 * Debian packages installed there (qemu-system-x86, qemu-utils, qemu-system-common, seabios, ipxe-qemu,
 * busybox-static, socat) and loaded into every engine that lacks it, so that a node needs neither QEMU nor
 * a registry. It holds:
 *   - qemu-system-x86_64, qemu-storage-daemon, qemu-img and socat, with every library `ldd` lists for them
 *     (and ld-linux), in usr/lib*, under Debian's merged-/usr links (lib → usr/lib, …);
 *   - Debian's loadable accelerator modules (`accel-tcg-x86_64.so`: without it there is no TCG at all,
 *     shared/reference/qemu.md step 4) with their libraries;
 *   - the firmware QEMU looks for (/usr/share/qemu, /usr/share/seabios, /usr/lib/ipxe/qemu);
 *   - busybox with its applets, for the preparation steps (disk files, boot files) and `socat` for QMP.
 * The tag carries the QEMU version (`drover/qemu:7.2.22`); the layer is reproducible (mtime 0), so every node
 * gets the same image ID. The machine types the binary offers are read once (`-machine help`) and cached.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { Readable } from 'node:stream';
import { DriverError } from '../../driver.ts';
import { readAll, streamError } from '../api.ts';
import type { Conn, Engine } from '../engine.ts';
import { EngineFault } from '../errors.ts';
import { imageArchive } from '../helper-image.ts';
import { hasImage } from '../images.ts';
import { tarEntries, type TarEntry } from '../tar.ts';

export const QEMU_BINARY = '/usr/bin/qemu-system-x86_64';
const BINARIES = [QEMU_BINARY, '/usr/bin/qemu-storage-daemon', '/usr/bin/qemu-img', '/usr/bin/socat'];
const MODULE_DIR = '/usr/lib/x86_64-linux-gnu/qemu';
const FIRMWARE = ['/usr/share/qemu', '/usr/share/seabios', '/usr/lib/ipxe/qemu'];
const BUSYBOX = '/bin/busybox';

export interface QemuBuild {
  /** e.g. 7.2.22 */
  readonly version: string;
  /** the image's name, `drover/qemu:<version>` */
  readonly image: string;
  /** machine types this QEMU offers (`-machine help`), aliases included */
  readonly machines: readonly string[];
}

const missing = (what: string): DriverError => new DriverError(
  `cannot build Drover's QEMU image on this machine: ${what}. Install Debian's QEMU here, on the master ` +
  `(apt-get install --no-install-recommends qemu-system-x86 qemu-utils busybox-static socat; scripts/ci-setup-qemu does it)`, false);

function run(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw missing(`${file} ${args.join(' ')} failed (${(e as Error).message.split('\n')[0]})`);
  }
}

let described: QemuBuild | undefined;

/** The master's QEMU: its version, the image name it makes, its machine types (read once per process). */
export function qemuBuild(): QemuBuild {
  if (described) return described;
  if (!existsSync(QEMU_BINARY)) throw missing(`${QEMU_BINARY} is not installed`);
  const version = /version (\d+\.\d+\.\d+)/.exec(run(QEMU_BINARY, ['--version']))?.[1];
  if (!version) throw missing(`${QEMU_BINARY} --version printed no version`);
  const machines = parseMachines(run(QEMU_BINARY, ['-machine', 'help']));
  described = { version, image: `drover/qemu:${version}`, machines };
  return described;
}

/** `-machine help` lines: "pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)", and "pc  … (alias of …)". */
export function parseMachines(text: string): string[] {
  return text.split('\n').slice(1).map((l) => l.trim().split(/\s+/)[0] ?? '').filter((m) => /^[a-z0-9][\w.-]*$/.test(m));
}

/** The libraries a binary or module loads, as ldd resolves them (absolute paths). */
function libraries(file: string): string[] {
  return run('ldd', [file]).split('\n')
    .map((l) => /=>\s+(\/\S+)/.exec(l)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(l)?.[1])
    .filter((p): p is string => !!p);
}

/** Paths go under usr/ (Debian's merged /usr), relative, without a leading slash. */
const inImage = (abs: string): string => {
  const p = abs.replace(/^\/+/, '');
  return /^(lib|lib64|bin|sbin)\//.test(p) ? `usr/${p}` : p;
};

function walk(dir: string, out: TarEntry[]): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    const abs = `${dir}/${name}`;
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) out.push({ type: 'symlink', name: inImage(abs), target: readlinkSync(abs) });
    else if (st.isDirectory()) { out.push({ type: 'dir', name: `${inImage(abs)}/` }); walk(abs, out); }
    else if (st.isFile()) out.push({ type: 'file', name: inImage(abs), data: readFileSync(abs), mode: st.mode & 0o777 });
  }
}

/** The image's root filesystem as one tar layer. */
export function qemuLayer(): Buffer {
  for (const b of [...BINARIES, BUSYBOX]) if (!existsSync(b)) throw missing(`${b} is not installed`);
  const modules = existsSync(MODULE_DIR) ? readdirSync(MODULE_DIR).filter((f) => f.startsWith('accel-')).map((f) => `${MODULE_DIR}/${f}`) : [];
  if (!modules.some((m) => m.endsWith('/accel-tcg-x86_64.so'))) throw missing(`${MODULE_DIR}/accel-tcg-x86_64.so (QEMU's TCG accelerator) is missing`);
  const files = new Map<string, { data: Buffer; mode: number }>();
  for (const f of [...BINARIES, ...modules]) {
    files.set(inImage(f), { data: readFileSync(f), mode: 0o755 });
    for (const lib of libraries(f)) files.set(inImage(lib), { data: readFileSync(lib), mode: 0o755 });
  }
  files.set('usr/bin/busybox', { data: readFileSync(BUSYBOX), mode: 0o755 });
  const applets = run(BUSYBOX, ['--list']).split('\n').filter((a) => /^[\w.[-]+$/.test(a));
  const links = applets.filter((a) => a !== 'busybox' && !files.has(`usr/bin/${a}`))
    .map((a): TarEntry => ({ type: 'symlink', name: `usr/bin/${a}`, target: 'busybox' }));
  const firmware: TarEntry[] = [];
  for (const dir of FIRMWARE) walk(dir, firmware);
  const dirs = new Set<string>(['usr/', 'usr/bin/', 'usr/sbin/', 'usr/lib/', 'usr/lib64/', 'etc/', 'tmp/', 'proc/', 'sys/', 'dev/', 'run/', 'run/vm/', 'vm/']);
  for (const name of [...files.keys(), ...firmware.map((f) => f.name)]) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(`${parts.slice(0, i).join('/')}/`);
  }
  const entries: TarEntry[] = [
    ...[...dirs].sort().map((name): TarEntry => ({ type: 'dir', name, mode: name === 'tmp/' ? 0o1777 : 0o755 })),
    ...['lib', 'lib64', 'bin', 'sbin'].map((d): TarEntry => ({ type: 'symlink', name: d, target: `usr/${d}` })),
    ...[...files].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, f]): TarEntry => ({ type: 'file', name, data: f.data, mode: f.mode })),
    ...links,
    ...firmware.filter((f) => f.type !== 'dir'),
    { type: 'file', name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\n' },
    { type: 'file', name: 'etc/group', data: 'root:x:0:\n' },
  ];
  return tarEntries(entries, 0);
}

let archive: Buffer | undefined;

/** The image as a `docker load` archive, made once per process. */
export function qemuArchive(): Buffer {
  archive ??= imageArchive(qemuBuild().image, qemuLayer());
  return archive;
}

/** Make sure node `c` has the QEMU image (loaded from the master's build; one load at a time per node). */
export async function ensureQemuImage(e: Engine, c: Conn): Promise<string> {
  const { image } = qemuBuild();
  if (await hasImage(e, c, image)) return image;
  const key = `${c.name}\0${image}`;
  const running = e.imageInFlight.get(key);
  if (running) { await running; return image; }
  const p = (async () => {
    await e.call(c, `load QEMU image ${image}`, async (signal) => {
      const res = await c.docker.loadImage(Readable.from([qemuArchive()]), { quiet: true, abortSignal: signal });
      const err = streamError(await readAll(res));
      if (err) throw new EngineFault(`image load failed: ${err}`, 500);
    }, Math.max(e.timeout, 120_000));
    if (!(await hasImage(e, c, image))) throw new DriverError(`node ${c.name}: QEMU image ${image} still missing after loading it`, true, c.name);
  })().finally(() => e.imageInFlight.delete(key));
  e.imageInFlight.set(key, p);
  await p;
  return image;
}
