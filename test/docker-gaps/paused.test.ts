/**
 * A container left paused, on real engines through the CLI: paused by the engine API, `drover plan`
 * shows the thaw (cause `paused`), `drover apply` thaws it and it runs once; paused while a backup's
 * helper runs, it is left alone; a backup that completes leaves no helper; a `drover backup` killed
 * with -9 during its freeze leaves a helper that ends with it (its stdin was the backup's), and the next apply thaws the instance. Own test bed
 * on 127.0.0.171-172. Needs root and scripts/ci-setup-docker.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { clusterSpec, nodeIndex, ok, runningCopies, sleep, until, withBed, writeManifests, type BedCtx } from '../e2e-docker/helpers.ts';

const CLUSTER = 'gaps';
/** Fills 48 MiB of its disk once (so a backup's frozen copy takes a moment), then idles. */
const CMD = ['sh', '-c', "[ -f /data/big ] || dd if=/dev/zero of=/data/big bs=1048576 count=48 2>/dev/null; echo ready; trap 'exit 0' TERM; while :; do usleep 100000; done"];
const test = suite<BedCtx & { dir?: string; primary?: number }>('docker: a container left paused is thawed by the plan', {});

withBed(test, 'drover-gaps-', 2, 170);

const container = (ctx: BedCtx & { primary?: number }) => ctx.bed!.engine(ctx.primary!).getContainer('drover-app');
const REASON = /paused on node\d with no backup holding it: thaw it/;

async function applyThaws(ctx: BedCtx & { dir?: string; primary?: number }): Promise<void> {
  const plan = await ctx.drover!(['plan', ctx.dir!]);
  ok(plan, 'plan');
  assert.match(plan.stdout, REASON);
  ok(await ctx.drover!(['apply', ctx.dir!, '--yes']), 'apply');
  const st = (await container(ctx).inspect()).State;
  assert.ok(st.Running && !st.Paused, `thawed: ${JSON.stringify(st)}`);
  const { copies } = await runningCopies(ctx.bed!, CLUSTER);
  assert.is(copies.get('app')?.length, 1, 'the instance runs once');
  ok(await ctx.drover!(['plan', ctx.dir!, '--detailed-exitcode']), 'nothing left to do');
}

test('apply creates the instance', async (ctx) => {
  const bed = ctx.bed!;
  ctx.dir = writeManifests(path.join(ctx.tmp!, 'manifests'), {
    cluster: CLUSTER, spec: clusterSpec(bed), nodes: [1, 2].map((i) => ({ name: `node${i}`, endpoint: bed.endpoint(i) })),
    instances: [{ name: 'app', command: CMD }],
  });
  ok(await ctx.drover!(['apply', ctx.dir, '--yes']), 'apply');
  const s = await ctx.drover!.json<{ instances: { name: string; primary?: string }[] }>(['status', ctx.dir]);
  ctx.primary = nodeIndex(s.instances.find((i) => i.name === 'app')!.primary!);
  await until('the disk filled', async () => (await bed.engine(ctx.primary!).getContainer('drover-app').logs({ stdout: true })).toString().includes('ready'), 120_000, 500);
});

test('paused by the engine API: plan shows the thaw, apply thaws it, it runs once', async (ctx) => {
  await container(ctx).pause();
  await applyThaws(ctx);
});

test('paused while its backup helper runs: the plan leaves it alone', async (ctx) => {
  const docker = ctx.bed!.engine(ctx.primary!);
  const helper = await docker.createContainer({
    name: 'drover-app-backup', Image: ctx.bed!.image, Cmd: ['sleep', '600'],
    Labels: { 'drover.cluster': CLUSTER, 'drover.instance': 'app', 'drover.helper': 'backup' },
  });
  await helper.start();
  await container(ctx).pause();
  try {
    const plan = await ctx.drover!(['plan', ctx.dir!]);
    ok(plan, 'plan');
    assert.not.match(plan.stdout, REASON);
  } finally {
    await helper.remove({ force: true });
  }
  await applyThaws(ctx); // the helper is gone: nothing holds it any more
});

test('a backup that completes: frozen for its copy, thawed, its helper (held by its stdin) removed', async (ctx) => {
  const b = await ctx.drover!(['backup', 'app', ctx.dir!, '--to', path.join(ctx.tmp!, 'whole.tar')]);
  ok(b, 'backup');
  assert.match(b.stdout, /frozen \S+ for a consistent copy/);
  const st = (await container(ctx).inspect()).State;
  assert.ok(st.Running && !st.Paused, 'thawed');
  assert.equal(await ctx.bed!.engine(ctx.primary!).listContainers({ all: true, filters: { name: ['drover-app-backup'] } }), [], 'helper removed');
});

test('a backup killed with -9 during its freeze: its helper ends, the next apply thaws the instance', async (ctx) => {
  const ct = container(ctx);
  let caught = false;
  for (let attempt = 0; attempt < 5 && !caught; attempt++) {
    const b = ctx.drover!.spawn(['backup', 'app', ctx.dir!, '--to', path.join(ctx.tmp!, `b${attempt}.tar`)]);
    const exited = b.done.then(() => true);
    while (!caught && !(await Promise.race([exited, sleep(0).then(() => false)]))) {
      if ((await ct.inspect()).State.Paused) {
        b.child.kill('SIGKILL');
        caught = true;
      }
    }
    await exited;
  }
  // the freeze (a 48 MiB local copy) outlasts one inspect on any machine we know; say so if not
  assert.ok(caught, 'the backup was killed while it held the instance frozen (5 tries)');
  assert.ok((await ct.inspect()).State.Paused, 'left paused by the killed backup');
  const docker = ctx.bed!.engine(ctx.primary!);
  await until('the backup helper ends with its backup', async () => {
    const [h] = await docker.listContainers({ all: true, filters: { name: ['drover-app-backup'] } });
    return !h || h.State !== 'running';
  }, 30_000, 200);
  await applyThaws(ctx);
});

test.run();
