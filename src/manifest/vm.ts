/**
 * The files a VM's manifest names (its disk image, kernel, initrd), read before anything is created: a missing
 * one is an error at the field that names it, not a failed copy to a node later. And its machine type, which
 * the nodes' QEMU must offer: the nodes run the QEMU image Drover builds from this machine's QEMU
 * (drivers/docker/vm/qemu-image.ts), so its `-machine help` (read once per process) is what they offer.
 * Without QEMU here the machine check is left to the driver, which says QEMU is missing.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { Desired, DesiredInstance } from '../model/desired.ts';
import type { Diagnostics } from './diagnostic.ts';
import type { AnyManifest, Manifest } from './types.ts';
import { where } from './types.ts';

const QEMU = '/usr/bin/qemu-system-x86_64';
const DEFAULT_MACHINE = 'pc-i440fx-7.2';

let machines: Promise<readonly string[] | undefined> | undefined;

/** The machine types of this machine's QEMU; undefined when it has none. */
export function qemuMachines(): Promise<readonly string[] | undefined> {
  machines ??= new Promise((resolve) => {
    execFile(QEMU, ['-machine', 'help'], { timeout: 20_000 }, (err, out) => {
      resolve(err ? undefined : String(out).split('\n').slice(1).map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean));
    });
  });
  return machines;
}

async function fileProblem(path: string): Promise<string | undefined> {
  try {
    return (await stat(path)).isFile() ? undefined : `${path} is not a file`;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? e)}`;
  }
}

export async function checkVmFiles(desired: Desired, manifests: readonly AnyManifest[], diags: Diagnostics): Promise<void> {
  const docs = new Map<string, Manifest<'Instance'>>();
  for (const m of manifests) if (m.kind === 'Instance' && !docs.has(m.name)) docs.set(m.name, m);
  const vms = [...desired.instances.values()].filter((i) => i.hypervisor === 'kvm' && docs.has(i.name));
  if (vms.length === 0) return;
  const offered = vms.some((i) => i.machine !== undefined) ? await qemuMachines() : undefined;
  await Promise.all(vms.map(async (vm) => {
    const m = docs.get(vm.name)!;
    for (const [pointer, path] of files(vm)) {
      const problem = await fileProblem(path);
      if (problem) diags.error(where(m, pointer), `${m.title}: ${pointer.slice(1).replaceAll('/', '.')}: ${problem}`);
    }
    if (vm.machine !== undefined && offered && !offered.includes(vm.machine)) {
      const near = offered.filter((x) => x.startsWith(vm.machine!.split('-').slice(0, 2).join('-'))).slice(0, 4);
      diags.error(where(m, '/spec/machine'), `${m.title}: spec.machine: the nodes' QEMU offers no machine type "${vm.machine}"` +
        ` (it offers ${near.length ? near.join(', ') + ', …' : `${DEFAULT_MACHINE} and ${offered.length - 1} others`}; \`qemu-system-x86_64 -machine help\` lists them)`);
    }
  }));
}

function files(vm: DesiredInstance): [string, string][] {
  return [
    ...(vm.image !== '' ? [['/spec/image', vm.image] as [string, string]] : []),
    ...(vm.boot ? [['/spec/boot/kernel', vm.boot.kernel] as [string, string]] : []),
    ...(vm.boot?.initrd !== undefined ? [['/spec/boot/initrd', vm.boot.initrd] as [string, string]] : []),
  ];
}
