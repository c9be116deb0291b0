/**
 * The whole path on real engines, through the CLI as a user runs it (`node bin/drover.js`, a child process):
 * 10 replicated instances on 3 nodes; data on the primaries reaching new secondaries; a primary node killed
 * (fenced by test/fixtures/docker/fence.sh) and its instances failing over with the data of the last sync,
 * never running twice; the node back, its stale copies removed first. Own test bed on 127.0.0.51-53.
 * Needs root and scripts/ci-setup-docker.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  withBed, ok, IDLE, MiB, clusterSpec, events, nodeIndex, opNodes, runningCopies, watchCopies, writeManifests, type Bed, type Cli, type InstanceDoc, type JobJson, type StatusJson,
} from './helpers.ts';

const CLUSTER = 'e2e';
const NAMES = Array.from({ length: 10 }, (_, i) => `app${i}`);

interface Ctx {
  bed?: Bed;
  tmp?: string;
  drover?: Cli;
  /** instance → placement after the first apply, then after the secondaries moved */
  placed?: Map<string, { primary: string; secondary: string }>;
  /** what each instance's disk held at its last sync */
  synced?: Map<string, Record<string, string>>;
  killed?: number;
  failedOver?: string[];
}
const test = suite<Ctx>('e2e docker: a 3-node cluster through the CLI', {});

const instances = (pins: ReadonlyMap<string, { secondary?: string }> = new Map()): InstanceDoc[] =>
  NAMES.map((name) => ({ name, env: { INSTANCE: name }, command: IDLE, ...(pins.get(name)?.secondary && { secondary: pins.get(name)!.secondary }) }));

function manifests(ctx: Ctx, pins?: ReadonlyMap<string, { secondary?: string }>): string {
  const bed = ctx.bed!;
  return writeManifests(path.join(ctx.tmp!, 'manifests'), {
    cluster: CLUSTER, spec: clusterSpec(bed, { nodeDownAfter: '3s' }),
    nodes: [1, 2, 3].map((i) => ({ name: `node${i}`, endpoint: bed.endpoint(i) })),
    instances: instances(pins),
  });
}

async function pool<T>(items: readonly T[], n: number, f: (t: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => { for (let t = queue.shift(); t !== undefined; t = queue.shift()) await f(t); }));
}


withBed(test, 'drover-e2e-cluster-', 3, 50);

test('apply creates 10 replicated instances on 3 nodes: containers, limits, labels, restart policy, volumes on both nodes', async (ctx) => {
  const bed = ctx.bed!;
  const drover = ctx.drover!;
  const dir = manifests(ctx);
  const t0 = Date.now();
  const r = await drover(['apply', dir, '--yes']);
  ok(r, 'apply');
  console.log(`    apply of 10 replicated instances on 3 engines: ${Date.now() - t0} ms (CLI child process, from empty)`);
  assert.is((r.stdout.match(/ok +CreateInstance /g) ?? []).length, 10, r.stdout);

  const st = await drover.json<StatusJson>(['status', dir]);
  ctx.placed = new Map();
  for (const name of NAMES) {
    const i = st.instances.find((x) => x.name === name);
    assert.ok(i, `${name} in status`);
    assert.is(i!.state, 'running', `${name} running`);
    assert.is(i!.degraded, false, `${name} not degraded`);
    assert.ok(i!.primary && i!.secondary && i!.primary !== i!.secondary, `${name}: primary and secondary differ`);
    ctx.placed.set(name, { primary: i!.primary!, secondary: i!.secondary! });
  }
  assert.is(new Set([...ctx.placed.values()].map((p) => p.primary)).size, 3, 'primaries spread over the 3 nodes');

  for (const [name, { primary, secondary }] of ctx.placed) {
    const third = ['node1', 'node2', 'node3'].find((n) => n !== primary && n !== secondary)!;
    const info = await bed.engine(nodeIndex(primary)).getContainer(`drover-${name}`).inspect();
    assert.is(info.State.Running, true, `${name} runs on ${primary}`);
    assert.is(info.HostConfig.Memory, 48 * MiB, `${name}: memory limit`);
    assert.is(info.HostConfig.NanoCpus, 1e9, `${name}: cpu limit`);
    assert.is(info.HostConfig.RestartPolicy?.Name, 'no', `${name}: restart policy`);
    assert.ok(info.Config.Env.includes(`INSTANCE=${name}`), `${name}: env`);
    assert.equal(info.Config.Cmd, IDLE, `${name}: command`);
    const l = info.Config.Labels;
    assert.equal([l['drover.cluster'], l['drover.instance'], l['drover.role'], l['drover.generation']], [CLUSTER, name, 'primary', '1'], `${name}: labels`);
    assert.equal(info.Mounts.map((m) => [m.Type, m.Name, m.Destination]), [['volume', `drover-${name}-d0`, '/data']], `${name}: mounts`);
    for (const [node, role] of [[primary, 'primary'], [secondary, 'replica']] as const) {
      const e = bed.engine(nodeIndex(node));
      const v = await e.getVolume(`drover-${name}-d0`).inspect();
      assert.equal([v.Labels['drover.cluster'], v.Labels['drover.instance']], [CLUSTER, name], `${name}: volume labels on ${node}`);
      const marker = await e.getVolume(`drover-${name}-meta`).inspect();
      assert.is(marker.Labels['drover.role'], role, `${name}: role on ${node}`);
    }
    for (const node of [secondary, third]) {
      const cs = await bed.engine(nodeIndex(node)).listContainers({ all: true, filters: { label: [`drover.instance=${name}`] } });
      // the kept sync helper (label drover.helper) may be there on the secondary; no instance container
      assert.is(cs.filter((c) => c.Labels['drover.helper'] === undefined).length, 0, `${name}: no container on ${node}`);
      if (node === third) assert.is(cs.length, 0, `${name}: no helper on ${third}`);
    }
    const vs = await bed.engine(nodeIndex(third)).listVolumes({ filters: { label: [`drover.instance=${name}`] } });
    assert.is(vs.Volumes?.length ?? 0, 0, `${name}: nothing on ${third}`);
  }
  const p = await drover(['plan', dir, '--detailed-exitcode']);
  ok(p, 'plan --detailed-exitcode after apply');
});

test('data written on the primaries reaches the new secondaries (pinned secondary → ReplaceSecondary syncs it)', async (ctx) => {
  const bed = ctx.bed!;
  const drover = ctx.drover!;
  ctx.synced = new Map();
  await pool(NAMES, 3, async (name) => {
    const files = { 'id.txt': name, 'sub/blob.txt': `${name}:`.repeat(8_000), 'empty.txt': '' };
    await bed.data.write(ctx.placed!.get(name)!.primary, name, 0, files);
    ctx.synced!.set(name, files);
  });
  // move every replica to the third node: each move is a create + full sync from the primary
  const pins = new Map(NAMES.map((name) => {
    const { primary, secondary } = ctx.placed!.get(name)!;
    return [name, { secondary: ['node1', 'node2', 'node3'].find((n) => n !== primary && n !== secondary)! }];
  }));
  const dir = manifests(ctx, pins);
  const r = await drover(['apply', dir, '--yes']);
  ok(r, 'apply (secondaries move)');
  assert.is((r.stdout.match(/ok +ReplaceSecondary /g) ?? []).length, 10, r.stdout);
  await pool(NAMES, 3, async (name) => {
    const { primary, secondary: old } = ctx.placed!.get(name)!;
    const now = pins.get(name)!.secondary;
    const onPrimary = await bed.data.read(primary, name, 0);
    const onReplica = await bed.data.read(now, name, 0);
    assert.equal(onPrimary, ctx.synced!.get(name), `${name}: primary ${primary} holds what was written`);
    assert.equal(onReplica, onPrimary, `${name}: the replica on ${now} equals the primary`);
    const vs = await bed.engine(nodeIndex(old)).listVolumes({ filters: { label: [`drover.instance=${name}`] } });
    assert.is(vs.Volumes?.length ?? 0, 0, `${name}: the old replica on ${old} is gone`);
    ctx.placed!.set(name, { primary, secondary: now });
  });
  // unpinned again: Drover keeps the placements it made
  const back = manifests(ctx);
  ok(await drover(['plan', back, '--detailed-exitcode']), 'plan --detailed-exitcode after unpinning');
});

test('kill a primary node: fenced, its instances run on their secondaries with the data of the last sync, never twice', async (ctx) => {
  const bed = ctx.bed!;
  const drover = ctx.drover!;
  const dir = manifests(ctx);
  const count = (n: string) => [...ctx.placed!.values()].filter((p) => p.primary === n).length;
  const victim = ['node1', 'node2', 'node3'].sort((a, b) => count(b) - count(a))[0]!;
  const moving = NAMES.filter((n) => ctx.placed!.get(n)!.primary === victim);
  ctx.killed = nodeIndex(victim);
  ctx.failedOver = moving;
  // written after the last sync: a failover loses it (asynchronous replication), and must not show it
  await pool(moving, 3, (name) => bed.data.write(victim, name, 0, { 'late.txt': 'after the last sync' }));

  const watch = watchCopies(bed, CLUSTER);
  let report;
  const t0 = Date.now();
  let r;
  try {
    await bed.run('kill', String(ctx.killed));
    r = await drover(['apply', dir, '--yes', '--json']);
  } finally {
    report = await watch.stop();
  }
  const ms = Date.now() - t0;
  ok(r, 'apply after the kill');
  console.log(`    ${victim} killed: ${moving.length} instances failed over in ${ms} ms (nodeDownAfter 3s, fence, start on the secondaries, new secondaries)`);
  assert.equal(report.violations, [], 'never two running copies');
  assert.ok(report.polls >= 10, `the watcher polled (${report.polls} polls)`);
  const ev = events(r.stdout);
  const failovers = ev.filter((e) => e.type === 'operation-finished' && e.op?.type === 'FailoverInstance');
  assert.equal(failovers.map((e) => e.op!.instance).sort(), [...moving].sort(), 'one FailoverInstance per instance of the dead node');
  assert.ok(failovers.every((e) => e.result === 'succeeded'), JSON.stringify(failovers));
  // (the fence command runs once per failing-over instance: idempotent here, reported as a finding)
  const fenceLog = fs.readFileSync(path.join(ctx.tmp!, 'fence.log'), 'utf8').trim().split('\n');
  assert.ok(fenceLog.length >= 1, 'fenced');
  for (const line of fenceLog) assert.match(line, new RegExp(`^\\d+ ${victim} tcp://127\\.0\\.0\\.${bed.base + ctx.killed}:2375 fenced$`));
  const at = (pred: (e: typeof ev[number]) => boolean) => { const e = ev.find(pred); return e ? Date.parse(e.time) - t0 : NaN; };
  const lastFailover = Math.max(...failovers.map((e) => Date.parse(e.time) - t0));
  console.log(`    timeline from the kill: first failover started ${at((e) => e.type === 'operation-started' && e.op?.type === 'FailoverInstance')} ms, ` +
    `last failover done ${lastFailover} ms, fence calls ${fenceLog.length}, apply done ${ms} ms`);
  if (process.env.E2E_VERBOSE) for (const e of ev) if (e.type !== 'progress') console.log(`      +${Date.parse(e.time) - t0} ${e.type} ${e.op?.type ?? ''} ${e.op?.instance ?? e.instance ?? ''} ${e.step ?? ''} ${e.durationMs ?? ''} ${e.note ?? ''}`);

  const st = await drover.json<StatusJson>(['status', dir]);
  const { copies } = await runningCopies(bed, CLUSTER);
  for (const name of NAMES) {
    const was = ctx.placed!.get(name)!;
    const i = st.instances.find((x) => x.name === name)!;
    assert.is(i.state, 'running', `${name} running`);
    assert.ok(i.primary !== victim && i.secondary !== victim, `${name}: nothing on ${victim} (${i.primary}/${i.secondary})`);
    assert.ok(i.secondary, `${name} has a secondary again`);
    assert.equal((copies.get(name) ?? []).map((c) => c.node), [i.primary], `${name}: exactly one running copy, on ${i.primary}`);
    if (moving.includes(name)) {
      assert.is(i.primary, was.secondary, `${name} runs on its former secondary`);
      assert.equal(await bed.data.read(i.primary!, name, 0), ctx.synced!.get(name), `${name}: the data of the last sync, and not what came after`);
    } else {
      assert.is(i.primary, was.primary, `${name} stayed on ${was.primary}`);
    }
    ctx.placed!.set(name, { primary: i.primary!, secondary: i.secondary! });
  }
});

test('the killed node comes back: the next apply removes its stale copies first, and they never ran', async (ctx) => {
  const bed = ctx.bed!;
  const drover = ctx.drover!;
  const dir = manifests(ctx);
  const victim = `node${ctx.killed}`;
  const watch = watchCopies(bed, CLUSTER);
  let report;
  let r;
  try {
    await bed.run('restore', String(ctx.killed));
    const stale = await bed.engine(ctx.killed!).listContainers({ all: true, filters: { label: [`drover.cluster=${CLUSTER}`] } });
    assert.ok(stale.length >= ctx.failedOver!.length, `stale containers are back on ${victim} (${stale.length})`);
    assert.ok(stale.every((c) => c.State !== 'running'), 'and none of them runs (restart policy no)');
    r = await drover(['apply', dir, '--yes', '--json']);
  } finally {
    report = await watch.stop();
  }
  ok(r, 'apply after the restore');
  assert.equal(report.violations, [], 'never two running copies');
  const started = events(r.stdout).filter((e) => e.type === 'operation-started').map((e) => e.op!);
  const onVictim = started.filter((op) => opNodes(op).includes(victim));
  assert.ok(onVictim.length > 0, `apply touched ${victim}: ${JSON.stringify(started)}`);
  const firstOther = onVictim.findIndex((op) => op.type !== 'RemoveOrphan');
  const orphans = onVictim.filter((op) => op.type === 'RemoveOrphan');
  assert.ok(firstOther === -1 || onVictim.slice(0, firstOther).length === orphans.length, `RemoveOrphan on ${victim} before anything else there: ${onVictim.map((o) => o.type).join(', ')}`);
  for (const name of ctx.failedOver!) assert.ok(orphans.some((o) => o.instance === name), `${name}: its stale copy on ${victim} removed`);
  const left = await bed.engine(ctx.killed!).listContainers({ all: true, filters: { label: [`drover.cluster=${CLUSTER}`] } });
  assert.equal(left.map((c) => c.Names[0]), [], `no stale container left on ${victim}`);
  for (const name of ctx.failedOver!) {
    const vs = await bed.engine(ctx.killed!).listVolumes({ filters: { label: [`drover.instance=${name}`] } });
    assert.is(vs.Volumes?.length ?? 0, 0, `${name}: stale volumes gone from ${victim}`);
  }
  ok(await drover(['plan', dir, '--detailed-exitcode']), 'plan --detailed-exitcode after the cleanup');
  const jobs = (await drover.json<{ jobs: JobJson[] }>(['jobs'])).jobs;
  assert.ok(jobs.every((j) => j.result === 'succeeded'), `every job succeeded: ${jobs.filter((j) => j.result !== 'succeeded').map((j) => `${j.type} ${j.instance}: ${j.error}`).join('; ')}`);
});

test.run();
