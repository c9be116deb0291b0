/**
 * Two masters against one etcd: only one acts; kill -9 the active one mid-apply; the standby takes
 * over within the lease time, resumes the machines, converges; the journal shows they never acted
 * at once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import type { JobRecord } from '../../src/store/types.ts';
import { drover, sandbox, WatchProcess } from '../support/watch.ts';
import { startEtcd, type Etcd } from './helpers.ts';
import { takeover } from './standby.ts';

let etcd: Etcd;
test.before(async () => { etcd = await startEtcd(); });
test.after(async () => { await etcd?.stop(); });

/** The pid that ran each part of a job: the id names its first master; `master` the last. */
function intervals(j: JobRecord, killedAt: number): { pid: number; from: number; to: number }[] {
  const first = parseInt(j.id.split('-')[2]!, 36);
  const end = j.end ?? Infinity;
  if (!j.resumedAt) return [{ pid: j.master!.pid, from: j.start, to: end }];
  return [{ pid: first, from: j.start, to: killedAt }, { pid: j.master!.pid, from: j.resumedAt, to: end }];
}

test('kill -9 the active master mid-apply: the standby takes over within the lease time and converges', async () => {
  const t = await takeover(etcd.url);
  // Only one acted before the kill: every job was the active master's; the standby said nothing.
  assert.ok(t.before.length > 0 && t.before.every((j) => j.master?.pid === t.active), 'all jobs before the kill are the active master\'s');
  assert.ok(t.inFlight > 0, `the apply was interrupted mid-way (${t.inFlight} operations running)`);
  assert.not.match(t.standbyBefore, /Run \d|Round \d|Watching/, 'the standby waited');
  // Takeover: the lease expires in etcd (TTL 15 s, renewed every 5 s), the standby resumes at once.
  assert.ok(t.takeoverMs > 0 && t.takeoverMs < 17_000, `takeover in ${t.takeoverMs} ms`);
  const resumed = t.jobs.filter((j) => j.resumed);
  assert.ok(resumed.length >= t.inFlight, `resumed ${resumed.length} of ${t.inFlight} jobs in flight`);
  assert.ok(resumed.every((j) => j.master?.pid === t.standby && j.result === 'succeeded'));
  assert.match(t.standbyOut, /resuming \w+ \S+ \(interrupted by a previous master\)/);
  // Converged: nothing running, nothing failed, nothing left to plan.
  assert.equal(t.jobs.filter((j) => j.result !== 'succeeded').map((j) => `${j.type} ${j.instance} ${j.result}`), []);
  assert.equal(t.planAfter, []);
  assert.is(t.standbyExit, 0);
  // Never at once: per instance, every part the active master ran ended before the standby's began.
  const byInstance = new Map<string, ReturnType<typeof intervals>>();
  for (const j of t.jobs) byInstance.set(j.instance, [...byInstance.get(j.instance) ?? [], ...intervals(j, t.killedAt)]);
  for (const [instance, parts] of byInstance) {
    const lastActive = Math.max(...parts.filter((p) => p.pid === t.active).map((p) => p.to));
    const firstStandby = Math.min(...parts.filter((p) => p.pid === t.standby).map((p) => p.from));
    assert.ok(lastActive <= t.killedAt && firstStandby >= t.killedAt, `${instance}: active until ${lastActive - t.killedAt} ms, standby from ${firstStandby - t.killedAt} ms (relative to the kill)`);
  }
  console.log(`    takeover: ${(t.takeoverMs / 1000).toFixed(1)} s from kill -9 to the standby's first operation; ${resumed.length} resumed`);
});

test('a master whose lease is broken stops at once: exit 1, with the reason', async () => {
  const sb = sandbox();
  const store = `${etcd.url}/broken`;
  const w = new WatchProcess(sb, ['--store', store]);
  try {
    await w.waitFor(/Run 1 \(start\)/, 20_000);
    assert.match(drover(sb, ['lock', 'status', '--store', store]).out, new RegExp(`Held by pid ${w.child.pid} `));
    const t0 = Date.now();
    assert.is(drover(sb, ['lock', 'break', '--store', store]).code, 0);
    assert.is(await w.exited, 1);
    assert.ok(Date.now() - t0 < 7000, 'within a keep-alive period');
    assert.match(w.err, /drover: lost the cluster lease: .*Stopping now so that two masters never act at once/);
  } finally {
    w.child.kill('SIGKILL');
    fs.rmSync(sb.dir, { recursive: true, force: true });
  }
});

test.run();
