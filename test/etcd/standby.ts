/**
 * The standby scenario, shared by test/etcd/standby.test.ts and bench/etcd.ts: two `drover watch
 * --store etcd://...` masters on the sim backend (one state dir for the sim world, one etcd for the
 * store and the lease); the active one is killed with -9 mid-apply; the standby takes over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JobRecord } from '../../src/store/types.ts';
import { drover, sandbox, WatchProcess, type Sandbox } from '../support/watch.ts';

export interface Takeover {
  readonly store: string;
  readonly active: number;
  readonly standby: number;
  readonly killedAt: number;
  /** kill -9 of the active master → the standby's first operation (started or resumed), from the journal. */
  readonly takeoverMs: number;
  /** Journal at the kill (read once the active master was dead). */
  readonly before: readonly JobRecord[];
  /** Machines in flight at the kill: the apply was interrupted mid-way. */
  readonly inFlight: number;
  readonly jobs: readonly JobRecord[];
  /** The standby's output before the kill: it must have done nothing. */
  readonly standbyBefore: string;
  readonly standbyOut: string;
  readonly standbyExit: number;
  /** Operations `drover plan` still wants after the standby's run. */
  readonly planAfter: readonly unknown[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function jobsOf(sb: Sandbox, store: string): JobRecord[] {
  const r = drover(sb, ['jobs', '--json', '--store', store]);
  if (r.code !== 0) throw new Error(`drover jobs: ${r.err}`);
  return (JSON.parse(r.out) as { jobs: JobRecord[] }).jobs;
}

/** `latency`: the sim's per-step latency, so that the apply is long enough to be killed in the middle. */
export async function takeover(etcdUrl: string, latency = '600ms'): Promise<Takeover> {
  const sb = sandbox();
  const store = `${etcdUrl}/standby${process.pid}${Date.now() % 100000}`;
  const cluster = path.join(sb.manifests, 'cluster.yaml');
  fs.writeFileSync(cluster, fs.readFileSync(cluster, 'utf8').replace(/latency: \S+/, `latency: ${latency}`));
  const a = new WatchProcess(sb, ['--store', store]);
  let b: WatchProcess | undefined;
  try {
    await a.waitFor(/Round 1: \d+ operations/, 20_000);
    b = new WatchProcess(sb, ['--store', store]);
    await sleep(1500); // steps persisted, none of the operations finished
    const standbyBefore = b.log;
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await a.exited;
    const before = jobsOf(sb, store);
    const flying = before.filter((j) => j.result === 'running').length;
    await b.waitFor(/Run 1 \(start\)[^\n]*\n/, 40_000);
    const jobs = jobsOf(sb, store);
    const standby = b.child.pid!;
    const firsts = jobs.filter((j) => j.master?.pid === standby).map((j) => j.resumedAt ?? j.start);
    const planAfter = JSON.parse(drover(sb, ['plan', sb.manifests, '--json', '--store', store]).out).operations as unknown[];
    const standbyExit = await b.stop('SIGTERM');
    return {
      store, active: a.child.pid!, standby, killedAt, takeoverMs: Math.min(...firsts) - killedAt, before, inFlight: flying,
      jobs, standbyBefore, standbyOut: b.log, standbyExit, planAfter,
    };
  } finally {
    a.child.kill('SIGKILL');
    b?.child.kill('SIGKILL');
    await Promise.all([a.exited, b?.exited]);
    fs.rmSync(sb.dir, { recursive: true, force: true });
  }
}
