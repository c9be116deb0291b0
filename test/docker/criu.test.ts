/**
 * Live migration that can only help, on a test bed of its own whose nodes' criu is a shim
 * (scripts/testbed criu real|hang|absent): a hanging CRIU makes the probe give up and the move cold with
 * the instance running where it was; a checkpoint that hangs after a good probe is aborted and the
 * instance thawed and running on its source; an engine restart invalidates the cached probe; no criu at all
 * is a plain 'no'.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Docker from 'dockerode';
import { createDockerDriver } from '../../src/drivers/docker/index.ts';
import type { Driver, LiveMigrateResult } from '../../src/drivers/driver.ts';
import type { InstanceSpec } from '../../src/model/operations.ts';
import { engineAt, startTestbed, type Testbed } from '../support/testbed.ts';

interface Ctx { tb?: Testbed; driver?: Driver; engines?: Map<string, Docker> }
const test = suite<Ctx>('live migration with a failing CRIU', {});
const MiB = 1024 * 1024;

const spec = (tb: Testbed, name: string): InstanceSpec => ({
  name, image: tb.image, memory: 48 * MiB, vcpus: 0.5, diskTemplate: 'replicated',
  disks: [{ size: 64 * MiB, mount: '/data' }], env: {},
  command: ['sh', '-c', "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo $i > /data/count; usleep 100000; done"], ports: [],
});

test.before(async (ctx) => {
  // uvu reports nothing when a before hook throws: say why here
  ctx.tb = await startTestbed(2, 84, { DROVER_TESTBED_CRIU_MODE: 'hang' }).catch((e: unknown) => { console.error(`    test bed did not start: ${String(e)}`); throw e; });
  const nodes = ctx.tb.nodes(`criu-${process.pid}`);
  ctx.driver = createDockerDriver({
    cluster: `criu-${process.pid}`, nodes, timeoutMs: 3000, stopTimeoutS: 2, helperImage: ctx.tb.image, checkpointTimeoutMs: 4000,
  });
  ctx.engines = new Map(nodes.map((n) => [n.name, engineAt(n.endpoint!)]));
});

test.after(async (ctx) => {
  await ctx.tb?.down();
});

/**
 * The real criu, which `criu check` passed, still failed the driver's probe checkpoint (seen on kernel 6.18
 * with CRIU 4.1.1): the move was cold, which is right, and the live path cannot be tried here. Says so.
 */
function realCriuRefused(r: LiveMigrateResult): boolean {
  if (r.kind !== 'cold' || !/no working CRIU/.test(r.why)) return false;
  console.log(`    (the real CRIU fails the probe checkpoint on this machine: ${r.why}; the move stayed cold, the live path is not tested here)`);
  return true;
}

/** The instance runs on `node` (not paused) and on no other node. */
async function runsOnlyOn(ctx: Ctx, node: string, instance: string): Promise<void> {
  for (const [n, engine] of ctx.engines!) {
    const st = await engine.getContainer(`drover-${instance}`).inspect().then((i) => i.State, () => undefined);
    if (n === node) assert.equal([st?.Running, st?.Paused], [true, false], `${instance} runs on ${n}, not paused`);
    else assert.not.ok(st?.Running, `${instance} does not run on ${n}`);
  }
}

async function place(ctx: Ctx, name: string): Promise<InstanceSpec> {
  const sp = spec(ctx.tb!, name);
  await ctx.driver!.createDisks('node1', name, sp.disks, 'primary', 1);
  await ctx.driver!.createDisks('node2', name, sp.disks, 'replica', 1);
  await ctx.driver!.createInstance('node1', sp, 1);
  await ctx.driver!.startInstance('node1', name);
  return sp;
}

test('a hanging CRIU: the probe gives up, the move is cold, the instance keeps running on its source', async (ctx) => {
  const driver = ctx.driver!;
  assert.is((await driver.probe('node1')).canCheckpoint, undefined, 'not probed yet');
  const sp = await place(ctx, 'hang1');
  const t0 = Date.now();
  const r = await driver.liveMigrate!('node1', 'node2', sp, 2);
  console.log(`    hanging CRIU probe: answered cold after ${Date.now() - t0} ms (probe bound 5 s per node): ${r.kind === 'cold' ? r.why : r.kind}`);
  assert.is(r.kind, 'cold');
  if (r.kind === 'cold') assert.match(r.why, /CRIU/);
  await runsOnlyOn(ctx, 'node1', 'hang1');
  assert.is((await driver.probe('node1')).canCheckpoint, false, 'the probe result is cached and reported');
  const again = await driver.liveMigrate!('node1', 'node2', sp, 2);
  assert.is(again.kind, 'cold', 'still cold (cached)');
  await runsOnlyOn(ctx, 'node1', 'hang1');
});

test('an engine restart invalidates the cached probe', async (ctx) => {
  const { tb, driver } = { tb: ctx.tb!, driver: ctx.driver! };
  assert.equal([(await driver.probe('node1')).canCheckpoint, (await driver.probe('node2')).canCheckpoint], [false, false]);
  for (const i of ['1', '2']) {
    await tb.run('stop', i);
    await tb.run('restore', i);
  }
  assert.equal([(await driver.probe('node1')).canCheckpoint, (await driver.probe('node2')).canCheckpoint], [undefined, undefined],
    'unknown again after the restarts');
  await driver.startInstance('node1', 'hang1');
  if (!tb.criu) { console.log('    (no working CRIU on this machine: the live move after the restart is not tested)'); return; }
  await tb.run('criu', 'real');
  const r = await driver.liveMigrate!('node1', 'node2', spec(tb, 'hang1'), 2);
  if (realCriuRefused(r)) { await runsOnlyOn(ctx, 'node1', 'hang1'); return; }
  assert.is(r.kind, 'live', `probed again after the restart, live now (${r.kind === 'cold' ? r.why : ''})`);
  await runsOnlyOn(ctx, 'node2', 'hang1');
});

test('a checkpoint that hangs after a good probe is aborted: the instance runs on its source again, cold', async (ctx) => {
  const tb = ctx.tb!;
  if (!tb.criu) { console.log('    (no working CRIU on this machine: a good probe cannot be made; not tested)'); return; }
  await tb.run('criu', 'real');
  const sp = await place(ctx, 'hang2');
  await ctx.driver!.probe('node1');
  // both probes pass with the real criu (the previous test probed node2 with it too)
  const probeBoth = await ctx.driver!.liveMigrate!('node1', 'node2', sp, 2);
  if (realCriuRefused(probeBoth)) { await runsOnlyOn(ctx, 'node1', 'hang2'); return; }
  assert.is(probeBoth.kind, 'live', 'the real criu works');
  await tb.run('criu', 'hang');
  const t0 = Date.now();
  const r = await ctx.driver!.liveMigrate!('node2', 'node1', sp, 3);
  console.log(`    checkpoint hung after a good probe: aborted, thawed and running on its source after ${Date.now() - t0} ms (checkpoint bound 4 s): ${r.kind === 'cold' ? r.why : r.kind}`);
  assert.is(r.kind, 'cold');
  if (r.kind === 'cold') assert.match(r.why, /checkpoint/);
  await runsOnlyOn(ctx, 'node2', 'hang2');
});

test('no criu at all: the engine refuses the probe checkpoint, the move is cold, the instance keeps running', async (ctx) => {
  const tb = ctx.tb!;
  await tb.run('criu', 'absent');
  for (const i of ['1', '2']) {
    await tb.run('stop', i);
    await tb.run('restore', i);
  }
  const sp = await place(ctx, 'absent1');
  const r = await ctx.driver!.liveMigrate!('node1', 'node2', sp, 2);
  assert.is(r.kind, 'cold');
  if (r.kind === 'cold') assert.match(r.why, /CRIU/);
  await runsOnlyOn(ctx, 'node1', 'absent1');
  assert.is((await ctx.driver!.probe('node1')).canCheckpoint, false);
});

test.run();
