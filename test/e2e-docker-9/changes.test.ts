/**
 * Everyday changes on real engines, through the CLI: memory changed in place (`docker update`: the same
 * container, its start time unchanged), a disk grown on primary and replica keeping its data, a
 * `docker update` made by hand seen as drift and set back, disks without a mount at /data, /data1.
 * Own test bed on 127.0.0.81-82. Needs root and scripts/ci-setup-docker.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { withBed, ok, IDLE, MiB, clusterSpec, events, nodeIndex, writeManifests, type BedCtx, type InstanceDoc, type JobJson } from '../e2e-docker/helpers.ts';

const CLUSTER = 'e2e9c';
const test = suite<BedCtx>('e2e docker: everyday changes', {});

function manifests(ctx: BedCtx, app: Partial<InstanceDoc> = {}): string {
  const bed = ctx.bed!;
  return writeManifests(path.join(ctx.tmp!, 'manifests'), {
    cluster: CLUSTER, spec: clusterSpec(bed),
    nodes: [1, 2].map((i) => ({ name: `node${i}`, endpoint: bed.endpoint(i) })),
    instances: [
      { name: 'app', primary: 'node1', secondary: 'node2', memory: '48M', command: IDLE, ...app },
      { name: 'vm', primary: 'node2', diskTemplate: 'plain', disks: [{ size: '16M' }, { size: '16M' }], command: IDLE },
    ],
  });
}

interface Inspected { Id: string; State: { StartedAt: string; Running: boolean }; HostConfig: { Memory: number; NanoCpus: number }; Mounts: { Name?: string; Destination: string }[] }
const inspect = (ctx: BedCtx, node: string, instance: string): Promise<Inspected> =>
  ctx.bed!.engine(nodeIndex(node)).getContainer(`drover-${instance}`).inspect() as Promise<Inspected>;

interface PlanJson { operations: { type: string; instance: string; changes?: { path: string; from: string; to: string }[]; disruption?: string }[] }

async function noChanges(ctx: BedCtx, dir: string): Promise<void> {
  const r = await ctx.drover!(['plan', dir, '--detailed-exitcode']);
  ok(r, 'plan after apply: no changes', 0);
}

withBed(test, 'drover-e2e-changes-', 2, 80);

test('apply; disks without a mount are mounted at /data, /data1', async (ctx) => {
  const dir = manifests(ctx);
  ok(await ctx.drover!(['apply', dir, '--yes']), 'apply');
  const vm = await inspect(ctx, 'node2', 'vm');
  assert.equal(vm.Mounts.map((m) => [m.Name, m.Destination]).sort(), [['drover-vm-d0', '/data'], ['drover-vm-d1', '/data1']]);
  await noChanges(ctx, dir);
});

test('memory: ModifyInstance in place, the same container with its start time unchanged', async (ctx) => {
  const before = await inspect(ctx, 'node1', 'app');
  assert.is(before.HostConfig.Memory, 48 * MiB);
  const dir = manifests(ctx, { memory: '64M' });
  const p = await ctx.drover!.json<PlanJson>(['plan', dir]);
  assert.equal(p.operations.map((o) => [o.type, o.instance, o.changes, o.disruption]), [['ModifyInstance', 'app', [{ path: 'memory', from: '48M', to: '64M' }], 'none']]);
  const r = await ctx.drover!(['apply', dir, '--yes', '--json']);
  ok(r, 'apply');
  assert.equal(events(r.stdout).filter((e) => e.type === 'operation-finished').map((e) => [e.op?.type, e.result]), [['ModifyInstance', 'succeeded']]);
  const after = await inspect(ctx, 'node1', 'app');
  assert.is(after.HostConfig.Memory, 64 * MiB, 'docker inspect shows the new limit');
  assert.is(after.Id, before.Id, 'the same container');
  assert.is(after.State.StartedAt, before.State.StartedAt, 'not restarted');
  assert.ok(after.State.Running);
  await noChanges(ctx, dir);
});

test('disk grow: GrowDisk on the replica and the primary, never a recreate; a marker file written before is there after', async (ctx) => {
  const bed = ctx.bed!;
  await bed.data.write('node1', 'app', 0, { 'marker.txt': 'written before the grow\n' });
  const before = await inspect(ctx, 'node1', 'app');
  const dir = manifests(ctx, { memory: '64M', disks: [{ size: '128M', mount: '/data' }] });
  const p = await ctx.drover!.json<PlanJson>(['plan', dir]);
  assert.equal(p.operations.map((o) => [o.type, o.changes]), [['GrowDisk', [{ path: 'disks[0].size', from: '64M', to: '128M' }]]]);
  const r = await ctx.drover!(['apply', dir, '--yes', '--json']);
  ok(r, 'apply');
  assert.equal(events(r.stdout).filter((e) => e.type === 'operation-finished').map((e) => [e.op?.type, e.result]), [['GrowDisk', 'succeeded']]);
  assert.is((await bed.data.read('node1', 'app', 0))['marker.txt'], 'written before the grow\n');
  const after = await inspect(ctx, 'node1', 'app');
  assert.equal([after.Id, after.State.StartedAt], [before.Id, before.State.StartedAt], 'not recreated, not restarted');
  await noChanges(ctx, dir);
  const shrink = await ctx.drover!(['plan', manifests(ctx, { memory: '64M', disks: [{ size: '64M', mount: '/data' }] })]);
  ok(shrink, 'a shrink is refused', 1);
  assert.match(shrink.stdout + shrink.stderr, /instances\.yaml:\d+:\d+: error: Instance "app": spec\.disks\[0\]\.size: cannot shrink a disk \(128M → 64M\)/);
});

test('a docker update by hand is drift (resized-by-hand), set back in place', async (ctx) => {
  const dir = manifests(ctx, { memory: '64M', disks: [{ size: '128M', mount: '/data' }] });
  const ctr = ctx.bed!.engine(1).getContainer('drover-app');
  const before = await inspect(ctx, 'node1', 'app');
  await ctr.update({ Memory: 32 * MiB, MemorySwap: 64 * MiB });
  assert.is((await inspect(ctx, 'node1', 'app')).HostConfig.Memory, 32 * MiB);
  const r = await ctx.drover!(['apply', dir, '--yes', '--json']);
  ok(r, 'apply');
  const drift = events(r.stdout).filter((e) => e.type === 'drift');
  assert.equal(drift.map((e) => [e.instance, e.kind, e.action]), [['app', 'resized-by-hand', 'corrected']]);
  const after = await inspect(ctx, 'node1', 'app');
  assert.equal([after.HostConfig.Memory, after.Id, after.State.StartedAt], [64 * MiB, before.Id, before.State.StartedAt]);
  const jobs = (await ctx.drover!.json<{ jobs: (JobJson & { drift?: { kind: string } })[] }>(['jobs'])).jobs;
  assert.ok(jobs.some((j) => j.type === 'ModifyInstance' && j.drift?.kind === 'resized-by-hand'), 'journaled with its drift');
  await noChanges(ctx, dir);
});

test.run();
