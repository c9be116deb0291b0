/**
 * Placement (hail's "allocate" and "relocate"), committed into an incremental cluster state so a plan
 * can place thousands of instances in one pass. hail scores every (primary, secondary) pair by
 * rebuilding the cluster: O(nodes²) trials of O(nodes) each. Here one place() is at most O(nodes): the
 * short lists (scan.ts) rank every node as primary and as secondary alone — re-ranking only changed
 * nodes between placements of the same size — and the best TOP × TOP pairs are scored exactly (Trial).
 * The O(nodes²) pair scan is only a last resort when those are all blocked.
 *
 * Choice = lowest resulting Ganeti score under the hard rules, with one guard of ours: secondaries are
 * first sought among nodes not far above the mean secondary count (scan.ts secondaryCap explains why).
 */
import type { FailMode, Refusal } from '../model/causes.ts';
import type { ClusterModel, InstanceModel } from './model.ts';
import type { ScoreBreakdown } from './metrics.ts';
import { ClusterState, type InstState } from './state.ts';
import { NodeDelta, Trial } from './trial.ts';
import { canScanFast, secondaryCap, ShortLists, TopK, type ScanResult } from './scan.ts';

export type PlaceResult =
  | { readonly ok: true; readonly primary: string; readonly secondary?: string; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly refusal: Refusal };

export interface N1Failure {
  readonly node: string;
  /** The primary node whose failure this node could not absorb (the largest such peer). */
  readonly failingPeer: string;
  /** Memory that peer's instances would need here, bytes. */
  readonly needed: number;
  /** Free memory here, bytes. */
  readonly free: number;
}

export interface AllocatorOptions {
  /**
   * 'prefer' (default, the planner): never break N+1 when another choice exists, else place and warn.
   * 'strict' (hail, hspace): a choice that breaks N+1 is no choice.
   */
  readonly n1?: 'prefer' | 'strict';
}

// Why a node cannot take an instance; the order is the order of the checks and of the message.
const REASONS: readonly FailMode[] = ['offline', 'drained', 'memory', 'vcpus', 'disk', 'spindles', 'anti-affinity', 'n+1', 'no-secondary'];
const R_OFFLINE = 0, R_DRAINED = 1, R_MEM = 2, R_CPU = 3, R_DSK = 4, R_SPN = 5, R_AFF = 6, R_N1 = 7, R_NOSEC = 8;
/** Not a candidate at all (replace-secondary keeps its primary): counted nowhere. */
const R_SKIP = 99;
/** How a refusal names each mode: [for several nodes, for one]. */
const WORDS: Readonly<Record<FailMode, readonly [string, string]>> = {
  offline: ['offline', 'offline'], drained: ['drained', 'drained'], memory: ['lack memory', 'lacks memory'],
  vcpus: ['lack vcpus', 'lacks vcpus'], disk: ['lack disk', 'lacks disk'], spindles: ['lack spindles', 'lacks spindles'],
  'anti-affinity': ['conflict on anti-affinity', 'conflict on anti-affinity'], 'n+1': ['would break N+1', 'would break N+1'],
  'no-secondary': ['have no usable secondary', 'has no usable secondary'],
};

const noCounts = (): Record<FailMode, number> => ({
  offline: 0, drained: 0, memory: 0, vcpus: 0, disk: 0, spindles: 0, 'anti-affinity': 0, 'n+1': 0, 'no-secondary': 0,
});

/** The modes that turned nodes down, most nodes first (ties in the order of the checks). */
export function failModes(counts: Readonly<Record<FailMode, number>>): FailMode[] {
  return REASONS.filter((m) => counts[m] > 0).sort((a, b) => counts[b] - counts[a] || REASONS.indexOf(a) - REASONS.indexOf(b));
}

/** A refusal as people read it, e.g. "no node: 3 lack memory, 1 drained". */
export function refusalText(r: Refusal): string {
  switch (r.kind) {
    case 'not-placed': return `${r.instance} is not placed`;
    case 'not-replicated': return `${r.instance} is not replicated: it has no secondary`;
    case 'no-node': {
      const parts = failModes(r.counts).map((m) => `${r.counts[m]} ${WORDS[m][r.counts[m] === 1 ? 1 : 0]}`);
      return parts.length === 0 ? 'no node: the cluster has no nodes' : `no node: ${parts.join(', ')}`;
    }
  }
}

/** Short-list length per role: exact joint scoring costs TOP² trials per replicated placement. */
const TOP = 4;
/** Up to this many nodes every (primary, secondary) pair is scored, as hail does. */
const EXHAUSTIVE_NODES = 64;

interface Choice { p: number; s: number; delta: number; breaks: boolean }

export class Allocator {
  /** Exposed to the other alloc/ modules (balance, capacity), not part of the public API. */
  readonly state: ClusterState;
  private readonly trial: Trial;
  private readonly strict: boolean;
  private readonly useN1: boolean;
  private readonly spindleLimit: boolean;
  private readonly dP = new NodeDelta();
  private readonly dS = new NodeDelta();
  /** The spread guard's limit for the current search (Infinity when off). */
  private cap = Infinity;
  /** Per node: the primary check's REASONS index, -1 when it fits (reused across calls). */
  private readonly reasons: Int8Array;
  private readonly lists: ShortLists;

  constructor(model: ClusterModel, options: AllocatorOptions = {}) {
    this.state = new ClusterState(model);
    this.trial = new Trial(this.state);
    this.strict = options.n1 === 'strict';
    this.useN1 = model.policy.redundancy !== 'none';
    // Drover's own clusters have no spindle policy; only Ganeti files bring one.
    this.spindleLimit = model.policy.spindleRatio !== undefined;
    this.reasons = new Int8Array(this.state.n);
    this.lists = new ShortLists(this.state);
  }

  /**
   * Choose primary (and, for 'replicated', a distinct secondary in the same group) for an unplaced
   * instance by lowest resulting cluster score, and commit it. An instance already placed keeps its
   * nodes (placing is idempotent). Callers placing many should go largest first: see placeAll().
   */
  place(instance: InstanceModel): PlaceResult {
    const st = this.state;
    const known = st.instIndex.get(instance.name);
    if (known !== undefined && st.insts[known]!.pri >= 0) return this.describe(known, []);
    const idx = st.addInstanceRecord(instance, true);
    const found = this.searchSpread(idx, -1, new Set());
    if (!found.ok) return found;
    st.assign(idx, found.choice.p, found.choice.s);
    this.trial.refresh();
    return this.describe(idx, found.warnings);
  }

  /** Places many, largest first (memory, then disk, then vCPUs; name breaks ties), as hail's multi-allocate. */
  placeAll(instances: readonly InstanceModel[]): readonly { readonly instance: string; readonly result: PlaceResult }[] {
    const order = [...instances].sort(largestFirst);
    return order.map((inst) => ({ instance: inst.name, result: this.place(inst) }));
  }

  /** Choose a new secondary for a placed replicated instance (old secondary gone/drained), committing it. */
  replaceSecondary(instance: string, exclude: readonly string[]): PlaceResult {
    const st = this.state;
    const idx = st.instIndex.get(instance);
    if (idx === undefined || st.insts[idx]!.pri < 0) return { ok: false, refusal: { kind: 'not-placed', instance } };
    const inst = st.insts[idx]!;
    if (!inst.replicated) return { ok: false, refusal: { kind: 'not-replicated', instance } };
    const p = inst.pri, oldS = inst.sec;
    const ex = new Set<number>();
    for (const name of exclude) { const i = st.index.get(name); if (i !== undefined) ex.add(i); }
    if (oldS >= 0) ex.add(oldS);
    st.assign(idx, p, -1);
    this.trial.refresh();
    const found = this.searchSpread(idx, p, ex);
    st.assign(idx, p, found.ok ? found.choice.s : oldS);
    this.trial.refresh();
    return found.ok ? this.describe(idx, found.warnings) : found;
  }

  /** N+1 failures as they stand (htools' rule): free memory below the most any one peer would bring. */
  nPlusOneFailures(): readonly N1Failure[] {
    const st = this.state;
    const out: N1Failure[] = [];
    for (let i = 0; i < st.n; i++) {
      if (st.offline[i] || !st.failsN1(i)) continue;
      let peer = -1, need = -1;
      for (const [p, m] of st.peers[i] ?? []) if (m > need || (m === need && p < peer)) { peer = p; need = m; }
      out.push({ node: st.names[i]!, failingPeer: st.names[peer]!, needed: need, free: st.memCap[i]! - st.iMem[i]! });
    }
    return out;
  }

  /** The current cluster score (Ganeti's), O(1). */
  score(): number {
    return this.state.score();
  }

  breakdown(): ScoreBreakdown {
    return this.state.breakdown();
  }

  /** Current placement of every placed instance. */
  placements(): ReadonlyMap<string, { readonly primary: string; readonly secondary?: string }> {
    const st = this.state;
    const m = new Map<string, { primary: string; secondary?: string }>();
    for (const inst of st.insts) {
      if (inst.pri < 0) continue;
      m.set(inst.name, inst.sec >= 0 ? { primary: st.names[inst.pri]!, secondary: st.names[inst.sec]! } : { primary: st.names[inst.pri]! });
    }
    return m;
  }

  private describe(idx: number, warnings: readonly string[]): PlaceResult {
    const st = this.state, inst = st.insts[idx]!;
    const primary = st.names[inst.pri]!;
    return inst.sec >= 0 ? { ok: true, primary, secondary: st.names[inst.sec]!, warnings } : { ok: true, primary, warnings };
  }

  // ---- the search ----

  private primaryDelta(inst: InstState): NodeDelta {
    const d = this.dP;
    d.mem = inst.usesMem ? inst.mem : 0;
    d.memAll = inst.mem;
    d.cpu = inst.online && !inst.forthcoming ? inst.vcpus : 0;
    d.cpuF = inst.online ? inst.vcpus : 0;
    d.dsk = inst.local && !inst.forthcoming ? inst.dsk : 0;
    d.dskF = inst.local ? inst.dsk : 0;
    d.sp = inst.local && !inst.forthcoming ? inst.spindleUse : 0;
    d.spF = inst.local ? inst.spindleUse : 0;
    d.p = inst.forthcoming ? 0 : 1;
    d.s = 0;
    return d;
  }

  private secondaryDelta(inst: InstState, s: number, reserve: number): NodeDelta {
    const st = this.state, d = this.dS;
    d.mem = d.memAll = d.cpu = d.cpuF = d.p = 0;
    d.dsk = inst.local && !inst.forthcoming ? inst.dsk : 0;
    d.dskF = inst.local ? inst.dsk : 0;
    d.sp = inst.local && !inst.forthcoming ? inst.spindleUse : 0;
    d.spF = inst.local ? inst.spindleUse : 0;
    d.s = inst.forthcoming ? 0 : 1;
    d.rMem = inst.secMem ? Math.max(st.rMem[s]!, reserve) : st.rMem[s]!;
    return d;
  }

  /** Hard checks of node p as primary: a REASONS index, or -1 when it fits. */
  private primaryReason(inst: InstState, p: number): number {
    const st = this.state;
    if (st.hardOffline[p]) return R_OFFLINE;
    if (st.drained[p]) return R_DRAINED;
    if (inst.usesMem && st.iMem[p]! + inst.mem >= st.memCap[p]!) return R_MEM; // htools: free must stay > 0
    if (inst.online && st.uCpu[p]! + inst.vcpus > st.cpuLimit[p]!) return R_CPU;
    if (inst.local && st.fDskF[p]! - inst.dsk < 0) return R_DSK;
    if (this.spindleLimit && inst.local && st.instSpF[p]! + inst.spindleUse > st.hiSp[p]!) return R_SPN;
    const tags = st.pTags[p];
    if (tags) for (const t of inst.exclTags) if (tags.has(t)) return R_AFF;
    return -1;
  }

  /** Whether taking the instance as primary turns node p from passing to failing N+1. */
  private primaryBreaks(inst: InstState, p: number): boolean {
    const st = this.state;
    if (!this.useN1 || !inst.usesMem || st.failsN1(p)) return false;
    return st.memCap[p]! - st.iMem[p]! - inst.mem <= st.rMem[p]!;
  }

  /** Hard checks of node s as secondary for primary p (group, distinctness included). */
  private secondaryReason(inst: InstState, p: number, s: number): number {
    const st = this.state;
    if (st.hardOffline[s]) return R_OFFLINE;
    if (st.drained[s]) return R_DRAINED;
    if (s === p || st.group[s] !== st.group[p]) return R_NOSEC;
    if (st.sCnt[s]! + 1 > this.cap) return R_NOSEC;
    if (inst.local && st.fDskF[s]! - inst.dsk < 0) return R_DSK;
    if (this.spindleLimit && inst.local && st.instSpF[s]! + inst.spindleUse > st.hiSp[s]!) return R_SPN;
    return -1;
  }

  /** Memory the instance adds to what s must hold if p fails (its peer sum for p, plus itself). */
  private reserveOn(inst: InstState, p: number, s: number): number {
    return (this.state.peers[s]?.get(p) ?? 0) + inst.mem;
  }

  /** Whether s, as secondary of an instance on p, would fail N+1 where it passed before. */
  private secondaryBreaks(inst: InstState, s: number, reserve: number): boolean {
    const st = this.state;
    if (!this.useN1 || !inst.secMem || st.failsN1(s)) return false;
    return st.memCap[s]! - st.iMem[s]! <= Math.max(st.rMem[s]!, reserve);
  }

  /** Score terms outside the std-dev/N+1 sums: location and (location, exclusion) pairs. */
  private extra(inst: InstState, p: number, s: number): number {
    const st = this.state;
    if (!st.hasLocation || inst.forthcoming) return 0;
    let x = st.instLocScore(inst, p, s);
    for (const loc of st.locTags[p]!) for (const e of inst.exclTags) if (st.locPairs.has(loc + '\u0000' + e)) x++;
    return x;
  }

  /** Search with the spread guard (scan.ts secondaryCap), then without it if nothing fits. */
  private searchSpread(idx: number, fixedPrimary: number, exclude: ReadonlySet<number>): ReturnType<Allocator['search']> {
    // Small clusters: hail's own search, every (primary, secondary) pair scored, no guard.
    if (this.state.n <= EXHAUSTIVE_NODES) return this.search(idx, fixedPrimary, exclude, false, true);
    const first = this.state.insts[idx]!.replicated ? this.search(idx, fixedPrimary, exclude, true) : undefined;
    return first?.ok ? first : this.search(idx, fixedPrimary, exclude, false);
  }

  private search(
    idx: number,
    fixedPrimary: number,
    exclude: ReadonlySet<number>,
    spread: boolean,
    exhaustive = false,
  ): { ok: true; choice: Choice; warnings: string[] } | { ok: false; refusal: Refusal } {
    const st = this.state, inst = st.insts[idx]!, n = st.n;
    const tiers = this.useN1 && !this.strict ? 2 : 1;
    const held = fixedPrimary >= 0;
    const reasons = this.reasons;
    const rules = { useN1: this.useN1, strict: this.strict, spindleLimit: this.spindleLimit, spread };
    this.cap = spread ? secondaryCap(st) : Infinity;
    const fast = !held && !exhaustive && canScanFast(st, inst);
    // The fast scan checks the hard rules inline; the reasons are only needed when nothing fits.
    let reasonsKnown = !fast;
    const fillReasons = (): void => {
      if (reasonsKnown) return;
      for (let p = 0; p < n; p++) reasons[p] = this.primaryReason(inst, p);
      reasonsKnown = true;
    };
    if (!fast) for (let p = 0; p < n; p++) reasons[p] = held ? (p === fixedPrimary ? -1 : R_SKIP) : this.primaryReason(inst, p);
    const scan = fast ? this.lists.get(inst, rules, TOP) : this.scanGeneric(inst, reasons, exclude);
    const ok = (c: Choice): { ok: true; choice: Choice; warnings: string[] } => ({
      ok: true, choice: c, warnings: c.breaks ? [this.n1Warning(inst, c)] : [],
    });
    if (!inst.replicated) {
      for (let t = 0; t < tiers; t++) {
        let best: Choice | undefined;
        for (const p of scan.topP[t].idx) {
          const d = this.trial.delta(p, this.primaryDelta(inst), -1, undefined) + this.extra(inst, p, -1);
          if (!best || d < best.delta || (d === best.delta && p < best.p)) best = { p, s: -1, delta: d, breaks: false };
        }
        if (best) return ok({ ...best, breaks: t === 1 && this.primaryBreaks(inst, best.p) });
      }
    } else {
      for (let t = 0; t < tiers && !exhaustive; t++) {
        const prims = scan.topP[t].idx;
        const found = this.bestPair(inst, prims, (p) => scan.topS[t][st.group[p]!]?.idx ?? [], t, exclude, held)
          ?? this.bestPair(inst, prims, () => range(n), t, exclude, held);
        if (found) return ok(found);
      }
      // The guarded pass gives up here: the unguarded pass does the exhaustive search.
      if (spread) return { ok: false, refusal: { kind: 'no-node', counts: noCounts() } };
      // Nothing among the best primaries: every feasible primary against every node.
      fillReasons();
      const all: number[] = [];
      for (let p = 0; p < n; p++) if (reasons[p]! < 0) all.push(p);
      for (let t = 0; t < tiers; t++) {
        const prims = all.filter((p) => held || t === 1 || !this.primaryBreaks(inst, p));
        const found = this.bestPair(inst, prims, () => range(n), t, exclude, held);
        if (found) return ok(found);
      }
    }
    fillReasons();
    const counts = noCounts();
    for (let p = 0; p < n; p++) {
      const r = reasons[p]!;
      if (r >= 0 && r < REASONS.length) counts[REASONS[r]!]++;
      else if (r < 0) {
        const n1Only = this.useN1 && this.strict && !held && this.primaryBreaks(inst, p);
        counts[REASONS[n1Only ? R_N1 : this.secondaryBlock(inst, p, exclude)]!]++;
      }
    }
    return { ok: false, refusal: { kind: 'no-node', counts } };
  }

  /** scanFast's job for the rare cases it does not cover (forthcoming, offline, tags, locations). */
  private scanGeneric(inst: InstState, reasons: Int8Array, exclude: ReadonlySet<number>): ScanResult {
    const st = this.state, n = st.n;
    const topP: [TopK, TopK] = [new TopK(TOP), new TopK(TOP)];
    const topS: [TopK[], TopK[]] = [[], []];
    for (let p = 0; p < n; p++) {
      if (reasons[p]! >= 0) continue;
      const breaks = this.primaryBreaks(inst, p);
      if (breaks && this.strict) continue;
      const d = this.trial.delta(p, this.primaryDelta(inst), -1, undefined) + this.extra(inst, p, -1);
      if (!breaks) topP[0].push(p, d);
      topP[1].push(p, d);
    }
    if (!inst.replicated) return { topP, topS };
    for (let s = 0; s < n; s++) {
      if (exclude.has(s) || st.unusable[s]) continue;
      if (inst.local && st.fDskF[s]! - inst.dsk < 0) continue;
      if (this.spindleLimit && inst.local && st.instSpF[s]! + inst.spindleUse > st.hiSp[s]!) continue;
      if (st.sCnt[s]! + 1 > this.cap) continue;
      const breaks = this.secondaryBreaks(inst, s, inst.mem);
      if (breaks && this.strict) continue;
      const d = this.trial.delta(s, this.secondaryDelta(inst, s, inst.mem), -1, undefined);
      const g = st.group[s]!;
      if (!breaks) (topS[0][g] ??= new TopK(TOP)).push(s, d);
      (topS[1][g] ??= new TopK(TOP)).push(s, d);
    }
    return { topP, topS };
  }

  /** Best exact (p, s) among the given candidates; tier 0 refuses any N+1 break. */
  private bestPair(
    inst: InstState,
    prims: readonly number[],
    secs: (p: number) => Iterable<number>,
    tier: number,
    exclude: ReadonlySet<number>,
    held: boolean,
  ): Choice | undefined {
    let best: Choice | undefined;
    for (const p of prims) {
      // A held primary (replace-secondary) already carries the instance: no change on p.
      const dP = held ? this.dP.reset(this.state, p) : this.primaryDelta(inst);
      const pBreaks = !held && this.primaryBreaks(inst, p);
      for (const s of secs(p)) {
        if (exclude.has(s) || this.secondaryReason(inst, p, s) >= 0) continue;
        const reserve = this.reserveOn(inst, p, s);
        const breaks = pBreaks || this.secondaryBreaks(inst, s, reserve);
        if (breaks && tier === 0) continue;
        if (breaks && this.strict) continue;
        const dS = this.secondaryDelta(inst, s, reserve);
        const d = this.trial.delta(p, dP, s, dS) + this.extra(inst, p, s);
        if (!best || d < best.delta || (d === best.delta && (p < best.p || (p === best.p && s < best.s)))) {
          best = { p, s, delta: d, breaks };
        }
      }
    }
    return best;
  }

  /** Why primary p found no secondary: the most telling reason among the other nodes. */
  private secondaryBlock(inst: InstState, p: number, exclude: ReadonlySet<number>): number {
    let sawN1 = false, sawDisk = false;
    for (let s = 0; s < this.state.n; s++) {
      if (exclude.has(s)) continue;
      const r = this.secondaryReason(inst, p, s);
      if (r === R_DSK || r === R_SPN) sawDisk = true;
      if (r < 0 && this.secondaryBreaks(inst, s, this.reserveOn(inst, p, s))) sawN1 = true;
    }
    // Name the blocker when there is one: N+1 (memory on secondaries) or disk; else generic.
    return sawN1 && !sawDisk ? R_N1 : sawDisk && !sawN1 ? R_DSK : R_NOSEC;
  }

  private n1Warning(inst: InstState, c: Choice): string {
    const st = this.state;
    const where = c.s >= 0 ? `${st.names[c.p]}/${st.names[c.s]}` : st.names[c.p]!;
    return `${inst.name} on ${where} breaks N+1: no placement keeps every node able to absorb a peer's failure`;
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export function largestFirst(a: InstanceModel, b: InstanceModel): number {
  return b.memory - a.memory || b.disk - a.disk || b.vcpus - a.vcpus || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
