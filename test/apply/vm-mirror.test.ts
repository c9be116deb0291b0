/**
 * A replicated VM's recovery point (issue 14): while its synchronous mirror is in sync, status says nothing
 * would be lost and a failover journals "none lost"; a mirror that ended (its secondary died) shows degraded
 * with the time replication stopped. On the sim, which models QEMU's mirror.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { clusterStatus } from '../../src/plan/status.ts';
import { observe } from '../../src/observe/index.ts';
import { recoveryPointOf } from '../../src/model/operations.ts';
import { recoveryText } from '../../src/cli/render/plan.ts';
import { mirroredSync, recoveryState, MIRROR_RESEEN_MS } from '../../src/plan/facts.ts';
import * as F from '../support/fixtures.ts';
import { finished, simCluster } from '../support/apply.ts';
import { cleanupTemps } from '../support/tmp.ts';
import { drover } from '../support/cli.ts';

const GiB = 1024 ** 3;
const three = () => [F.node('n1'), F.node('n2'), F.node('n3')];
const vm = (nodes = three()) => F.desired(nodes, [F.instance('vm1', { primary: 'n1', secondary: 'n2', hypervisor: 'kvm', disks: [{ size: GiB, mount: '' }] })]);

test('mirroredSync and recoveryState: in sync → none lost; ended → since the last time seen in sync', () => {
  const p = { instance: 'vm1', primary: 'n1', secondary: 'n2', generation: 1, lastSync: { at: 1000, node: 'n2' } };
  const seen = mirroredSync(p, { kind: 'in-sync' }, 9000);
  assert.equal(seen, { at: 9000, node: 'n2', mirror: 'in-sync' });
  assert.is(mirroredSync({ ...p, lastSync: seen }, { kind: 'in-sync' }, 9000 + MIRROR_RESEEN_MS - 1), seen, 'seen again soon: no write');
  const ended = mirroredSync({ ...p, lastSync: seen }, { kind: 'stopped', detail: 'gone' }, 20_000);
  assert.equal(ended, { at: 9000, node: 'n2', mirror: 'stopped' });
  assert.is(mirroredSync({ ...p, lastSync: seen }, { kind: 'copying', done: 1, total: 2 }, 20_000), seen, 'a full copy under way is no stop');
  assert.equal(recoveryState({ ...p, lastSync: seen! }, undefined), { kind: 'none-lost' }, 'not seen: as last seen');
  assert.equal(recoveryState({ ...p, lastSync: ended! }, undefined), { kind: 'since', at: 9000 });
  assert.equal(recoveryState({ ...p, lastSync: seen! }, { kind: 'stopped', detail: 'x' }), { kind: 'since', at: 9000 });
  assert.is(mirroredSync(p, undefined, 9000), p.lastSync, 'a container (nothing seen): unchanged');
  assert.is(mirroredSync({ ...p, secondary: 'n3' }, { kind: 'in-sync' }, 9000), p.lastSync, 'a mirror into an old secondary says nothing of the new one');
});

test('a sync-replicated VM: status shows none lost while in sync, degraded since replication stopped when its secondary dies', async () => {
  const c = await simCluster(vm([F.node('n1'), F.node('n2')])); // no third node: the dead secondary stays its secondary
  try {
    assert.equal((await c.converge()).failed, []);
    const placed = c.store.placements.get('vm1')!;
    assert.is(placed.lastSync?.mirror, 'in-sync', 'the replicate step records the mirror in sync');
    const nodes = [...c.desired.nodes.values()];
    let s = clusterStatus(c.desired, await observe(c.driver, nodes), c.store).instances[0]!;
    assert.equal([s.state, s.mirror, s.recoveryPoint, s.degraded], ['running', 'in-sync', undefined, false]);

    const before = c.store.placements.get('vm1')!.lastSync!.at;
    c.driver.world.setFlags('n2', { failed: true, fenced: false });
    await c.converge({ maxWaitMs: 1000 });
    const stopped = c.store.placements.get('vm1')!;
    assert.equal([stopped.secondary, stopped.lastSync?.mirror, stopped.lastSync?.at], ['n2', 'stopped', before]);
    s = clusterStatus(c.desired, await observe(c.driver, nodes), c.store).instances[0]!;
    assert.equal([s.state, s.mirror, s.degraded, s.recoveryPoint], ['running', 'stopped', true, before], 'degraded since replication stopped; the guest runs on');
    assert.equal(s.replication, { kind: 'stopped', detail: "the replica's node n2 went down" }, 'status says why, as QEMU does');

    // its node back: the mirror stays ended (as QEMU's), and a new full copy comes at once, not at the next
    // replication interval; `drover plan` (which records nothing) says the same as apply
    c.driver.world.setFlags('n2', { failed: false, fenced: false });
    await c.store.putNode({ name: 'n2' });
    const p = await c.plan();
    const sync = p.operations.find((o) => o.type === 'SyncDisks');
    assert.equal(sync?.cause, { kind: 'mirror-stopped', node: 'n2', since: before });
    assert.equal((await c.converge()).failed, []);
    assert.is(c.store.placements.get('vm1')!.lastSync?.mirror, 'in-sync', 'mirrored again');
  } finally { await c.close(); }
});

test('replication.mode changed from sync to async: the in-sync mirror gives way to increments at once, not never', async () => {
  const c = await simCluster(vm());
  try {
    assert.equal((await c.converge()).failed, []);
    assert.is(c.store.placements.get('vm1')!.lastSync?.mirror, 'in-sync');
    const lab = c.desired.clusters.get('lab')!;
    c.desired = { ...c.desired, clusters: new Map([['lab', { ...lab, replication: { ...lab.replication, mode: 'async' as const } }]]) };
    const p = await c.plan();
    assert.equal(p.operations.filter((o) => o.type === 'SyncDisks').map((o) => o.cause), [{ kind: 'mode-changed', node: 'n2', want: 'async' }]);
    assert.equal((await c.converge()).failed, []);
    assert.equal((await c.driver.probe('n1')).containers.find((x) => x.instance === 'vm1')?.replication, { kind: 'increments' }, 'no mirror runs: increments date the replica');
    assert.equal((await c.plan()).operations, [], 'switched once: nothing left to do');
  } finally { await c.close(); }
});

test('replication.mode changed from async to sync: increments give way to the mirror at once, not at the next interval', async () => {
  const base = F.cluster();
  const c = await simCluster(F.desired(three(), [F.instance('vm1', { primary: 'n1', secondary: 'n2', hypervisor: 'kvm', disks: [{ size: GiB, mount: '' }] })],
    { ...base, replication: { ...base.replication, mode: 'async' } })); // an interval of an hour: nothing else comes due
  try {
    assert.equal((await c.converge()).failed, []);
    assert.equal((await c.plan()).operations, [], 'async and synced: nothing to do');
    const lab = c.desired.clusters.get('lab')!;
    c.desired = { ...c.desired, clusters: new Map([['lab', { ...lab, replication: { intervalMs: lab.replication.intervalMs } }]]) };
    const p = await c.plan();
    assert.equal(p.operations.filter((o) => o.type === 'SyncDisks').map((o) => o.cause), [{ kind: 'mode-changed', node: 'n2', want: 'sync' }]);
    assert.equal((await c.converge()).failed, []);
    assert.is(c.store.placements.get('vm1')!.lastSync?.mirror, 'in-sync', 'mirrored now');
    assert.equal((await c.plan()).operations, [], 'switched once: nothing left to do');
  } finally { await c.close(); }
});

test('a failover from an in-sync mirror journals "none lost"', async () => {
  const c = await simCluster(vm());
  try {
    assert.equal((await c.converge()).failed, []);
    c.driver.world.setFlags('n1', { failed: true, fenced: false });
    await c.store.putNode({ name: 'n1', nodeDownSince: Date.now() - 600_000 });
    assert.equal((await c.converge()).failed, []);
    const fin = finished(c.events).find((e) => e.op.type === 'FailoverInstance')!;
    assert.ok(fin, 'failed over');
    const job = c.store.jobs.get(fin.id)!;
    const rp = job.recovery!;
    assert.equal(rp, recoveryPointOf(fin.op), 'the journal keeps the operation\'s recovery point');
    assert.is(rp.kind, 'in-sync');
    assert.match(recoveryText(rp), /^none lost \(synchronous mirror/);
    assert.is(c.store.placements.get('vm1')!.primary, 'n2');
    const out = await drover(['jobs', '--state-dir', c.dir]);
    assert.match(out.stdout, /FailoverInstance.*recovery point: none lost \(synchronous mirror/);
  } finally { await c.close(); }
});

test('an async-replicated VM (replication.mode: async): no mirror reported; its syncs date its recovery point, a failover journals the last one', async () => {
  const base = F.cluster();
  const c = await simCluster(F.desired(three(), [F.instance('vm1', { primary: 'n1', secondary: 'n2', hypervisor: 'kvm', disks: [{ size: GiB, mount: '' }] })],
    { ...base, replication: { ...base.replication, mode: 'async' } }));
  try {
    const before = Date.now();
    assert.equal((await c.converge()).failed, []);
    const last = c.store.placements.get('vm1')!.lastSync!;
    assert.is(last.mirror, undefined, 'no mirror recorded');
    assert.ok(last.at >= before, 'dated from the sync');
    const nodes = [...c.desired.nodes.values()];
    const s = clusterStatus(c.desired, await observe(c.driver, nodes), c.store).instances[0]!;
    assert.equal([s.state, s.mirror, s.recoveryPoint, s.degraded], ['running', undefined, last.at, false]);
    c.driver.world.setFlags('n1', { failed: true, fenced: false });
    await c.store.putNode({ name: 'n1', nodeDownSince: Date.now() - 600_000 });
    assert.equal((await c.converge()).failed, []);
    const fin = finished(c.events).find((e) => e.op.type === 'FailoverInstance')!;
    assert.equal(c.store.jobs.get(fin.id)!.recovery, { kind: 'last-sync', at: last.at });
  } finally { await c.close(); }
});

test.after(cleanupTemps);
test.run();
