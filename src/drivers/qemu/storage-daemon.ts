/**
 * The replica's server on a secondary: qemu-storage-daemon opening the replica image of every disk of a VM
 * and exporting each over NBD (disk i as export `replica<i>`, node `replica<i>`), with a QMP monitor on a
 * unix socket. While it runs it holds the images' locks, so nothing else (a VM failing over, a destination
 * of a migration) may open them: stop it first (`quit`), which also releases the locks at once.
 */
import type { NbdAddress } from './nbd.ts';

/** Disk i's export and block node on the storage daemon. */
export const replicaExport = (i: number): string => `replica${i}`;
export const replicaNode = (i: number): string => `replica${i}`;

export interface StorageDaemonSpec {
  /** The replica image of each disk, in the VM's disk order. */
  readonly images: readonly string[];
  readonly format: 'raw' | 'qcow2';
  readonly listen: NbdAddress;
  readonly monitor: string;
}

export function storageDaemonArgv(s: StorageDaemonSpec): readonly string[] {
  const addr = s.listen.type === 'inet'
    ? `addr.type=inet,addr.host=${s.listen.host},addr.port=${s.listen.port}`
    : `addr.type=unix,addr.path=${s.listen.path}`;
  return [
    ...s.images.flatMap((image, i) => [
      '--blockdev', `driver=file,filename=${image},node-name=${replicaNode(i)}-file,discard=unmap`,
      '--blockdev', `driver=${s.format},file=${replicaNode(i)}-file,node-name=${replicaNode(i)}`,
    ]),
    '--nbd-server', addr,
    ...s.images.flatMap((_, i) => ['--export', `type=nbd,id=${replicaExport(i)},node-name=${replicaNode(i)},name=${replicaExport(i)},writable=on`]),
    '--chardev', `socket,path=${s.monitor},server=on,wait=off,id=mon0`,
    '--monitor', 'chardev=mon0',
  ];
}
