import { parseArgs } from 'node:util';
import { clusterStatus, type ClusterStatus, type InstanceStatus } from '../../plan/status.ts';
import { formatBytes, formatDuration } from '../../model/quantity.ts';
import { withLook } from '../context.ts';
import { EXIT, type Io, STORE_OPTIONS } from '../io.ts';
import { table } from '../render/table.ts';
import { poolTable } from '../render/networks.ts';

export const usage = `drover status [PATH...] [--json]
  Nodes (health, memory/vcpus/disk used and total, primaries, secondaries) and instances
  (state, primary, secondary, template, degraded, recovery point, health check); with networks, each
  NIC's assigned address and MAC and each network's pool (size, used, free).`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, ...STORE_OPTIONS } });
  const code = await withLook(positionals, values, io, async ({ desired, store, observed }) => {
    const s = clusterStatus(desired, observed, store);
    if (values.json) { io.out(JSON.stringify(s)); return EXIT.ok; }
    const now = Date.now();
    io.out(table(['Node', 'Health', 'MTotal', 'MUsed', 'MFree', 'VCPUs', 'DTotal', 'DUsed', 'Pinst', 'Sinst', 'Flags'], s.nodes.map((n) => [
      n.name, n.health + (n.nodeDownSince ? ` ${formatDuration(now - n.nodeDownSince)}` : ''), formatBytes(n.memory.total), formatBytes(n.memory.used),
      formatBytes(Math.max(0, n.memory.total - n.memory.used)), `${n.vcpus.used}/${n.vcpus.total}`, formatBytes(n.disk.total), formatBytes(n.disk.used),
      String(n.primaries), String(n.secondaries), n.flags.join(',') || '-',
    ])));
    // why a node is not up (e.g. a TLS handshake refused): the table alone says only "unreachable"
    for (const n of s.nodes) {
      if (n.health !== 'up' && n.error) io.out(`  ${n.name}: ${n.error}`);
      if (n.failoverBlocked) io.out(`  ${n.name}: no automatic failover: ${n.failoverBlocked}`);
    }
    for (const g of s.guards) io.out(`  Automatic failover stopped: ${g.reason}.`);
    io.out('');
    io.out(table(['Instance', 'Status', 'Wanted', 'Primary', 'Secondary', 'Template', 'Memory', 'Degraded', 'RecoveryPoint', 'Health'], s.instances.map((i) => [
      i.name, i.state, i.desiredState, i.primary ?? '-', i.secondary ?? '-', i.diskTemplate, formatBytes(i.memory), i.degraded ? 'yes' : 'no',
      i.recoveryPoint ? `${formatDuration(now - i.recoveryPoint)} ago` : i.mirror === 'in-sync' ? 'none lost (in sync)' : '-', i.health ? (i.health.ok ? 'healthy' : 'unhealthy') : '-',
    ])));
    // what a failing check said: the table has room for a word only
    for (const i of s.instances) if (i.health && !i.health.ok) io.out(`  ${i.name}: unhealthy: ${i.health.output}`);
    for (const i of s.instances) {
      if (i.hypervisor) io.out(`  ${i.name}: virtual machine${i.accel === 'kvm' ? ', accelerated (kvm)' : i.accel === 'tcg' ? ', emulated (tcg: no hardware KVM on its node)' : ''}${replicationText(i)}`);
    }
    if (s.networks) io.out(`\n${networkTables(s)}`);
    return EXIT.ok;
  });
  return code ?? EXIT.error;
}

/** A VM's replication where it is not simply in sync: the full copy's progress, or which disk's mirror stopped. */
function replicationText(i: InstanceStatus): string {
  const r = i.replication;
  if (r?.kind === 'copying') return `; full copy to ${i.secondary} ${r.total ? Math.floor((100 * r.done) / r.total) : 0}% (${formatBytes(r.done)} of ${formatBytes(r.total)})`;
  if (r?.kind === 'stopped') return `; replication to ${i.secondary} stopped: ${r.detail}`;
  return '';
}

/** The NICs Drover assigned, and each network's pool. */
function networkTables(s: ClusterStatus): string {
  const nics = s.instances.flatMap((i) => (i.nics ?? []).map((n, k) => [i.name, `nic${k}`, n.network, n.ip, n.mac]));
  const pools = poolTable(s.networks ?? []);
  return nics.length ? `${table(['Instance', 'NIC', 'Network', 'Address', 'MAC'], nics)}\n\n${pools}` : pools;
}
