/**
 * QEMU processes on this host for the sequence tests (no engine): a tiny guest (Debian's cloud kernel, a
 * busybox initramfs whose init counts on an ext4 disk and prints `COUNTER n boot=b` on the serial port),
 * VMs and storage daemons spawned directly, their QMP reached over unix sockets.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { connectQmp, type Qmp } from '../../src/drivers/qemu/qmp.ts';
import { storageDaemonArgv } from '../../src/drivers/qemu/storage-daemon.ts';
import type { NbdAddress } from '../../src/drivers/qemu/nbd.ts';
import { DD_LOOP } from '../support/write-latency.ts';

const GUEST_ROOT = '/tmp/drover-vm-repl-guest';
const KERNEL_PKG = 'linux-image-6.1.0-57-cloud-amd64';
const MODULES = ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'virtio_blk'];

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in ${MODULES.join(' ')}; do insmod /mod/$m.ko; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mount -t ext4 /dev/vda /data || { echo "GUEST: no disk"; sleep 3; poweroff -f; }
# drover.bench=dd: time 256 direct 4 KiB writes, over and over (the write latency replication adds)
if grep -q drover.bench=dd /proc/cmdline; then
${DD_LOOP.replace(/^/gm, '  ')}
fi
b=$(cat /data/boots 2>/dev/null || echo 0); b=$((b+1)); echo $b > /data/boots; sync
n=$(cat /data/counter 2>/dev/null || echo 0)
while true; do
  n=$((n+1)); echo $n > /data/counter; echo "boot=$b n=$n" >> /data/log; sync
  echo "COUNTER $n boot=$b"
  sleep 1
done
`;

/** Why this host cannot run the tests, or undefined. */
export function unavailable(): string | undefined {
  for (const b of ['qemu-system-x86_64', 'qemu-storage-daemon', 'busybox', 'mkfs.ext4']) {
    try { execFileSync('sh', ['-c', `command -v ${b}`], { stdio: 'ignore' }); } catch { return `${b} is not installed (scripts/ci-setup-qemu installs it)`; }
  }
  return undefined;
}

/** Builds (once per version of INIT) the kernel and initramfs; returns their paths. */
export function guest(): { kernel: string; initrd: string } {
  const GUEST = `${GUEST_ROOT}-${createHash('sha256').update(INIT).digest('hex').slice(0, 12)}`;
  const kernel = path.join(GUEST, 'vmlinuz'); const initrd = path.join(GUEST, 'initrd.gz');
  if (fs.existsSync(kernel) && fs.existsSync(initrd)) return { kernel, initrd };
  const work = fs.mkdtempSync(`${GUEST}-build-`);
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { cwd: work, stdio: 'pipe', timeout: 300_000 });
  sh(`apt-get download ${KERNEL_PKG} && dpkg-deb -x ${KERNEL_PKG}_*.deb root`);
  sh('mkdir -p initrd/bin initrd/dev initrd/proc initrd/sys initrd/data initrd/mod && cp "$(command -v busybox)" initrd/bin/ && mknod initrd/dev/console c 5 1');
  for (const m of MODULES) sh(`cp "$(find root -name ${m}.ko)" initrd/mod/`);
  fs.writeFileSync(path.join(work, 'initrd/init'), INIT, { mode: 0o755 });
  sh('cd initrd && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 > ../initrd.gz');
  fs.mkdirSync(GUEST, { recursive: true });
  sh(`cp root/boot/vmlinuz-* ${kernel}.tmp && mv ${kernel}.tmp ${kernel} && mv initrd.gz ${initrd}`);
  fs.rmSync(work, { recursive: true, force: true });
  return { kernel, initrd };
}

/** A raw disk: ext4 (holding `fill` MiB of random data in /blob when asked) or, unformatted, a replica's or destination's blank. */
export function makeDisk(file: string, mib = 64, format = true, fill = 0): void {
  if (!format) { execFileSync('truncate', ['-s', `${mib}M`, file]); return; }
  const content = `${file}.content`;
  fs.mkdirSync(content, { recursive: true });
  if (fill) execFileSync('sh', ['-c', `head -c ${fill}M /dev/urandom > ${path.join(content, 'blob')}`]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, file, `${mib}M`]);
  fs.rmSync(content, { recursive: true, force: true });
}

export interface Proc { readonly qmp: Qmp; readonly child: ChildProcess; readonly dir: string; readonly sock: string; kill(): Promise<void> }

/** A new QMP connection to a process (the previous one closed: one client per socket). */
export function reconnect(p: Proc): Promise<Qmp> {
  return connect(p.sock, p.child, () => '');
}

async function connect(sock: string, child: ChildProcess, stderr: () => string): Promise<Qmp> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${stderr()}`);
    if (fs.existsSync(sock)) {
      const s = net.connect(sock);
      const ok = await new Promise<boolean>((r) => { s.once('connect', () => r(true)); s.once('error', () => r(false)); });
      if (ok) return connectQmp(s);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no QMP socket ${sock}: ${stderr()}`);
}

function run(bin: string, args: readonly string[], dir: string, sock: string): Promise<Proc> {
  fs.mkdirSync(dir, { recursive: true });
  fs.rmSync(sock, { force: true });
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  };
  return connect(sock, child, () => err).then((qmp) => ({ qmp, child, dir, sock, kill }), async (e: unknown) => { await kill(); throw e; });
}

/** A VM on `image` (raw; several: disk0, disk1, …), serial console to DIR/console.log; `incoming` starts it as a migration destination. */
export function startVm(dir: string, image: string | readonly string[], incoming = false, append = ''): Promise<Proc> {
  const g = guest();
  const images = typeof image === 'string' ? [image] : image;
  const sock = path.join(dir, 'qmp.sock');
  return run('qemu-system-x86_64', [
    '-name', path.basename(dir), '-M', 'pc-i440fx-7.2', '-m', '128', '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none',
    '-kernel', g.kernel, '-initrd', g.initrd, '-append', `console=ttyS0 quiet ${append}`.trim(),
    ...images.flatMap((img, i) => [
      '-blockdev', `driver=file,filename=${img},node-name=proto${i},discard=unmap`,
      '-blockdev', `driver=raw,file=proto${i},node-name=disk${i}`, '-device', `virtio-blk-pci,drive=disk${i},id=vblk${i}`,
    ]),
    '-chardev', `file,id=ser0,path=${path.join(dir, 'console.log')}`, '-serial', 'chardev:ser0',
    '-qmp', `unix:${sock},server=on,wait=off`,
    ...(incoming ? ['-incoming', 'defer', '-S'] : []),
  ], dir, sock);
}

/** The replica server of one disk (`image`) or several (disk i's replica at image[i]). */
export function startStorageDaemon(dir: string, image: string | readonly string[], listen: NbdAddress): Promise<Proc> {
  const sock = path.join(dir, 'qsd.sock');
  return run('qemu-storage-daemon', storageDaemonArgv({ images: typeof image === 'string' ? [image] : image, format: 'raw', listen, monitor: sock }), dir, sock);
}

/** The counter lines printed so far on the VM's console, as [n, boot]. */
export function counters(dir: string): readonly (readonly [number, number])[] {
  const f = path.join(dir, 'console.log');
  if (!fs.existsSync(f)) return [];
  return [...fs.readFileSync(f, 'utf8').matchAll(/COUNTER (\d+) boot=(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
}

export async function waitCounter(dir: string, atLeast: number, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = counters(dir);
    const last = c.length ? c[c.length - 1]![0] : 0;
    if (last >= atLeast) return last;
    if (Date.now() > deadline) throw new Error(`counter in ${dir} at ${last}, wanted ${atLeast}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Reads a file of the guest's (unmounted, maybe crash-consistent) ext4 disk: on a copy whose journal is replayed. */
export function readGuestFile(image: string, file: string): string {
  const copy = `${image}.read`;
  execFileSync('sh', ['-c', `cp --sparse=always ${image} ${copy}; e2fsck -fy ${copy} >/dev/null 2>&1; true`]);
  try { return execFileSync('debugfs', ['-R', `cat ${file}`, copy], { stdio: ['ignore', 'pipe', 'ignore'] }).toString(); } finally { fs.rmSync(copy, { force: true }); }
}

export function fsck(image: string): boolean {
  try { execFileSync('e2fsck', ['-fn', image], { stdio: 'ignore' }); return true; } catch { return false; }
}
