/**
 * Rename in place on real engines (metadata.renamedFrom): docker bakes the name into containers and
 * volumes, so the driver copies the disks on each node into volumes under the new name and makes the
 * container anew; the instance keeps its node, its secondary and its data (a marker file), and nothing
 * is left under the old name (no container, volume, marker or helper); a master killed with -9
 * inside a rename is resumed by the next apply. Own test bed on base 90.
 * Needs root and scripts/ci-setup-docker.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withBed, ok, IDLE, clusterSpec, nodeIndex, writeManifests, type Bed, type BedCtx, type JobJson, type StatusJson } from '../e2e-docker/helpers.ts';

const CLUSTER = 'e2e9rename';
const test = suite<BedCtx>('e2e docker: rename in place', {});
withBed(test, 'drover-e2e-rename-', 2, 90);

function manifests(ctx: BedCtx, name: string, renamedFrom?: string): string {
  const bed = ctx.bed!;
  const dir = writeManifests(path.join(ctx.tmp!, 'manifests'), {
    cluster: CLUSTER, spec: clusterSpec(bed),
    nodes: [1, 2].map((i) => ({ name: `node${i}`, endpoint: bed.endpoint(i) })),
    instances: [{ name, env: { INSTANCE: 'db' }, command: IDLE }],
  });
  if (renamedFrom) {
    const f = path.join(dir, 'instances.yaml');
    fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace(`"metadata":{"name":"${name}"}`, `"metadata":{"name":"${name}","renamedFrom":"${renamedFrom}"}`));
  }
  return dir;
}

/** Names of everything of this cluster on node I that carries the instance's name or label. */
async function leftovers(bed: Bed, i: number, instance: string): Promise<string[]> {
  const e = bed.engine(i);
  const byLabel = { label: [`drover.cluster=${CLUSTER}`, `drover.instance=${instance}`] };
  const containers = await e.listContainers({ all: true, filters: byLabel });
  const volumes = (await e.listVolumes({ filters: byLabel })).Volumes ?? [];
  const named = (await e.listContainers({ all: true })).filter((c) => c.Names.some((n) => n.startsWith(`/drover-${instance}`)));
  return [...containers.map((c) => `container ${c.Names[0]}`), ...volumes.map((v) => `volume ${v.Name}`), ...named.map((c) => `named ${c.Names[0]}`)];
}

test('a renamed instance keeps its node, its secondary and its data, and leaves no orphan container or volume', async (ctx) => {
  const bed = ctx.bed!;
  const drover = ctx.drover!;
  ok(await drover(['apply', manifests(ctx, 'db1'), '--yes']), 'first apply');
  const before = (await drover.json<StatusJson>(['status', path.join(ctx.tmp!, 'manifests')])).instances.find((i) => i.name === 'db1')!;
  assert.ok(before.primary && before.secondary, 'placed with a replica');
  const [p, s] = [nodeIndex(before.primary!), nodeIndex(before.secondary!)];
  await bed.data.write(before.primary!, 'db1', 0, { 'marker.txt': 'written before the rename\n' });
  const replica = await bed.data.read(before.secondary!, 'db1', 0);

  const dir = manifests(ctx, 'db2', 'db1');
  const plan = await drover(['plan', dir]);
  ok(plan, 'plan');
  assert.match(plan.stdout, /RenameInstance +db2 +db1 → db2 on node\d, replica on node\d, in place \(restart; disks and data stay\)/);
  const r = await drover(['apply', dir, '--yes']);
  ok(r, 'rename apply');
  assert.match(r.stdout, /ok +RenameInstance db2/);
  assert.not.match(r.stdout, /CreateInstance|RemoveInstance|RemoveOrphan/);

  const after = (await drover.json<StatusJson>(['status', dir])).instances.find((i) => i.name === 'db2')!;
  assert.equal([after.state, after.primary, after.secondary], ['running', before.primary, before.secondary], 'same nodes, running again');
  assert.is((await bed.data.read(after.primary!, 'db2', 0))['marker.txt'], 'written before the rename\n', 'the data stayed');
  assert.equal(await bed.data.read(after.secondary!, 'db2', 0), replica, 'the replica kept its contents');
  const info = await bed.engine(p).getContainer('drover-db2').inspect();
  assert.is(info.State.Running, true);
  assert.is(info.Config.Labels['drover.instance'], 'db2');
  assert.equal(info.Mounts.map((m) => [m.Name, m.Destination]), [['drover-db2-d0', '/data']]);
  for (const i of [p, s]) assert.equal(await leftovers(bed, i, 'db1'), [], `node${i}: nothing left under the old name`);
  const marker = await bed.engine(s).getVolume('drover-db2-meta').inspect();
  assert.is(marker.Labels['drover.role'], 'replica');

  const jobs = (await drover.json<{ jobs: JobJson[] }>(['jobs'])).jobs;
  assert.equal(jobs.filter((j) => j.instance === 'db2').map((j) => `${j.type} ${j.result}`), ['RenameInstance succeeded']);
  const again = await drover(['plan', dir, '--detailed-exitcode']);
  ok(again, 'nothing left to do after the rename');
  assert.match(again.stderr + again.stdout, /Drover knows no instance "db1" \(already renamed, or a typo\)/);
});

test('a master killed with -9 mid-rename (at several durable steps): the next apply finishes it, data kept, nothing left under an old name', async (ctx) => {
  const bed = ctx.bed!;
  const drover = ctx.drover!;
  let name = 'db2';
  let killed = 0;
  for (const at of [2, 3, 4, 5]) {
    const next = `db${at + 1}`;
    const dir = manifests(ctx, next, name);
    const first = await drover(['apply', dir, '--yes'], { env: { DROVER_FAILPOINT_KILL_AT: String(at) } }).catch((e: Error) => e);
    if (first instanceof Error) killed++; // killed by SIGKILL (the CLI helper throws on a signal)
    const r = await drover(['apply', dir, '--yes']);
    ok(r, `kill at batch ${at}: resumed apply`);
    const st = (await drover.json<StatusJson>(['status', dir])).instances.find((i) => i.name === next)!;
    assert.equal(st.state, 'running', `kill at batch ${at}: ${next} runs`);
    assert.is((await bed.data.read(st.primary!, next, 0))['marker.txt'], 'written before the rename\n', `kill at batch ${at}: data kept`);
    for (const i of [1, 2]) assert.equal(await leftovers(bed, i, name), [], `kill at batch ${at}: node${i}: nothing left under ${name}`);
    name = next;
  }
  assert.ok(killed >= 2, `the renames were really killed (${killed} of 4)`);
  const renames = (await drover.json<{ jobs: (JobJson & { resumed?: number })[] }>(['jobs'])).jobs.filter((j) => j.type === 'RenameInstance');
  assert.ok(renames.some((j) => (j.resumed ?? 0) > 0), `some kill landed inside a rename, which a later master resumed: ${JSON.stringify(renames.map((j) => [j.instance, j.result, j.resumed]))}`);
  assert.equal(renames.filter((j) => j.result !== 'succeeded').map((j) => j.instance), [], 'every rename succeeded in the end');
});

test.run();
