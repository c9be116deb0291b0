/**
 * Health checks and a rolling recreate on real engines (issue 9, budgets): an `exec` check runs inside the
 * container, a `tcp` check connects from a helper sharing the container's network namespace (a port the
 * instance does not publish); changing the environment of two members of an antiAffinity group recreates
 * them one after the other, the second only once the first runs again and passes its check (a memory change
 * would be done in place on Docker, without taking anyone down: test/e2e-docker-9/changes.test.ts). Own test bed on
 * 127.0.0.86-88. Needs root and scripts/ci-setup-docker.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { withBed, ok, clusterSpec, events, nodeIndex, writeManifests, type Bed, type Cli, type InstanceDoc } from '../e2e-docker/helpers.ts';

const CLUSTER = 'e2e9b';

interface Ctx { bed?: Bed; tmp?: string; drover?: Cli }
const test = suite<Ctx>('e2e docker: health checks and a rolling recreate', {});

interface StatusHealth { instances: { name: string; primary?: string; state: string; health?: { ok: boolean; output: string } }[] }

/** web1 checked by `exec`, web2 by `tcp`; both serve /data over HTTP on 8080 inside their own network. */
function manifests(ctx: Ctx, o: { memory: string; version?: string; web1Check?: Record<string, unknown>; web2Check?: Record<string, unknown> }): string {
  const bed = ctx.bed!;
  const web = (name: string, health: Record<string, unknown>): InstanceDoc => ({
    name, memory: o.memory, antiAffinity: ['web'], command: ['httpd', '-f', '-p', '8080', '-h', '/data'], ...(o.version && { env: { VERSION: o.version } }),
    health: { interval: '300ms', timeout: '3s', retries: 5, ...health },
  });
  return writeManifests(path.join(ctx.tmp!, 'manifests'), {
    cluster: CLUSTER, spec: clusterSpec(bed),
    nodes: [1, 2, 3].map((i) => ({ name: `node${i}`, endpoint: bed.endpoint(i) })),
    instances: [web('web1', o.web1Check ?? { exec: ['sh', '-c', 'test -d /data'] }), web('web2', o.web2Check ?? { tcp: 8080 })],
  });
}

const health = async (drover: Cli, dir: string) => {
  const st = await drover.json<StatusHealth>(['status', dir]);
  return new Map(st.instances.map((i) => [i.name, i]));
};

withBed(test, 'drover-e2e-budgets-', 3, 85);

test('an exec check and a tcp check pass on running containers; a closed port fails with what nc said', async (ctx) => {
  const drover = ctx.drover!;
  const dir = manifests(ctx, { memory: '48M' });
  ok(await drover(['apply', dir, '--yes']), 'apply');
  const seen = await health(drover, dir);
  assert.equal(seen.get('web1')?.health?.ok, true, JSON.stringify(seen.get('web1')));
  assert.equal(seen.get('web2')?.health?.ok, true, JSON.stringify(seen.get('web2')));
  // a check on a port nothing listens on (changing a check recreates nothing: it is not the container's spec)
  const closed = manifests(ctx, { memory: '48M', web2Check: { tcp: 9999 }, web1Check: { exec: ['sh', '-c', 'echo no index; exit 3'] } });
  const plan = await drover.json<{ operations: unknown[] }>(['plan', closed]);
  assert.equal(plan.operations, []);
  const bad = await health(drover, closed);
  assert.is(bad.get('web2')?.health?.ok, false);
  assert.match(bad.get('web2')?.health?.output ?? '', /can't connect|refused/);
  assert.is(bad.get('web1')?.health?.ok, false);
  assert.match(bad.get('web1')?.health?.output ?? '', /no index/);
});

test('the environment of both members changed: recreated one after the other, web2 only after web1 runs again and passes its check', async (ctx) => {
  const bed = ctx.bed!;
  const drover = ctx.drover!;
  const dir = manifests(ctx, { memory: '48M', version: '2' });
  const p = await drover.json<{ operations: { type: string; instance: string; wave?: number }[] }>(['plan', dir]);
  assert.equal(p.operations.map((o) => [o.type, o.instance, o.wave]), [['RecreateInstance', 'web1', 1], ['RecreateInstance', 'web2', 2]]);
  const r = await drover(['apply', dir, '--yes', '--json']);
  ok(r, 'apply');
  const es = events(r.stdout);
  const at = (f: (e: (typeof es)[number]) => boolean) => es.findIndex(f);
  const web1Healthy = at((e) => e.type === 'step' && e.instance === 'web1' && e.step === 'healthy');
  const web1Done = at((e) => e.type === 'operation-finished' && e.op?.instance === 'web1');
  const web2First = at((e) => e.op?.instance === 'web2' || e.instance === 'web2');
  assert.ok(web1Healthy >= 0 && web1Healthy < web1Done, 'web1 waited for its check');
  assert.ok(web2First > web1Done, `web2 began (#${web2First}) after web1 finished (#${web1Done})`);
  assert.ok(es.some((e) => e.type === 'step' && e.instance === 'web2' && e.step === 'healthy'), 'web2 waited for its tcp check');
  const seen = await health(drover, dir);
  for (const name of ['web1', 'web2']) {
    const i = seen.get(name)!;
    const info = await bed.engine(nodeIndex(i.primary!)).getContainer(`drover-${name}`).inspect();
    assert.ok(info.Config.Env?.includes('VERSION=2'), `${name}: the new environment (${info.Config.Env?.join(' ')})`);
    assert.is(i.health?.ok, true, `${name} healthy`);
  }
});

test.run();
