/**
 * The test guest VM suites boot (scripts/build-test-guest: Debian's cloud kernel, a ~1 MB initramfs, a 64 MiB
 * ext4 root disk whose init prints `COUNTER n boot=B` on the serial console every second and keeps n on its
 * disk), and whether QEMU can run here at all. One place for every VM suite (test/vm*) to find both: a suite
 * that gets `{ skip }` says the reason loudly and skips.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface TestGuest {
  readonly kernel: string;
  readonly initrd: string;
  /** raw ext4 image: the root disk (disk 0) */
  readonly rootfs: string;
  readonly cmdline: string;
}

const BUILDER = fileURLToPath(new URL('../../scripts/build-test-guest', import.meta.url));

function run(file: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (e, out, err) => resolve({ ok: !e, out: String(out), err: String(err) || (e?.message ?? '') }));
  });
}

let found: Promise<TestGuest | { skip: string }> | undefined;

/** The guest (built once, cached by package versions), or why VM tests cannot run on this machine. */
export function testGuest(): Promise<TestGuest | { skip: string }> {
  found ??= (async () => {
    for (const bin of ['/usr/bin/qemu-system-x86_64', '/usr/bin/qemu-img', '/usr/bin/socat', '/bin/busybox']) {
      if (!existsSync(bin)) return { skip: `${bin} is not installed (scripts/ci-setup-qemu installs QEMU)` };
    }
    const r = await run(BUILDER, [], 300_000);
    if (!r.ok) return { skip: `the test guest could not be built: ${r.err.trim().split('\n').pop()}` };
    const dir = r.out.trim().split('\n').pop()!;
    return { kernel: `${dir}/vmlinuz`, initrd: `${dir}/initrd.gz`, rootfs: `${dir}/rootfs.img`, cmdline: readFileSync(`${dir}/cmdline`, 'utf8').trim() };
  })();
  return found;
}

/** The COUNTER lines of a console log, as numbers with their boot. */
export function counters(log: string): { n: number; boot: number }[] {
  return [...log.matchAll(/COUNTER (\d+) boot=(\d+)/g)].map((m) => ({ n: Number(m[1]), boot: Number(m[2]) }));
}

/** `e2fsck -fn` of a raw disk image file: clean or not, with its output. */
export async function fsck(image: string): Promise<{ clean: boolean; output: string }> {
  const r = await run('e2fsck', ['-fn', image], 60_000);
  return { clean: r.ok, output: `${r.out}${r.err}`.trim() };
}
