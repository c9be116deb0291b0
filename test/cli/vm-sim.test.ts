/**
 * VMs on the sim backend: plans and capacity can be tried without QEMU. A VM is created and runs, `status`
 * says it is a VM and which accelerator (the simulated nodes have hardware KVM), placement counts QEMU's
 * memory beside the guest's, a memory change recreates it (QEMU's command line; a container's would change
 * in place), and a VM moves cold (the capability table says so).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { drover, droverJson } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';
import { VM_MEMORY_OVERHEAD } from '../../src/plan/spec.ts';

test.after(cleanupTemps);

const MiB = 2 ** 20;

function manifests(dir: string, vm: Record<string, unknown>): string {
  if (!fs.existsSync(path.join(dir, 'all.yaml'))) fs.writeFileSync(path.join(dir, 'vmlinuz'), 'kernel');
  const doc = (kind: string, name: string, spec: object): string => JSON.stringify({ apiVersion: 'drover/v1', kind, metadata: { name }, spec });
  fs.writeFileSync(path.join(dir, 'all.yaml'), [
    doc('Cluster', 'simvm', { backend: 'sim', defaults: { memory: '256M', vcpus: 1, diskTemplate: 'plain' }, replication: { interval: '24h' } }),
    doc('Node', 'n1', { cluster: 'simvm', capacity: { memory: '4G', vcpus: 4, disk: '100G' } }),
    doc('Node', 'n2', { cluster: 'simvm', capacity: { memory: '4G', vcpus: 4, disk: '100G' } }),
    doc('Instance', 'vm1', { cluster: 'simvm', hypervisor: 'kvm', boot: { kernel: 'vmlinuz', cmdline: 'console=ttyS0' }, disks: [{ size: '1G' }], primary: 'n1', ...vm }),
  ].join('\n---\n'));
  return dir;
}

interface Status {
  nodes: { name: string; memory: { used: number } }[];
  instances: { name: string; state: string; primary?: string; hypervisor?: string; accel?: string }[];
}

test('a VM on the sim backend: created, shown as a VM with its accelerator, QEMU memory counted, recreated on a memory change, moved cold', async () => {
  const dir = tempDir('drover-vm-sim-');
  const state = tempDir('drover-vm-sim-state-');
  const apply = async (vm: Record<string, unknown>): Promise<string> => {
    const r = await drover(['apply', manifests(dir, vm), '--yes', '--state-dir', state]);
    assert.is(r.code, 0, r.stdout + r.stderr);
    return r.stdout;
  };
  assert.match(await apply({}), /CreateInstance/);
  let st = await droverJson<Status>(['status', dir, '--json', '--state-dir', state]);
  const vm = st.instances.find((i) => i.name === 'vm1')!;
  assert.equal([vm.state, vm.hypervisor, vm.accel], ['running', 'kvm', 'kvm']);
  assert.is(st.nodes.find((n) => n.name === 'n1')!.memory.used, 256 * MiB + VM_MEMORY_OVERHEAD, 'the guest and its QEMU');

  const plan = await drover(['plan', manifests(dir, { memory: '512M' }), '--state-dir', state]);
  assert.match(plan.stdout, /RecreateInstance/, plan.stdout);
  await apply({ memory: '512M' });

  const moved = await apply({ memory: '512M', primary: 'n2' });
  assert.match(moved, /(Move|Migrate)Instance/);
  assert.not.match(moved, /live/i);
  st = await droverJson<Status>(['status', dir, '--json', '--state-dir', state]);
  assert.is(st.instances.find((i) => i.name === 'vm1')!.primary, 'n2');
  assert.is(st.nodes.find((n) => n.name === 'n2')!.memory.used, 512 * MiB + VM_MEMORY_OVERHEAD);
});

test('verify reports the files a VM manifest names that the master lacks (they are copied to every node the VM is created on)', async () => {
  const dir = tempDir('drover-vm-sim-verify-');
  const state = tempDir('drover-vm-sim-verify-state-');
  manifests(dir, {});
  assert.is((await drover(['apply', dir, '--yes', '--state-dir', state])).code, 0);
  assert.is((await drover(['verify', dir, '--state-dir', state])).code, 0);
  fs.rmSync(path.join(dir, 'vmlinuz'));
  const r = await drover(['verify', dir, '--json', '--state-dir', state]);
  assert.is(r.code, 1, r.stdout);
  const found = (JSON.parse(r.stdout) as { findings: { code: string; instance?: string; message: string }[] }).findings;
  assert.equal(found.map((f) => [f.code, f.instance]), [['EVMFILE', 'vm1']]);
  assert.match(found[0]!.message, /vmlinuz is missing on the master/);
});

test.run();
