/**
 * The soak's invariants (scripts/soak/invariants.ts) on hand-made facts, no engine: a converged cluster
 * passes, and what each bug the soak was built to catch leaves behind is caught — a fence that does nothing
 * (two running copies), a resume that is not marked (a job across a kill without `resumed`), a sync that
 * copies nothing (data written before a sync missing on the replica; a replica's data gone after failover).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Inst } from '../../scripts/soak/cluster.ts';
import { edit, rollGroup, settle } from '../../scripts/soak/cluster.ts';
import { planChaos } from '../../scripts/soak/chaos.ts';
import type { JobJson, PlanOpJson, StatusInstance } from '../../scripts/soak/drover.ts';
import {
  budget, check, convergence, covers, data, doubleRun, failoverMs, journal, mostAtOnce, placement, replica, roundStats,
  type ContainerSeen, type DataSeen, type Facts, type VolumesSeen,
} from '../../scripts/soak/invariants.ts';
import { rng } from '../support/rng.ts';

const T = 1_000_000; // the round's start
const ver = (version: number): DataSeen => ({ kind: 'version', version });

/** Two replicated instances (a on node1→node2, b on node3→node4) and a plain one (p on node2), all converged. */
function converged(): Facts {
  const wanted: Inst[] = [
    { name: 'a', template: 'replicated', state: 'running', memory: '512M' },
    { name: 'b', template: 'replicated', state: 'stopped', memory: '512M' },
    { name: 'p', template: 'plain', state: 'running', memory: '512M' },
  ];
  const instances: StatusInstance[] = [
    { name: 'a', state: 'running', primary: 'node1', secondary: 'node2', degraded: false, recoveryPoint: T + 9000 },
    { name: 'b', state: 'stopped', primary: 'node3', secondary: 'node4', degraded: false, recoveryPoint: T + 9000 },
    { name: 'p', state: 'running', primary: 'node2', degraded: false },
  ];
  const containers = new Map<string, ContainerSeen[]>([['a', [{ node: 'node1', running: true }]], ['b', [{ node: 'node3', running: false }]], ['p', [{ node: 'node2', running: true }]]]);
  const volumes = new Map<string, VolumesSeen[]>([
    ['a', [{ node: 'node1', role: 'primary' }, { node: 'node2', role: 'replica' }]],
    ['b', [{ node: 'node3', role: 'primary' }, { node: 'node4', role: 'replica' }]],
    ['p', [{ node: 'node2', role: 'primary' }]],
  ]);
  return {
    wanted,
    probe: { healthy: new Map(['node1', 'node2', 'node3', 'node4'].map((n) => [n, true])), containers, volumes },
    status: { nodes: ['node1', 'node2', 'node3', 'node4'].map((name) => ({ name, health: 'up' })), instances },
    plan: { operations: [], warnings: [], errors: [], pending: [] },
    jobs: [job({ id: 'j1', type: 'SyncDisks', instance: 'a', start: T + 8000, end: T + 9000 })],
    polls: [{ at: T + 100, running: new Map([['a', ['node1']], ['p', ['node2']]]) }, { at: T + 300, running: new Map([['a', ['node1']], ['p', ['node2']]]) }],
    kills: [],
    roundStart: T,
    now: T + 10_000,
    floors: [{ instance: 'a', node: 'node1', floor: ver(4), now: ver(5) }],
    written: [{ instance: 'a', at: T + 10, data: ver(5), seen: [{ node: 'node1', data: ver(5) }, { node: 'node2', data: ver(5) }] }],
  };
}

function job(j: Partial<JobJson> & Pick<JobJson, 'id' | 'type' | 'instance' | 'start'>): JobJson {
  return { result: 'succeeded', master: { pid: 100 }, ...j };
}


test('a converged round breaks no invariant', () => {
  assert.equal(check(converged()), []);
  assert.equal(roundStats(converged()), { resumed: 0, failed: [], dataChecked: 2 });
});

test('a fence that does nothing: the old primary still runs its copy beside the failed-over one', () => {
  const f = converged();
  const polls = [...f.polls, { at: T + 2500, running: new Map([['a', ['node1', 'node2']]]) }];
  const v = doubleRun({ ...f, polls });
  assert.equal(v.map((x) => x.message), ['two running copies of a: node1, node2 (t=2500 ms)']);
  // and after the round: two containers where one is wanted
  const containers = new Map(f.probe.containers).set('a', [{ node: 'node1', running: true }, { node: 'node2', running: true }]);
  assert.match(placement({ ...f, probe: { ...f.probe, containers } })[0]!.message, 'a: 2 containers');
});

test('a missing resume mark: a job in flight when its master was killed, finished without `resumed`', () => {
  const f = converged();
  const kills = [{ at: T + 500, pid: 100 }];
  const jobs = [job({ id: 'j2', type: 'CreateInstance', instance: 'a', start: T + 200, end: T + 1500, master: { pid: 101 } })];
  assert.equal(journal({ ...f, kills, jobs }).map((x) => x.message), ['job j2 CreateInstance a was in flight when master 100 was killed, but does not show resumed']);
  assert.equal(journal({ ...f, kills, jobs: [{ ...jobs[0]!, resumed: T + 900 }] }), [], 'marked: fine');
  // a killed master that still ends a job, and a job left running
  const zombie = [job({ id: 'j3', type: 'SyncDisks', instance: 'a', start: T + 600, end: T + 700, master: { pid: 100 } }), job({ id: 'j4', type: 'StartInstance', instance: 'p', start: T + 50, result: 'running' })];
  assert.equal(journal({ ...f, kills, jobs: zombie }).map((x) => x.message), [
    'job j3 SyncDisks a ended (succeeded) by master 100 after it was killed',
    'job j4 StartInstance p left running',
  ]);
});

test('a sync that copies nothing: written before a successful sync, missing on the replica', () => {
  const f = converged();
  const written = [{ instance: 'a', at: T + 10, data: ver(5), seen: [{ node: 'node1', data: ver(5) }, { node: 'node2', data: ver(4) }] }];
  assert.equal(data({ ...f, written }).map((x) => x.message), ['a: written before its last sync, missing on node2: wrote {"kind":"version","version":5}, now {"kind":"version","version":4}']);
  // not a violation when no sync came after the write, or a failover beat it (asynchronous replication)
  assert.equal(data({ ...f, written, jobs: [] }), []);
  const failover = job({ id: 'j0', type: 'FailoverInstance', instance: 'a', start: T + 20, end: T + 300 });
  assert.equal(data({ ...f, written, jobs: [failover, ...f.jobs] }), []);
  // after a failover to an empty replica, what the replica held after the last round is gone
  const floors = [{ instance: 'a', node: 'node2', floor: ver(4), now: ver(0) }];
  assert.match(data({ ...f, floors })[0]!.message, 'a: data lost on node2');
});

test('covers: versions only grow; files must all be there with their contents', () => {
  assert.ok(covers(ver(5), ver(5)) && covers(ver(6), ver(5)) && !covers(ver(4), ver(5)));
  const files = (x: Record<string, string>): DataSeen => ({ kind: 'files', files: x });
  assert.ok(covers(files({ 'r1.txt': 'a', 'r2.txt': 'b' }), files({ 'r1.txt': 'a' })));
  assert.not.ok(covers(files({ 'r1.txt': 'x' }), files({ 'r1.txt': 'a' })));
  assert.not.ok(covers({ kind: 'unreadable', error: 'gone' }, files({ 'r1.txt': 'a' })));
});

test('placement: absent with copies, stopped where running is wanted, unhealthy node, orphans, pins', () => {
  const f = converged();
  const wanted: Inst[] = f.wanted.map((i) => (i.name === 'p' ? { ...i, state: 'absent' } : i.name === 'b' ? { ...i, state: 'running', primary: 'node4' } : i));
  const containers = new Map(f.probe.containers).set('ghost', [{ node: 'node4', running: true }]);
  const healthy = new Map(f.probe.healthy).set('node1', false);
  assert.equal(placement({ ...f, wanted, probe: { ...f.probe, containers, healthy } }).map((x) => x.message), [
    'a: on node1, which is not healthy',
    'b: stopped, manifest says running',
    'b: pinned to node4, on node3',
    'p: absent, but copies on node2, node2',
    'ghost: no manifest, but containers on node4',
  ]);
});

test('replica: degraded, or no replica volume on the secondary', () => {
  const f = converged();
  const instances = f.status.instances.map((i) => (i.name === 'a' ? { ...i, degraded: true } : i));
  const volumes = new Map(f.probe.volumes).set('b', [{ node: 'node3', role: 'primary' }]);
  assert.equal(replica({ ...f, status: { ...f.status, instances }, probe: { ...f.probe, volumes } }).map((x) => x.message), [
    'a: degraded after the final apply',
    'b: no replica on its secondary node4 (node3:primary)',
  ]);
});

test('convergence: a periodic re-sync passes (by its cause); anything else does not', () => {
  const f = converged();
  const sync = (o: Pick<PlanOpJson, 'cause'>): PlanOpJson => ({ type: 'SyncDisks', instance: 'a', secondary: 'node2', reason: 'prose is never read', ...o });
  const plan = (...operations: PlanOpJson[]) => ({ ...f.plan, operations });
  assert.equal(convergence({ ...f, plan: plan(sync({ cause: { kind: 'replica-stale' } })) }), []);
  assert.equal(convergence({ ...f, plan: plan(sync({ cause: { kind: 'replica-missing' } })) }).map((x) => x.message), ['plan after convergence: SyncDisks a (replica-missing)']);
  assert.equal(convergence({ ...f, plan: plan({ type: 'StartInstance', instance: 'a', cause: { kind: 'replica-stale' } }) }).length, 1, 'only a SyncDisks is a re-sync');
  assert.equal(convergence({ ...f, plan: { ...plan(), warnings: ['N+1 broken'] } }).map((x) => x.message), ['plan warnings: N+1 broken']);
});

test('failoverMs: from the node kill to the first poll where all its primaries run elsewhere', () => {
  const polls = [
    { at: T + 100, running: new Map([['a', ['node1']], ['c', ['node1']]]) },
    { at: T + 900, running: new Map([['a', ['node2']], ['c', ['node1']]]) },
    { at: T + 1700, running: new Map([['a', ['node2']], ['c', ['node3']]]) },
  ];
  assert.is(failoverMs(polls, T + 50, 'node1', ['a', 'c']), 1650);
  assert.is(failoverMs(polls.slice(0, 2), T + 50, 'node1', ['a', 'c']), undefined);
});

test('the chaos is decided from the seed alone, and edits never change the instances they are given', () => {
  const insts: Inst[] = Array.from({ length: 10 }, (_, k) => ({ name: `s${k}`, template: 'replicated', state: 'running', memory: '512M' }));
  const placed = new Map(insts.map((i, k) => [i.name, { primary: `node${(k % 4) + 1}`, secondary: `node${((k + 1) % 4) + 1}` }]));
  const input = { round: 3, insts, placed, memories: ['512M', '768M'] as const, busyMs: 2000 };
  const frozen = JSON.stringify(insts);
  assert.equal(planChaos({ ...input, rand: rng(7) }), planChaos({ ...input, rand: rng(7) }));
  for (const kind of ['memory', 'state', 'add', 'remove', 'pin'] as const) edit(insts, kind, { rand: rng(1), round: 3, placed, memories: input.memories });
  assert.is(JSON.stringify(insts), frozen);
  const removed = edit(insts, 'remove', { rand: rng(1), round: 3, placed, memories: input.memories });
  assert.is(settle(removed).length, 9);
  assert.ok(settle(edit(insts, 'pin', { rand: rng(2), round: 3, placed, memories: input.memories })).every((i) => i.primary === undefined));
});

test('budget: two members of a group recreated at once is caught; one after the other, a live migration or a failover is not', () => {
  const f = converged();
  const wanted: Inst[] = [...f.wanted, ...['w1', 'w2', 'w3'].map((name): Inst => ({ name, template: 'replicated', state: 'running', memory: '768M', group: 'g0' }))];
  const jobs = (...js: JobJson[]) => budget({ ...f, wanted, jobs: js }).map((x) => x.message);
  const recreate = (id: string, instance: string, start: number, end?: number) => job({ id, type: 'RecreateInstance', instance, start, ...(end !== undefined && { end }) });
  assert.equal(jobs(recreate('1', 'w1', T + 100, T + 900), recreate('2', 'w2', T + 500, T + 1200)), ['group g0: 2 members down at once (w1, w2 at t=500 ms), budget 1']);
  assert.equal(jobs(recreate('1', 'w1', T + 100, T + 900), recreate('2', 'w2', T + 900, T + 1200), recreate('3', 'w3', T + 1300, T + 1500)), [], 'one after the other');
  // a master killed mid-recreate: the job keeps its start and ends under the next master; w2 after it
  assert.equal(jobs({ ...recreate('1', 'w1', T + 100, T + 2000), resumed: 1 }, recreate('2', 'w2', T + 2100, T + 2500)), []);
  assert.equal(jobs(recreate('1', 'w1', T + 100), recreate('2', 'w2', T + 5000, T + 6000)).length, 1, 'a job never ended is down until now');
  assert.equal(jobs(recreate('1', 'w1', T + 100, T + 900), job({ id: '2', type: 'MigrateInstance', instance: 'w2', start: T + 200, end: T + 800, migration: { path: 'live' } })), []);
  assert.equal(jobs(recreate('1', 'w1', T + 100, T + 900), job({ id: '2', type: 'MigrateInstance', instance: 'w2', start: T + 200, end: T + 800, migration: { path: 'cold' } })).length, 1);
  assert.equal(jobs(recreate('1', 'w1', T + 100, T + 900), job({ id: '2', type: 'FailoverInstance', instance: 'w2', start: T + 200, end: T + 800 })), []);
  assert.equal(jobs(recreate('1', 'a', T + 100, T + 900), recreate('2', 'w2', T + 200, T + 800)), [], 'a is in no group');
  assert.equal(mostAtOnce([]), { count: 0, at: 0, instances: [] });
});

test('a rolling round: every third round changes all running members of one group, killing its master inside the update', () => {
  const insts: Inst[] = [
    { name: 'g1', template: 'replicated', state: 'running', memory: '512M', group: 'web' },
    { name: 'g2', template: 'replicated', state: 'running', memory: '512M', group: 'web' },
    { name: 'g3', template: 'replicated', state: 'stopped', memory: '512M', group: 'web' },
    { name: 'x', template: 'replicated', state: 'running', memory: '512M' },
  ];
  const rolled = rollGroup(insts, rng(1), ['512M', '768M'])!;
  assert.is(rolled.group, 'web');
  assert.equal(rolled.insts.map((i) => i.memory), ['768M', '768M', '512M', '512M'], 'the running members only');
  assert.is(rollGroup(insts.slice(1), rng(1), ['512M', '768M']), undefined, 'no group with two running members');
  const input = { insts, placed: new Map(), memories: ['512M', '768M'] as const, busyMs: 2000 };
  const chaos = planChaos({ ...input, round: 5, rand: rng(3) });
  assert.equal(chaos.rolling, { group: 'web', insts: rolled.insts });
  assert.ok(chaos.failAt !== undefined && chaos.failAt >= 2 && chaos.failAt < 8, 'killed at an early durable batch');
  assert.ok(chaos.events.every((e) => e.kind === 'kill-master'), 'nothing else happens in a rolling round');
  assert.is(planChaos({ ...input, round: 4, rand: rng(3) }).rolling, undefined);
});

test.run();
