/**
 * One round: write some data, save this round's chaos into motion while `drover apply` runs (restarting
 * killed masters), poll the nodes for double runs, converge with a last apply, then gather the facts and
 * check the invariants. State goes in as a RoundInput and comes out as a RoundOutcome.
 */
import type { Backend } from './backends.ts';
import { describeEvent, planChaos, type Chaos, type ChaosEvent } from './chaos.ts';
import { settle, writeManifests, type Inst } from './cluster.ts';
import { cliJson, finished, type JobJson, type Master, type MasterExit, type Masters, type PlanJson, type StatusJson } from './drover.ts';
import { check, failoverMs, roundStats, type DataSeen, type Facts, type MasterKill, type Poll, type Timeline, type Written } from './invariants.ts';

export interface SoakContext {
  readonly backend: Backend;
  readonly masters: Masters;
  readonly manifests: string;
  readonly stateDir: string;
  readonly rand: () => number;
}

export interface RoundInput {
  readonly round: number;
  readonly insts: readonly Inst[];
  /** instance → what its disk held after the previous round (replica, or primary for plain) */
  readonly floors: ReadonlyMap<string, DataSeen>;
  /** How long an apply with work to do takes (a moving average): when to aim the master kills. */
  readonly busyMs: number;
}

export interface RoundOutcome extends RoundInput {
  readonly violations: readonly string[];
  readonly masterKills: number;
  readonly nodeKills: number;
  readonly edits: number;
  readonly failoverMs?: number;
  /** The round's lines for the log. */
  readonly lines: readonly string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const status = (c: SoakContext): Promise<StatusJson> => cliJson<StatusJson>(['status', c.manifests, '--state-dir', c.stateDir]);
export const save = (c: SoakContext, insts: readonly Inst[]): void => writeManifests(c.manifests, c.backend, insts);

/** The moving average of busy applies, after these samples. */
export const busyAfter = (busyMs: number, samples: readonly number[]): number => samples.reduce((b, ms) => Math.round(0.7 * b + 0.3 * ms), busyMs);

export async function runRound(c: SoakContext, input: RoundInput): Promise<RoundOutcome> {
  const rs = Date.now();
  const before = await status(c);
  const placed = new Map(before.instances.map((i) => [i.name, i]));
  const written = await writeSome(c, input.insts, placed, input.round);
  const settled = settle(input.insts);
  const floors = new Map([...input.floors].filter(([name]) => settled.some((i) => i.name === name)));
  const chaos = planChaos({ rand: c.rand, round: input.round, insts: settled, placed, memories: c.backend.memories, busyMs: input.busyMs });
  const insts = chaos.rolling?.insts ?? settled; // a rolling round's change is there before its first master starts
  save(c, insts);
  const run = await carryOut(c, chaos, rs, insts);
  const problems = [...run.problems];
  const notes = [...(chaos.rolling ? [`rolling update of ${chaos.rolling.group}`] : []), ...run.notes];
  let stats: ReturnType<typeof roundStats> | undefined;
  if (run.final.code === 0) {
    const facts = await gather(c, run.insts, floors, written, { kills: run.kills, polls: run.polls, roundStart: rs });
    problems.push(...check(facts).map((x) => x.message));
    stats = roundStats(facts);
    notes.push(`${stats.resumed} jobs resumed, ${stats.failed.length} failed (retried), ${stats.dataChecked} disks checked`);
  } else {
    const f = finished(run.final);
    problems.push(`final apply exited ${run.final.code}: ${[...f.failed, ...f.waiting, ...run.final.stderr.trim().split('\n').slice(-3)].slice(-5).join(' | ')}`);
  }
  const victimPrimaries = chaos.victim ? before.instances.filter((i) => i.primary === chaos.victim && i.state === 'running' && i.secondary).map((i) => i.name) : [];
  const moved = chaos.victim && run.nodeKilledAt !== undefined ? failoverMs(run.polls, run.nodeKilledAt, chaos.victim, victimPrimaries) : undefined;
  const lines = [
    `round ${input.round}: ${((Date.now() - rs) / 1000).toFixed(1)} s, ${notes.join(', ')}; applies ${run.exits.join(',')}; ${run.polls.length} polls; ${problems.length} violations`,
    ...problems.map((b) => `  violation: ${b}`),
    ...(stats?.failed ?? []).map((f) => `  failed job (not a violation: a later apply converged): ${f}`),
  ];
  return {
    round: input.round, insts: run.insts, floors: await readFloors(c, run.insts, floors, input.round), busyMs: busyAfter(input.busyMs, run.busySamples),
    violations: problems.map((b) => `round ${input.round}: ${b}`), lines,
    masterKills: run.kills.length, nodeKills: run.nodeKills, edits: run.edits, ...(moved !== undefined && { failoverMs: moved }),
  };
}

/** Data written before the chaos: lost only if a failover beats the next sync (asynchronous replication). */
async function writeSome(c: SoakContext, insts: readonly Inst[], placed: ReadonlyMap<string, StatusJson['instances'][number]>, round: number): Promise<Omit<Written, 'seen'>[]> {
  const writable = insts.filter((i) => i.state === 'running' && placed.get(i.name)?.primary);
  const out: Omit<Written, 'seen'>[] = [];
  for (let k = 0; k < 3 && writable.length; k++) {
    const i = writable.splice(Math.floor(c.rand() * writable.length), 1)[0]!;
    const at = Date.now();
    out.push({ instance: i.name, at, data: await c.backend.write(placed.get(i.name)!.primary!, i.name, round) });
  }
  return out;
}

interface Run {
  /** The manifests as the chaos left them. */
  readonly insts: readonly Inst[];
  readonly kills: readonly MasterKill[];
  readonly exits: readonly string[];
  readonly polls: readonly Poll[];
  readonly final: MasterExit;
  readonly busySamples: readonly number[];
  readonly nodeKills: number;
  readonly nodeKilledAt?: number;
  readonly edits: number;
  readonly notes: readonly string[];
  readonly problems: readonly string[];
}

/** The chaos, while a master runs: at each moment act; a killed master is replaced; then converge. */
async function carryOut(c: SoakContext, chaos: Chaos, rs: number, settled: readonly Inst[]): Promise<Run> {
  const seat = new Seat(c.masters);
  const watcher = watchRunning(c.backend);
  seat.start(chaos.failAt);
  let insts = settled;
  let nodeKills = 0, edits = 0, nodeKilledAt: number | undefined;
  const notes: string[] = [];
  const problems: string[] = [];
  const act = async (e: ChaosEvent): Promise<void> => {
    switch (e.kind) {
      case 'kill-master': if (!(await seat.kill(e.restartAfterMs))) notes.push('kill: no master'); return;
      case 'kill-node': await c.backend.killNode(e.node); nodeKills++; nodeKilledAt = Date.now(); return;
      case 'restore-node': await c.backend.restoreNode(e.node); return;
      case 'edit': save(c, e.insts); insts = e.insts; edits += e.edits.length; return;
    }
  };
  for (const e of chaos.events) {
    const wait = rs + e.at - Date.now();
    if (wait > 0) await sleep(wait);
    await act(e).catch((err) => problems.push(`${describeEvent(e)}: ${(err as Error).message.split('\n')[0]}`));
    notes.push(`${describeEvent(e)}@${Math.round(e.at)}`);
  }
  // the chaos is over: the master in flight finishes, then a last apply runs to completion
  await seat.settle();
  if (seat.selfKills) notes.push(`${seat.selfKills} self-kill at batch ${chaos.failAt}`);
  let final = await seat.runToEnd();
  for (let k = 1; k < 4 && final.code !== 0; k++) final = await seat.runToEnd();
  const polls = await watcher.stop();
  return {
    insts, kills: seat.kills, exits: seat.exits, polls, final, busySamples: seat.busySamples,
    nodeKills, ...(nodeKilledAt !== undefined && { nodeKilledAt }), edits, notes, problems,
  };
}

/** The master's seat: one apply at a time, replaced when it kills itself while the chaos lasts. */
class Seat {
  readonly kills: MasterKill[] = [];
  readonly exits: string[] = [];
  readonly busySamples: number[] = [];
  selfKills = 0;
  private current: Master | undefined;
  private ended: Promise<MasterExit> | undefined;
  private chaos = true;
  private readonly ours = new Set<number>();
  constructor(private readonly masters: Masters) {}

  start(failAt?: number): void {
    const m = this.masters.start(failAt);
    this.current = m;
    this.ended = m.done.then((r) => this.exited(m, r, failAt));
  }

  private exited(m: Master, r: MasterExit, failAt: number | undefined): MasterExit {
    const self = r.signal === 'SIGKILL' && !this.ours.has(m.pid);
    this.exits.push(r.signal ? `${r.signal}${failAt && self ? `@batch${failAt}` : ''}` : String(r.code));
    if (!r.signal && finished(r).succeeded > 0) this.busySamples.push(r.ms);
    if (this.current === m) this.current = undefined;
    if (self) {
      this.kills.push({ at: Date.now(), pid: m.pid });
      this.selfKills++;
      if (this.chaos) this.start();
    }
    return r;
  }

  /** SIGKILL the master (false: none was running), then start the next one after a pause. */
  async kill(restartAfterMs: number): Promise<boolean> {
    const m = this.current;
    if (m) {
      this.kills.push({ at: Date.now(), pid: m.pid });
      this.ours.add(m.pid);
      process.kill(m.pid, 'SIGKILL');
      await this.ended;
    }
    await sleep(restartAfterMs);
    this.start();
    return !!m;
  }

  /** No more restarts: wait for the master in flight. */
  async settle(): Promise<void> {
    this.chaos = false;
    while (this.current) await this.ended;
  }

  async runToEnd(): Promise<MasterExit> {
    this.start();
    return this.ended!;
  }
}

/** Polls the running copies every ~200 ms until stopped. */
function watchRunning(backend: Backend): { stop(): Promise<Poll[]> } {
  const polls: Poll[] = [];
  let watching = true;
  const loop = (async () => {
    while (watching) {
      const running = await backend.running().catch(() => undefined);
      if (running) polls.push({ at: Date.now(), running });
      await sleep(200);
    }
  })();
  return { stop: async () => { watching = false; await loop; return polls; } };
}

const readOr = (c: SoakContext, node: string, instance: string): Promise<DataSeen> =>
  c.backend.read(node, instance).catch((e) => ({ kind: 'unreadable', error: (e as Error).message }));

/** Everything the invariants look at, after the final apply converged. */
export async function gather(c: SoakContext, insts: readonly Inst[], floors: ReadonlyMap<string, DataSeen>, written: readonly Omit<Written, 'seen'>[],
  during: Timeline): Promise<Facts> {
  const [probe, st, plan, jobs] = await Promise.all([
    c.backend.probe(),
    status(c),
    cliJson<PlanJson>(['plan', c.manifests, '--state-dir', c.stateDir]),
    cliJson<{ jobs: JobJson[] }>(['jobs', '--state-dir', c.stateDir]),
  ]);
  const now = Date.now();
  const where = new Map(st.instances.filter((i) => insts.some((x) => x.name === i.name && x.state !== 'absent')).map((i) => [i.name, i]));
  const floorReads = await Promise.all([...floors].flatMap(([instance, floor]) => {
    const node = where.get(instance)?.primary;
    return node ? [readOr(c, node, instance).then((seen) => ({ instance, node, floor, now: seen }))] : [];
  }));
  const writtenReads = await Promise.all(written.flatMap((w) => {
    const s = where.get(w.instance);
    if (!s?.primary || !s.secondary) return [];
    const nodes = [s.primary, s.secondary];
    return [Promise.all(nodes.map(async (node) => ({ node, data: await readOr(c, node, w.instance) }))).then((seen) => ({ ...w, seen }))];
  }));
  return {
    wanted: insts, probe, status: st, plan, jobs: jobs.jobs, ...during, now,
    floors: floorReads, written: writtenReads,
  };
}

/** What each (sampled) instance's replica holds now: next round's floors. */
export async function readFloors(c: SoakContext, insts: readonly Inst[], floors: ReadonlyMap<string, DataSeen>, round: number): Promise<Map<string, DataSeen>> {
  const next = new Map(floors);
  let st: StatusJson;
  try { st = await status(c); } catch { return next; }
  const sample = st.instances.filter((i) => insts.some((x) => x.name === i.name && x.state !== 'absent'));
  const chosen = Number.isFinite(c.backend.dataSample)
    ? sample.filter((_, k) => (k + round) % Math.ceil(sample.length / c.backend.dataSample) === 0) : sample;
  for (const i of sample) if (!chosen.includes(i)) next.delete(i.name);
  for (const i of chosen) {
    const where = i.secondary ?? i.primary;
    if (!where) continue;
    try { next.set(i.name, await c.backend.read(where, i.name)); } catch { next.delete(i.name); }
  }
  return next;
}
