/**
 * Rolling updates on the quick-start cluster (manifests/: web1 and web2 share antiAffinity "web"):
 * two waves in the plan, the second started only once the first runs again, a failing health check
 * stops the update (exit 1, web2 untouched), a dead node's members fail over whatever the budget,
 * and a master SIGKILLed mid-update never starts the second member early.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { drover, droverJson, ROOT, runDrover, spawnDrover } from '../support/cli.ts';
import { cleanupTemps, tempDir } from '../support/tmp.ts';

test.after(cleanupTemps);

interface Event { type: string; id?: string; instance?: string; step?: string; resumed?: boolean; result?: string; error?: string; op?: { type: string; instance: string } }

/** The quick start in a temp dir, with short latencies, applied once. */
async function quickStart(latency = '10ms'): Promise<{ manifests: string; state: string }> {
  const manifests = path.join(tempDir('drover-budgets-'), 'manifests');
  fs.cpSync(path.join(ROOT, 'manifests'), manifests, { recursive: true });
  edit(path.join(manifests, 'cluster.yaml'), [['latency: 150ms', `latency: ${latency}`], ['nodeDownAfter: 5s', 'nodeDownAfter: 1s']]);
  const state = tempDir('drover-budgets-state-');
  const r = await drover(['apply', manifests, '--yes', '--state-dir', state]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  return { manifests, state };
}

function edit(file: string, swaps: readonly (readonly [string, string])[]): void {
  let s = fs.readFileSync(file, 'utf8');
  for (const [from, to] of swaps) {
    assert.ok(s.includes(from), `${file} holds ${from}`);
    s = s.split(from).join(to);
  }
  fs.writeFileSync(file, s);
}

const webFile = (m: string) => path.join(m, 'instances/web.yaml');
const newMemory = (m: string) => edit(webFile(m), [['memory: 1G', 'memory: 768M']]);
const withHealth = (m: string) => edit(webFile(m), [['antiAffinity: [web]', 'antiAffinity: [web]\n  health: { exec: [wget, -q, -O-, "http://127.0.0.1/"], interval: 20ms, retries: 2 }']]);
const events = (stdout: string): Event[] => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
const of = (es: readonly Event[], instance: string) => es.filter((e) => (e.instance ?? e.op?.instance) === instance);

test('plan: changing memory of both web instances gives two waves (text, JSON wave, markdown)', async () => {
  const { manifests, state } = await quickStart();
  newMemory(manifests);
  const text = await drover(['plan', manifests, '--state-dir', state]);
  assert.is(text.code, 0);
  assert.match(text.stdout, /RecreateInstance\s+web1 .*\[wave 1\]/);
  assert.match(text.stdout, /RecreateInstance\s+web2 .*\[wave 2\]/);
  assert.match(text.stdout, /wave 1: web1\n\s+wave 2: web2 \(after wave 1 runs again/);
  const json = await droverJson<{ operations: { type: string; instance: string; wave?: number }[]; pending: { instance: string; cause: { kind: string } }[] }>(['plan', manifests, '--json', '--state-dir', state]);
  assert.equal(json.operations.map((o) => [o.instance, o.wave]), [['web1', 1], ['web2', 2]]);
  assert.equal(json.pending.map((x) => [x.instance, x.cause.kind]), [['web2', 'disruption-budget']]);
  const md = await drover(['plan', manifests, '--format', 'markdown', '--state-dir', state]);
  assert.match(md.stdout, /\| RecreateInstance \| `web2` \| .* \| 2 \|/);
});

test('apply --json: web2\'s first step comes after web1 runs again', async () => {
  const { manifests, state } = await quickStart();
  newMemory(manifests);
  const r = await drover(['apply', manifests, '--yes', '--json', '--state-dir', state]);
  assert.is(r.code, 0, r.stderr);
  const es = events(r.stdout);
  const web1Done = es.findIndex((e) => e.type === 'operation-finished' && e.op?.instance === 'web1' && e.result === 'succeeded');
  const web2First = es.findIndex((e) => (e.instance ?? e.op?.instance) === 'web2');
  assert.ok(web1Done >= 0 && web2First > web1Done, `web1 finished at #${web1Done}, web2 began at #${web2First}`);
  assert.equal(es.filter((e) => e.type === 'round').length, 2, 'one round per wave');
  const plan = await droverJson<{ operations: unknown[] }>(['plan', manifests, '--json', '--state-dir', state]);
  assert.equal(plan.operations, [], 'converged');
});

test('a new copy that never becomes healthy stops the update: exit 1, the check\'s output, web2 untouched', async () => {
  const { manifests, state } = await quickStart();
  withHealth(manifests);
  assert.is((await drover(['apply', manifests, '--yes', '--state-dir', state])).code, 0, 'adding a check changes no container');
  newMemory(manifests);
  assert.is((await drover(['sim', 'unhealthy', 'web1', '--state-dir', state])).code, 0);
  const r = await drover(['apply', manifests, '--yes', '--json', '--state-dir', state]);
  assert.is(r.code, 1, r.stdout);
  const es = events(r.stdout);
  const failed = es.find((e) => e.type === 'operation-finished' && e.result === 'failed');
  assert.is(failed?.op?.instance, 'web1');
  assert.match(failed?.error ?? '', /web1: unhealthy on node\d after 2 failed health checks: wget -q -O- http:\/\/127\.0\.0\.1\/: failed/);
  assert.equal(of(es, 'web2'), [], 'web2 untouched');
  const status = await droverJson<{ instances: { name: string; health?: { ok: boolean; output: string } }[] }>(['status', manifests, '--json', '--state-dir', state]);
  assert.is(status.instances.find((i) => i.name === 'web1')?.health?.ok, false);
  assert.is(status.instances.find((i) => i.name === 'web2')?.health?.ok, true);
  // healthy again: the next apply carries the update on to web2
  await drover(['sim', 'healthy', 'web1', '--state-dir', state]);
  const next = await drover(['apply', manifests, '--yes', '--json', '--state-dir', state]);
  assert.is(next.code, 0, next.stdout);
  assert.equal(events(next.stdout).filter((e) => e.type === 'operation-started').map((e) => e.op?.instance), ['web2']);
});

test('a dead node\'s instances fail over whatever the budget, and the rolling update goes on after', async () => {
  const { manifests, state } = await quickStart();
  const status = await droverJson<{ instances: { name: string; primary: string }[] }>(['status', manifests, '--json', '--state-dir', state]);
  const node = status.instances.find((i) => i.name === 'web1')!.primary;
  newMemory(manifests);
  await drover(['sim', 'fail-node', node, '--state-dir', state]);
  const r = await drover(['apply', manifests, '--yes', '--json', '--state-dir', state]);
  assert.ok(r.code === 0 || r.code === 3, r.stdout + r.stderr); // 3: a plain instance of the dead node is lost until it returns
  const started = events(r.stdout).filter((e) => e.type === 'operation-started').map((e) => `${e.op?.type} ${e.op?.instance}`);
  const failovers = started.filter((s) => s.startsWith('FailoverInstance'));
  assert.ok(failovers.includes('FailoverInstance web1'), started.join(', '));
  assert.ok(started.indexOf('RecreateInstance web2') > started.indexOf('FailoverInstance web1'), 'web2 waits for web1 to run again');
  const plan = await droverJson<{ operations: { instance: string }[]; pending: { instance: string }[] }>(['plan', manifests, '--json', '--state-dir', state]);
  assert.equal([...plan.operations, ...plan.pending].filter((x) => x.instance.startsWith('web')), [], 'both web instances converged');
});

test('a master SIGKILLed mid-update resumes web1 first; web2 starts only after web1 runs again', async () => {
  const { manifests, state } = await quickStart('150ms');
  newMemory(manifests);
  const first = spawnDrover(['apply', manifests, '--yes', '--json', '--state-dir', state]);
  let out = '';
  await new Promise<void>((resolve) => {
    first.child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (/"step":"createDisks"/.test(out)) { first.child.kill('SIGKILL'); resolve(); }
    });
  });
  const killed = await first.done;
  assert.is(killed.signal, 'SIGKILL');
  assert.equal(of(events(killed.stdout), 'web2'), [], 'killed while web1 was down');
  const second = await runDrover(['apply', manifests, '--yes', '--json', '--state-dir', state]);
  assert.is(second.code, 0, second.stderr);
  const es = events(second.stdout);
  const started = es.filter((e) => e.type === 'operation-started');
  assert.equal(started.map((e) => [e.op?.instance, e.resumed]), [['web1', true], ['web2', false]]);
  const web1Done = es.findIndex((e) => e.type === 'operation-finished' && e.op?.instance === 'web1');
  assert.ok(es.indexOf(started[1]!) > web1Done);
});

test.run();
