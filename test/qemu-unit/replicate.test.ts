/** Replication of every disk, the pure parts: the storage daemon's exports, the sync state over the disks' mirrors, the takeover's script. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { storageDaemonArgv } from '../../src/drivers/qemu/storage-daemon.ts';
import { syncStateOf } from '../../src/drivers/qemu/replicate.ts';
import type { JobInfo } from '../../src/drivers/qemu/jobs.ts';
import { finishIncrementScript } from '../../src/drivers/docker/vm/increment.ts';

const job = (i: number, status: string, done = 100, total = 100, error?: string): JobInfo =>
  ({ id: `repl-sync${i}`, type: 'mirror', status, done, total, ...(error !== undefined && { error }) });
const after = (argv: readonly string[], flag: string): string[] => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));

test('the storage daemon opens every replica and exports disk i as replica<i>', () => {
  const argv = storageDaemonArgv({ images: ['/vm/d0/disk.img', '/vm/d1/disk.img'], format: 'raw', listen: { type: 'inet', host: '10.0.0.2', port: 20001 }, monitor: '/run/qsd/qsd.sock' });
  assert.equal(after(argv, '--blockdev'), [
    'driver=file,filename=/vm/d0/disk.img,node-name=replica0-file,discard=unmap', 'driver=raw,file=replica0-file,node-name=replica0',
    'driver=file,filename=/vm/d1/disk.img,node-name=replica1-file,discard=unmap', 'driver=raw,file=replica1-file,node-name=replica1',
  ]);
  assert.equal(after(argv, '--export'), [0, 1].map((i) => `type=nbd,id=replica${i},node-name=replica${i},name=replica${i},writable=on`));
  assert.equal(after(argv, '--nbd-server'), ['addr.type=inet,addr.host=10.0.0.2,addr.port=20001']);
});

test('in sync only when every disk\'s mirror is READY; copying sums the progress', () => {
  assert.equal(syncStateOf([job(0, 'ready'), job(1, 'ready')]), { kind: 'in-sync' });
  assert.equal(syncStateOf([job(0, 'ready', 64, 64), job(1, 'running', 10, 16)]), { kind: 'copying', done: 74, total: 80 });
  assert.equal(syncStateOf([job(0, 'running', 1, 64), job(1, 'ready', 16, 16)]), { kind: 'copying', done: 17, total: 80 });
});

test('degraded when any disk is not replicating, saying which', () => {
  assert.equal(syncStateOf([job(0, 'ready'), undefined]), { kind: 'degraded', cause: 'not-replicating', detail: 'disk 1: no replication job on the primary' });
  assert.equal(syncStateOf([job(0, 'running', 1, 2), job(1, 'concluded', 1, 2, 'Input/output error')]), { kind: 'degraded', cause: 'replica-lost', detail: 'disk 1: Input/output error' });
  assert.equal(syncStateOf([job(0, 'concluded'), job(1, 'ready')]), { kind: 'degraded', cause: 'not-replicating', detail: 'disk 0: replication job concluded' });
});

/** Runs the takeover's script with its paths moved under `root` and a qemu-img that logs what it is asked. */
function runFinish(disks: number, root: string, files: readonly string[]): { commits: string[]; left: string[] } {
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { env: { ...process.env, PATH: `${root}:${process.env.PATH}` } }).toString();
  sh(`mkdir -p ${Array.from({ length: disks }, (_, i) => `${root}/vm/d${i}`).join(' ')} && touch ${files.map((f) => `${root}${f}`).join(' ')}`);
  sh(`printf '#!/bin/sh\necho "$4" >> ${root}/log\n' > ${root}/qemu-img && chmod +x ${root}/qemu-img`);
  sh(finishIncrementScript(disks).replaceAll('/vm/', `${root}/vm/`));
  const commits = sh(`cat ${root}/log 2>/dev/null; true`).split('\n').filter(Boolean).map((f) => f.slice(root.length));
  const left = sh(`cd ${root} && find vm -type f | sort`).split('\n').filter(Boolean);
  return { commits, left };
}

test('takeover: a whole increment is committed on every disk whose overlay is left, then every overlay and the marker go', () => {
  const root = execFileSync('mktemp', ['-d']).toString().trim();
  try {
    // disk 0's overlay already committed and removed by a takeover cut short; disk 1's still there
    const rest = runFinish(2, `${root}/a`, ['/vm/d0/increment.whole', '/vm/d1/increment.qcow2']);
    assert.equal(rest.commits, ['/vm/d1/increment.qcow2'], 'only disk 1 is left to commit');
    assert.equal(rest.left, []);
    const both = runFinish(2, `${root}/b`, ['/vm/d0/increment.whole', '/vm/d0/increment.qcow2', '/vm/d1/increment.qcow2']);
    assert.equal(both.commits, ['/vm/d0/increment.qcow2', '/vm/d1/increment.qcow2']);
    assert.equal(both.left, []);
    const never = runFinish(2, `${root}/c`, ['/vm/d0/increment.qcow2', '/vm/d1/increment.qcow2', '/vm/d0/disk.img']);
    assert.equal(never.commits, [], 'an increment never whole is dropped, not committed');
    assert.equal(never.left, ['vm/d0/disk.img']);
  } finally {
    execFileSync('rm', ['-rf', root]);
  }
});

test.run();
