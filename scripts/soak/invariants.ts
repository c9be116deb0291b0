/**
 * The soak's invariants, each a pure function of the facts a round gathered (the nodes seen directly,
 * drover's --json output, the moments the masters were killed, the data read back). No I/O here: the
 * unit tests (test/invariants) feed them hand-made facts, among them what each bug the soak was built to
 * catch leaves behind (a fence that does nothing, a resume that is not marked, a sync that copies nothing).
 */
import { MAX_UNAVAILABLE, type Inst } from './cluster.ts';
import type { JobJson, PlanJson, PlanOpJson, StatusInstance, StatusJson } from './drover.ts';

/** An instance's container on a node, running or not. */
export interface ContainerSeen { readonly node: string; readonly running: boolean }
/** An instance's volumes on a node, with their role (primary, replica). */
export interface VolumesSeen { readonly node: string; readonly role: string }

/** What the nodes hold, seen directly. */
export interface Probe {
  /** node → reachable and not powered off */
  readonly healthy: ReadonlyMap<string, boolean>;
  readonly containers: ReadonlyMap<string, readonly ContainerSeen[]>;
  readonly volumes: ReadonlyMap<string, readonly VolumesSeen[]>;
}

/** instance → the nodes it runs on. */
export type Running = ReadonlyMap<string, readonly string[]>;
/** One look at the running copies during the chaos. */
export interface Poll { readonly at: number; readonly running: Running }

/** What an instance's disk holds: the sim's data version, or the files on a Docker volume. */
export type DataSeen =
  | { readonly kind: 'version'; readonly version: number }
  | { readonly kind: 'files'; readonly files: Readonly<Record<string, string>> }
  | { readonly kind: 'unreadable'; readonly error: string };

/** `now` still holds everything `floor` held. */
export function covers(now: DataSeen, floor: DataSeen): boolean {
  if (floor.kind === 'version') return now.kind === 'version' && now.version >= floor.version;
  if (floor.kind === 'files') return now.kind === 'files' && Object.entries(floor.files).every(([k, v]) => now.files[k] === v);
  return true; // nothing known to compare with
}

export interface MasterKill { readonly at: number; readonly pid: number }

/** What a replica held after the previous round, and what the primary holds now. */
export interface FloorRead { readonly instance: string; readonly node: string; readonly floor: DataSeen; readonly now: DataSeen }

/** Data written before the chaos, and what each of the instance's nodes holds after the round. */
export interface Written { readonly instance: string; readonly at: number; readonly data: DataSeen; readonly seen: readonly { readonly node: string; readonly data: DataSeen }[] }

/** What happened while the chaos lasted. */
export interface Timeline {
  /** The polls of the running copies. */
  readonly polls: readonly Poll[];
  readonly kills: readonly MasterKill[];
  readonly roundStart: number;
}

/** What drover says about the cluster, through its --json output. */
export interface Said { readonly status: StatusJson; readonly plan: PlanJson; readonly jobs: readonly JobJson[] }

export interface Facts extends Timeline, Said {
  readonly wanted: readonly Inst[];
  readonly probe: Probe;
  /** When the facts were gathered (after plan and status ran). */
  readonly now: number;
  readonly floors: readonly FloorRead[];
  readonly written: readonly Written[];
}

/** The seven invariants (see index.ts). */
export type Invariant = 'placement' | 'double-run' | 'replica' | 'data' | 'convergence' | 'journal' | 'budget';
export interface Violation { readonly invariant: Invariant; readonly message: string }

const byName = (f: Facts): ReadonlyMap<string, StatusInstance> => new Map(f.status.instances.map((i) => [i.name, i]));
const live = (f: Facts): Inst[] => f.wanted.filter((i) => i.state !== 'absent');
const v = (invariant: Invariant) => (message: string): Violation => ({ invariant, message });
const nodesOf = (cs: readonly { readonly node: string }[]) => cs.map((c) => c.node).join(', ');

/** 1. Every wanted instance exactly once, where status says, on a healthy node, as its manifest says; nothing else. */
export function placement(f: Facts): Violation[] {
  const bad = v('placement');
  const st = byName(f);
  const nodeUp = new Map(f.status.nodes.map((n) => [n.name, n.health === 'up']));
  const out: Violation[] = [];
  for (const i of f.wanted) {
    const cs = f.probe.containers.get(i.name) ?? [];
    const vs = f.probe.volumes.get(i.name) ?? [];
    if (i.state === 'absent') {
      if (cs.length || vs.length) out.push(bad(`${i.name}: absent, but copies on ${nodesOf([...cs, ...vs])}`));
      continue;
    }
    const s = st.get(i.name);
    if (!s?.primary) { out.push(bad(`${i.name}: not placed (status ${s?.state ?? 'missing'})`)); continue; }
    if (cs.length !== 1) { out.push(bad(`${i.name}: ${cs.length} containers (${cs.map((c) => `${c.node}${c.running ? '' : ' stopped'}`).join(', ')}), wanted one on ${s.primary}`)); continue; }
    const c = cs[0]!;
    if (c.node !== s.primary) out.push(bad(`${i.name}: container on ${c.node}, status says ${s.primary}`));
    if (!f.probe.healthy.get(c.node) || !nodeUp.get(c.node)) out.push(bad(`${i.name}: on ${c.node}, which is not healthy`));
    if (c.running !== (i.state === 'running')) out.push(bad(`${i.name}: ${c.running ? 'running' : 'stopped'}, manifest says ${i.state}`));
    if (i.primary && s.primary !== i.primary) out.push(bad(`${i.name}: pinned to ${i.primary}, on ${s.primary}`));
    if (!vs.some((x) => x.node === s.primary)) out.push(bad(`${i.name}: no volumes on its primary ${s.primary}`));
    const stray = vs.filter((x) => x.node !== s.primary && x.node !== s.secondary);
    if (stray.length) out.push(bad(`${i.name}: stray volumes on ${nodesOf(stray)}`));
  }
  const known = new Set(f.wanted.map((i) => i.name));
  for (const [inst, cs] of f.probe.containers) if (!known.has(inst)) out.push(bad(`${inst}: no manifest, but containers on ${nodesOf(cs)}`));
  for (const [inst, vs] of f.probe.volumes) if (!known.has(inst)) out.push(bad(`${inst}: no manifest, but volumes on ${nodesOf(vs)}`));
  return out;
}

/** 2. Never two running copies of an instance, at any poll. */
export function doubleRun(f: Pick<Facts, 'polls' | 'roundStart'>): Violation[] {
  return f.polls.flatMap((p) => [...p.running]
    .filter(([, ns]) => ns.length > 1)
    .map(([inst, ns]) => v('double-run')(`two running copies of ${inst}: ${ns.join(', ')} (t=${p.at - f.roundStart} ms)`)));
}

/** 3. A replicated instance's replica is on its secondary, and not degraded. */
export function replica(f: Facts): Violation[] {
  const bad = v('replica');
  const st = byName(f);
  return live(f).filter((i) => i.template === 'replicated').flatMap((i) => {
    const s = st.get(i.name);
    if (!s?.primary) return []; // placement says so
    const vs = f.probe.volumes.get(i.name) ?? [];
    const out: Violation[] = [];
    if (!s.secondary || s.secondary === s.primary) out.push(bad(`${i.name}: secondary ${s.secondary ?? 'missing'}`));
    else if (!vs.some((x) => x.node === s.secondary && x.role === 'replica')) out.push(bad(`${i.name}: no replica on its secondary ${s.secondary} (${vs.map((x) => `${x.node}:${x.role}`).join(', ')})`));
    if (s.degraded) out.push(bad(`${i.name}: degraded after the final apply`));
    return out;
  });
}

/**
 * 4. No data lost: what a replica held after the previous round is still on the primary; data written
 * before a sync is on the primary and the replica. Asynchronous replication: a failover before the first
 * sync after the write loses it, by design (the recovery point); later ones must not.
 */
export function data(f: Facts): Violation[] {
  const bad = v('data');
  const out = f.floors.filter((r) => !covers(r.now, r.floor))
    .map((r) => bad(`${r.instance}: data lost on ${r.node}: had ${JSON.stringify(r.floor)}, now ${JSON.stringify(r.now)}`));
  for (const w of mustHoldWritten(f)) {
    for (const s of w.seen) if (!covers(s.data, w.data)) out.push(bad(`${w.instance}: written before its last sync, missing on ${s.node}: wrote ${JSON.stringify(w.data)}, now ${JSON.stringify(s.data)}`));
  }
  return out;
}

/** The writes a later sync (with no failover before it ended) must have carried to the replica. */
export function mustHoldWritten(f: Pick<Facts, 'written' | 'jobs'>): Written[] {
  return f.written.filter((w) => {
    const after = f.jobs.filter((j) => j.instance === w.instance && j.start >= w.at).sort((a, b) => a.start - b.start);
    const synced = after.find((j) => j.result === 'succeeded' && ['SyncDisks', 'MigrateInstance', 'ReplaceSecondary'].includes(j.type));
    const failover = after.find((j) => j.type === 'FailoverInstance');
    return synced !== undefined && !(failover && failover.start < (synced.end ?? Infinity));
  });
}

/** 5. After convergence the plan holds nothing but periodic re-syncs: no operation, warning or error left unexplained. */
export function convergence(f: Facts): Violation[] {
  const bad = v('convergence');
  const ops = f.plan.operations.filter((o) => !isPeriodicResync(o));
  return [
    ...(ops.length ? [bad(`plan after convergence: ${ops.map((o) => `${o.type} ${o.instance} (${o.cause.kind})`).join('; ')}`)] : []),
    ...(f.plan.warnings.length ? [bad(`plan warnings: ${f.plan.warnings.join('; ')}`)] : []),
    ...(f.plan.errors.length ? [bad(`plan errors: ${JSON.stringify(f.plan.errors)}`)] : []),
  ];
}

/** A re-sync because the replica is older than replication.interval: read from the operation's typed cause. */
export function isPeriodicResync(o: PlanOpJson): boolean {
  return o.type === 'SyncDisks' && o.cause.kind === 'replica-stale';
}

/** 6. The journal accounts for every operation: none left running, every one a killed master left in flight shows resumed. */
export function journal(f: Pick<Facts, 'jobs'> & Omit<Timeline, 'polls'>): Violation[] {
  const bad = v('journal');
  const out: Violation[] = [];
  for (const j of f.jobs) {
    if (j.result === 'running') out.push(bad(`job ${j.id} ${j.type} ${j.instance} left running`));
    if (j.end === undefined || j.start < f.roundStart) continue;
    const end = j.end;
    const killed = f.kills.find((k) => j.start <= k.at && k.at < end);
    if (killed && !j.resumed) out.push(bad(`job ${j.id} ${j.type} ${j.instance} was in flight when master ${killed.pid} was killed, but does not show resumed`));
    const dead = f.kills.find((k) => k.pid === j.master?.pid && k.at < end);
    if (dead) out.push(bad(`job ${j.id} ${j.type} ${j.instance} ended (${j.result}) by master ${dead.pid} after it was killed`));
  }
  return out;
}

/** Journal entries whose operation takes its instance down while it runs (a migration only when it went cold). */
export function takesDown(j: Pick<JobJson, 'type' | 'migration'>): boolean {
  if (j.type === 'MigrateInstance') return j.migration?.path !== 'live';
  return j.type === 'RecreateInstance' || j.type === 'MoveInstance' || j.type === 'RestartInstance';
}

/** A stretch of time an instance was down by Drover's doing. */
export interface Span { readonly instance: string; readonly start: number; readonly end: number }

/** The most spans open at one moment, and which: an end at the same ms as a start does not overlap it. */
export function mostAtOnce(spans: readonly Span[]): { readonly count: number; readonly at: number; readonly instances: readonly string[] } {
  const edges = spans.flatMap((s) => [{ at: s.start, open: true, s }, { at: s.end, open: false, s }])
    .sort((a, b) => a.at - b.at || Number(a.open) - Number(b.open));
  const open = new Set<Span>();
  let best = { count: 0, at: 0, instances: [] as string[] };
  for (const e of edges) {
    if (!e.open) { open.delete(e.s); continue; }
    open.add(e.s);
    if (open.size > best.count) best = { count: open.size, at: e.at, instances: [...open].map((x) => x.instance).sort() };
  }
  return best;
}

/**
 * 7. Never more than `limit` members of a group down at once by Drover's doing: the journal's spans
 * (start to end, across master kills, since a resumed job keeps its start) of the operations that take
 * a member down. A failover is not one of them: its member was down already.
 */
export function budget(f: Pick<Facts, 'wanted' | 'jobs' | 'roundStart' | 'now'>, limit = MAX_UNAVAILABLE): Violation[] {
  const groupOf = new Map(f.wanted.flatMap((i) => (i.group ? [[i.name, i.group] as const] : [])));
  const spans = new Map<string, Span[]>();
  for (const j of f.jobs) {
    const group = groupOf.get(j.instance);
    const end = j.end ?? f.now;
    if (!group || end < f.roundStart || !takesDown(j)) continue;
    spans.set(group, [...(spans.get(group) ?? []), { instance: j.instance, start: j.start, end }]);
  }
  return [...spans].flatMap(([group, s]) => {
    const most = mostAtOnce(s);
    return most.count > limit
      ? [v('budget')(`group ${group}: ${most.count} members down at once (${most.instances.join(', ')} at t=${most.at - f.roundStart} ms), budget ${limit}`)]
      : [];
  });
}

export const INVARIANTS: readonly ((f: Facts) => Violation[])[] = [placement, doubleRun, replica, data, convergence, journal, budget];

export function check(f: Facts): Violation[] {
  return INVARIANTS.flatMap((fn) => fn(f));
}

/** Not violations: what the round's journal shows (jobs resumed, failed and retried) and how much data was read back. */
export function roundStats(f: Facts): { resumed: number; failed: string[]; dataChecked: number } {
  const mine = f.jobs.filter((j) => j.end !== undefined && j.start >= f.roundStart);
  return {
    resumed: mine.filter((j) => j.resumed).length,
    failed: mine.filter((j) => j.result === 'failed').map((j) => `${j.type} ${j.instance}: ${j.error ?? '?'}`),
    dataChecked: f.floors.length + mustHoldWritten(f).length,
  };
}

/** Node death → every running replicated primary it had runs elsewhere: ms, from the polls (undefined: never). */
export function failoverMs(polls: readonly Poll[], killedAt: number, victim: string, primaries: readonly string[]): number | undefined {
  if (!primaries.length) return undefined;
  const moved = polls.find((p) => p.at >= killedAt && primaries.every((i) => (p.running.get(i) ?? []).some((n) => n !== victim)));
  return moved && moved.at - killedAt;
}
