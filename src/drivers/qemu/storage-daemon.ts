/**
 * The replica's server on a secondary: qemu-storage-daemon opening the replica image and exporting it
 * over NBD (export `replica`), with a QMP monitor on a unix socket. While it runs it holds the image's
 * lock, so nothing else (a VM failing over, a destination of a migration) may open the image: stop it
 * first (`quit`), which also releases the lock at once.
 */
import type { NbdAddress } from './nbd.ts';

export const REPLICA_EXPORT = 'replica';
export const REPLICA_NODE = 'replica';

export interface StorageDaemonSpec {
  readonly image: string;
  readonly format: 'raw' | 'qcow2';
  readonly listen: NbdAddress;
  readonly monitor: string;
}

export function storageDaemonArgv(s: StorageDaemonSpec): readonly string[] {
  const addr = s.listen.type === 'inet'
    ? `addr.type=inet,addr.host=${s.listen.host},addr.port=${s.listen.port}`
    : `addr.type=unix,addr.path=${s.listen.path}`;
  return [
    '--blockdev', `driver=file,filename=${s.image},node-name=${REPLICA_NODE}-file,discard=unmap`,
    '--blockdev', `driver=${s.format},file=${REPLICA_NODE}-file,node-name=${REPLICA_NODE}`,
    '--nbd-server', addr,
    '--export', `type=nbd,id=${REPLICA_EXPORT},node-name=${REPLICA_NODE},name=${REPLICA_EXPORT},writable=on`,
    '--chardev', `socket,path=${s.monitor},server=on,wait=off,id=mon0`,
    '--monitor', 'chardev=mon0',
  ];
}
