/** The QEMU argv of a VM spec: pinned machine, no defaults, disks as disk0…, console and QMP on sockets. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_MACHINE, VM_PATHS, vmArgv } from '../../src/drivers/qemu/argv.ts';
import { parseMachines } from '../../src/drivers/docker/vm/qemu-image.ts';

const spec = { name: 'web', memory: 256 * 2 ** 20, vcpus: 1.5, disks: 2, boot: { initrd: true, cmdline: 'console=ttyS0 root=/dev/vda' } };
const after = (argv: string[], flag: string): string[] => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));

test('same spec, same argv: a migration destination only adds -incoming defer -S', () => {
  const src = vmArgv(spec, { accel: 'tcg' });
  const dst = vmArgv(spec, { accel: 'tcg', incoming: true });
  assert.equal(dst, [...src, '-incoming', 'defer', '-S']);
  assert.equal(vmArgv(spec, { accel: 'tcg' }), src);
});

test('machine pinned, memory in MiB, vcpus rounded up, no default devices', () => {
  const argv = vmArgv(spec, { accel: 'tcg' });
  assert.equal(after(argv, '-machine'), [`type=${DEFAULT_MACHINE}`]);
  assert.equal(after(argv, '-m'), ['256']);
  assert.equal(after(argv, '-smp'), ['2']);
  for (const f of ['-nodefaults', '-no-user-config']) assert.ok(argv.includes(f), f);
  assert.equal(after(vmArgv({ ...spec, machine: 'pc-q35-7.2' }, { accel: 'tcg' }), '-machine'), ['type=pc-q35-7.2']);
});

test('accelerator: kvm, or TCG with a bounded translation cache', () => {
  assert.equal(after(vmArgv(spec, { accel: 'kvm' }), '-accel'), ['kvm']);
  assert.match(after(vmArgv(spec, { accel: 'tcg' }), '-accel')[0]!, /^tcg,tb-size=\d+$/);
});

test('disks are block nodes disk0, disk1 behind virtio-blk; without a kernel the BIOS boots disk 0', () => {
  const argv = vmArgv(spec, { accel: 'tcg' });
  assert.equal(after(argv, '-blockdev').filter((b) => b.startsWith('driver=raw')), ['driver=raw,file=proto0,node-name=disk0', 'driver=raw,file=proto1,node-name=disk1']);
  assert.ok(after(argv, '-blockdev')[0]!.includes(`filename=${VM_PATHS.diskFile(0)}`));
  assert.ok(!after(argv, '-device').some((d) => d.includes('bootindex')));
  const bios = vmArgv({ ...spec, boot: undefined }, { accel: 'tcg' } as const);
  assert.not.ok(bios.includes('-kernel'));
  assert.ok(after(bios, '-device')[0]!.endsWith(',bootindex=0'));
});

test('console on a socket with a log file, QMP on a unix socket (never TCP)', () => {
  const argv = vmArgv(spec, { accel: 'tcg' });
  assert.match(after(argv, '-chardev')[0]!, new RegExp(`path=${VM_PATHS.console},.*logfile=${VM_PATHS.consoleLog},logappend=on`));
  assert.equal(after(argv, '-qmp'), [`unix:${VM_PATHS.qmp},server=on,wait=off`]);
  assert.equal(after(argv, '-kernel'), [VM_PATHS.kernel]);
  assert.equal(after(argv, '-append'), ['console=ttyS0 root=/dev/vda']);
});

test('machine types from -machine help', () => {
  const text = 'Supported machines are:\nmicrovm              microvm (i386)\npc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)\npc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)\nnone                 empty machine\n';
  assert.equal(parseMachines(text), ['microvm', 'pc', 'pc-i440fx-7.2', 'none']);
});

test.run();
