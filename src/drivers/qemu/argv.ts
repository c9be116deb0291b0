/**
 * The QEMU command line of a VM, built from its spec alone, so that the source and the destination of a
 * migration (and a failover's restart from the replica) get the same machine: pinned machine type, no
 * default devices, the disks as `-blockdev` nodes `disk0`, `disk1`, … behind virtio-blk, the serial console
 * on a socket with a log file, QMP on a unix socket. Paths are those inside the VM's container (layout below).
 * Pure: see shared/reference/qemu.md ("VM command line") for why each option is there.
 */

/** Where things are inside a VM container: the run volume (sockets, console log, boot files) and the disks. */
export const VM_PATHS = {
  run: '/run/vm',
  qmp: '/run/vm/qmp.sock',
  console: '/run/vm/console.sock',
  consoleLog: '/run/vm/console.log',
  boot: '/run/vm/boot',
  kernel: '/run/vm/boot/kernel',
  initrd: '/run/vm/boot/initrd',
  /** disk i is the raw file disk.img in the volume mounted here */
  disk: (i: number): string => `/vm/d${i}`,
  diskFile: (i: number): string => `/vm/d${i}/disk.img`,
} as const;

/** The block node name of disk i (replication and migration address it by this name). */
export const diskNode = (i: number): string => `disk${i}`;

export const DEFAULT_MACHINE = 'pc-i440fx-7.2';

export interface VmArgvSpec {
  readonly name: string;
  /** bytes */
  readonly memory: number;
  readonly vcpus: number;
  /** Pinned machine type; default DEFAULT_MACHINE. */
  readonly machine?: string;
  readonly disks: number;
  /** Direct kernel boot (files at VM_PATHS.kernel/initrd); absent: boot from disk 0 through the BIOS. */
  readonly boot?: { readonly initrd: boolean; readonly cmdline?: string };
}

export interface VmArgvOptions {
  readonly accel: 'kvm' | 'tcg';
  /** Started as a migration destination: waits for `migrate-incoming` and stays paused (-S) until `cont`. */
  readonly incoming?: boolean;
}

/** TCG's translation cache, MiB: QEMU's default lets it grow to ~60 MB for a small guest (qemu.md: 240 vs 194 MB RSS). */
const TCG_TB_MIB = 32;

export function vmArgv(spec: VmArgvSpec, opts: VmArgvOptions): string[] {
  const mib = Math.max(16, Math.round(spec.memory / 2 ** 20));
  const argv = [
    '-name', spec.name,
    '-machine', `type=${spec.machine ?? DEFAULT_MACHINE}`,
    '-accel', opts.accel === 'kvm' ? 'kvm' : `tcg,tb-size=${TCG_TB_MIB}`,
    '-m', String(mib),
    '-smp', String(Math.max(1, Math.ceil(spec.vcpus))),
    '-nodefaults', '-no-user-config', '-display', 'none',
  ];
  if (spec.boot) {
    argv.push('-kernel', VM_PATHS.kernel);
    if (spec.boot.initrd) argv.push('-initrd', VM_PATHS.initrd);
    if (spec.boot.cmdline) argv.push('-append', spec.boot.cmdline);
  }
  for (let i = 0; i < spec.disks; i++) {
    argv.push(
      '-blockdev', `driver=file,filename=${VM_PATHS.diskFile(i)},node-name=proto${i},discard=unmap`,
      '-blockdev', `driver=raw,file=proto${i},node-name=${diskNode(i)}`,
      '-device', `virtio-blk-pci,drive=${diskNode(i)},id=vblk${i}${!spec.boot && i === 0 ? ',bootindex=0' : ''}`,
    );
  }
  argv.push(
    '-chardev', `socket,id=ser0,path=${VM_PATHS.console},server=on,wait=off,logfile=${VM_PATHS.consoleLog},logappend=on`,
    '-serial', 'chardev:ser0',
    '-qmp', `unix:${VM_PATHS.qmp},server=on,wait=off`,
  );
  if (opts.incoming) argv.push('-incoming', 'defer', '-S');
  return argv;
}
