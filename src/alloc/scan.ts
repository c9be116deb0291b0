/**
 * The hot loop of placement: one pass over the nodes ranking each as primary alone and as secondary
 * alone, for the common case (a real instance that uses memory; no forthcoming or offline instances
 * anywhere; no tags or locations). It only builds short lists: the allocator scores those exactly.
 * At 1,000 nodes × 20,000 instances this loop is the whole cost of a plan's placement, so it avoids
 * calls, allocation and sqrt per node.
 */
import * as layout from './layout.ts';
import type { ClusterState, InstState } from './state.ts';

// Module-local copies of the layout: imported bindings are live (checked on every read), and Ranker.rank
// runs once per node per placement.
const { FOLDED_WEIGHT, K_CPU, K_DSK, K_LALL, K_LPRI, K_MEM, K_REM, K_SPN, NK, W_N1, W_RTOTAL } = layout;

/** A short best-first list (insertion; ties go to the lower node index, whatever the push order). */
export class TopK {
  // Plain arrays: a few are made per placement, and typed-array allocation costs more than it saves.
  private readonly i: number[] = [];
  private readonly v: number[] = [];
  constructor(private readonly k: number) {}
  get size(): number {
    return this.i.length;
  }
  /** The indices, best first (a live view: do not keep it across pushes). */
  get idx(): readonly number[] {
    return this.i;
  }
  at(j: number): number {
    return this.i[j]!;
  }
  valAt(j: number): number {
    return this.v[j]!;
  }
  /** Whether (i, v) would not enter a full list. */
  rejects(i: number, v: number): boolean {
    const n = this.i.length;
    return n === this.k && (v > this.v[n - 1]! || (v === this.v[n - 1]! && i > this.i[n - 1]!));
  }
  push(i: number, v: number): void {
    if (this.rejects(i, v)) return;
    const a = this.i, b = this.v;
    let j = a.length;
    if (j < this.k) { a.push(i); b.push(v); } else j = this.k - 1;
    while (j > 0 && (b[j - 1]! > v || (b[j - 1]! === v && a[j - 1]! > i))) {
      b[j] = b[j - 1]!;
      a[j] = a[j - 1]!;
      j--;
    }
    b[j] = v;
    a[j] = i;
  }
}

export interface ScanRules {
  readonly useN1: boolean;
  /** N+1 breakers are dropped rather than kept for the second tier. */
  readonly strict: boolean;
  readonly spindleLimit: boolean;
  /** Refuse secondaries far above the mean instance count (see secondaryCap). */
  readonly spread: boolean;
}

/**
 * The spread guard: a node may take a secondary only while its secondary count stays within
 * mean + max(1, mean/8). Why: reserved_mem_cv and reserved_mem_rtotal reward a secondary on a node
 * that already reserves the memory, and at ~1,000 nodes the spreads that should outweigh them move by
 * only ~1/n per placement: Ganeti's score alone piled 20,000 DRBD replicas 40 deep onto a few dozen
 * nodes, left 400 nodes with none, and lost 4 % of capacity to stranded disk. The allocator drops the
 * guard when nothing else fits.
 */
export function secondaryCap(st: ClusterState): number {
  // Σ secondaries over online nodes = Σ(primaries + secondaries) − Σ primaries: O(1) from the sums.
  const mean = Math.round(st.S[K_LALL]! - st.S[K_LPRI]!) / Math.max(1, st.nOnline);
  // A whole number, so it moves rarely and the cached short lists (keyed on it) stay valid.
  return Math.floor(mean + Math.max(1, mean / 8));
}

/** Tier 0: choices that keep N+1; tier 1: any choice (used only when tier 0 is empty). */
export interface ScanResult {
  readonly topP: readonly [TopK, TopK];
  /** Per tier, per group index. */
  readonly topS: readonly [TopK[], TopK[]];
}

export function canScanFast(st: ClusterState, inst: InstState): boolean {
  return st.twinMem && st.twinRest && !st.hasLocation && inst.usesMem && inst.exclTags.length === 0;
}

/** Proxy ranks of one node (see Ranker.rank). */
const enum Flag { No = 0, Ok = 1, Breaks = 2 }

/**
 * Ranks nodes for one instance shape with the secant of sqrt: Δstd ≈ Δvar / (std + sqrt(var + δ²/n)),
 * Δvar = δ(2(x − mean) + δ)/n — a handful of multiply-adds per node and no sqrt. The coefficients are
 * frozen when the ranker is built, so ranks computed later for changed nodes stay comparable with the
 * rest; the allocator scores the short lists exactly (Trial.delta), so this only decides who is on them.
 */
class Ranker {
  pScore = 0; pFlag: Flag = Flag.No; sScore = 0; sFlag: Flag = Flag.No;
  private readonly c = new Float64Array(FOLDED_WEIGHT.length);
  private readonly m2 = new Float64Array(FOLDED_WEIGHT.length);
  private readonly cap: number;
  constructor(private readonly st: ClusterState, private readonly inst: InstState, private readonly rules: ScanRules) {
    this.cap = rules.spread ? secondaryCap(st) : Infinity;
    const inv = 1 / st.nOnline, S = st.S, Q = st.Q;
    const m = inst.mem, d = inst.local ? inst.dsk : 0, su = inst.local ? inst.spindleUse : 0;
    // Reference δ per slot, K_MEM to K_SPN (node 0's capacities): only keeps the secant finite when var ≈ 0.
    const ref = [m * st.invTMem[0]!, d * st.invTDsk[0]!, m * st.invTMem[0]!, inst.vcpus * st.invCpuDen[0]!, 1, 1, su * st.invHiSp[0]!];
    for (let k = 0; k < FOLDED_WEIGHT.length; k++) { // the fast path runs only while every slot equals its twin
      const mean = S[k]! * inv;
      const vr = Math.max(0, Q[k]! * inv - mean * mean);
      const den = Math.sqrt(vr) + Math.sqrt(vr + ref[k]! * ref[k]! * inv);
      this.c[k] = den > 0 ? (FOLDED_WEIGHT[k]! * inv) / den : 0;
      this.m2[k] = 2 * mean;
    }
  }

  /** Sets pScore/pFlag (node i as primary) and sScore/sFlag (as secondary, no peer history). */
  rank(i: number): void {
    const st = this.st, inst = this.inst, v = st.vals, c = this.c, m2 = this.m2;
    this.pFlag = this.sFlag = Flag.No;
    if (st.unusable[i]) return;
    const m = inst.mem, d = inst.local ? inst.dsk : 0, su = inst.local ? inst.spindleUse : 0;
    if (st.fDskF[i]! < d || (this.rules.spindleLimit && st.instSpF[i]! + su > st.hiSp[i]!)) return;
    const o = i * NK;
    const free = st.memCap[i]! - st.iMem[i]!;
    const rMem = st.rMem[i]!;
    const failing = st.failsN1(i);
    const cnt = st.pCnt[i]! + st.sCnt[i]!;
    const dD = -d * st.invTDsk[i]!, dS = su * st.invHiSp[i]!;
    // Disk, spindle and all-instance count terms are shared by both roles.
    const shared =
      c[K_DSK]! * dD * (2 * v[o + K_DSK]! - m2[K_DSK]! + dD) + c[K_SPN]! * dS * (2 * v[o + K_SPN]! - m2[K_SPN]! + dS) +
      c[K_LALL]! * (2 * v[o + K_LALL]! - m2[K_LALL]! + 1) - W_N1 * st.n1v[i]!;
    const { useN1, strict } = this.rules;
    if (m < free && st.uCpu[i]! + inst.vcpus <= st.cpuLimit[i]!) {
      const breaks = useN1 && !failing && free - m <= rMem;
      if (!(breaks && strict)) {
        const dM = -m * st.invTMem[i]!, dC = inst.vcpus * st.invCpuDen[i]!;
        this.pScore =
          shared + c[K_MEM]! * dM * (2 * v[o + K_MEM]! - m2[K_MEM]! + dM) +
          c[K_CPU]! * dC * (2 * v[o + K_CPU]! - m2[K_CPU]! + dC) +
          c[K_LPRI]! * (2 * v[o + K_LPRI]! - m2[K_LPRI]! + 1) + (free - m <= rMem ? W_N1 * (cnt + 1) : 0);
        this.pFlag = breaks ? Flag.Breaks : Flag.Ok;
      }
    }
    // Ranked as secondary even for a plain instance, so plain and replicated share the cached lists.
    if (st.sCnt[i]! + 1 > this.cap) return;
    const secMem = inst.autoBalance; // the fast path only sees online, real instances
    const newR = secMem && m > rMem ? m : rMem;
    const breaksS = useN1 && secMem && !failing && free <= newR;
    if (breaksS && strict) return;
    let score = shared + (free <= newR ? W_N1 * (cnt + 1) : 0);
    if (newR !== rMem) {
      const dR = (newR - rMem) * st.invTMem[i]!;
      score += c[K_REM]! * dR * (2 * v[o + K_REM]! - m2[K_REM]! + dR) + W_RTOTAL * dR;
    }
    this.sScore = score;
    this.sFlag = breaksS ? Flag.Breaks : Flag.Ok;
  }
}

/** How many candidates a full scan keeps per list; later placements of the same shape draw from them. */
const POOL = 48;
/** Full rescans at least this often (placements), so frozen coefficients never drift far. */
const REBUILD_EVERY = 64;

interface Cached {
  ranker: Ranker;
  base: ScanResult;
  /** Absolute touch-log position already read. */
  cursor: number;
  uses: number;
  dirty: Set<number>;
}

/** Shapes cached at once (a balance round sees every instance size of the cluster). */
const SHAPES = 32;

/**
 * Short lists per instance shape: one O(nodes) scan keeps the POOL best per list; each later request
 * for the same shape re-ranks only the nodes changed since (the state's touch log) and takes the best
 * that are still current. A node outside the pool ranked below every pool member when scanned and has
 * not changed since, so while at least k unchanged pool members remain the k best are exact under the
 * frozen ranking. Largest-first placement makes runs of one shape the norm.
 */
export class ShortLists {
  private readonly cache = new Map<string, Cached>();
  constructor(private readonly st: ClusterState) {}

  get(inst: InstState, rules: ScanRules, k: number): ScanResult {
    const st = this.st;
    // Plain and replicated share a shape: the ranker always ranks both roles.
    const key = `${inst.mem},${inst.vcpus},${inst.dsk},${inst.spindleUse},${inst.local},${inst.autoBalance},${rules.strict},${rules.spread ? secondaryCap(st) : '-'}`;
    let c = this.cache.get(key);
    if (!c || c.cursor < st.touchBase || ++c.uses > REBUILD_EVERY) c = this.rebuild(inst, rules, key);
    const end = st.touchEnd();
    for (let j = c.cursor - st.touchBase; j < st.touchLog.length; j++) c.dirty.add(st.touchLog[j]!);
    c.cursor = end;
    const r = c.ranker, base = c.base, dirty = c.dirty;
    const topP: [TopK, TopK] = [new TopK(k), new TopK(k)];
    const topS: [TopK[], TopK[]] = [[], []];
    for (const i of dirty) {
      r.rank(i);
      if (r.pFlag === Flag.Ok) topP[0].push(i, r.pScore);
      if (r.pFlag !== Flag.No) topP[1].push(i, r.pScore);
      const g = st.group[i]!;
      if (r.sFlag === Flag.Ok) (topS[0][g] ??= new TopK(k)).push(i, r.sScore);
      if (r.sFlag !== Flag.No) (topS[1][g] ??= new TopK(k)).push(i, r.sScore);
    }
    let short = false;
    const merge = (from: TopK, into: TopK): void => {
      let clean = 0;
      // The pool is sorted: after k unchanged members, nothing further in it can make the list.
      for (let j = 0; j < from.size && clean < k; j++) {
        const i = from.at(j);
        if (dirty.has(i)) continue;
        into.push(i, from.valAt(j));
        clean++;
      }
      // Too few unchanged pool members left to vouch for the nodes outside the pool.
      if (clean < k && from.size === POOL) short = true;
    };
    for (let t = 0; t < 2; t++) {
      merge(base.topP[t]!, topP[t]!);
      base.topS[t]!.forEach((list, g) => merge(list, (topS[t]![g] ??= new TopK(k))));
    }
    if (short) {
      c.uses = REBUILD_EVERY; // rebuild and retry once
      return this.get(inst, rules, k);
    }
    return { topP, topS };
  }

  private rebuild(inst: InstState, rules: ScanRules, key: string): Cached {
    const st = this.st;
    const r = new Ranker(st, inst, rules);
    const topP: [TopK, TopK] = [new TopK(POOL), new TopK(POOL)];
    const topS: [TopK[], TopK[]] = [[], []];
    for (let i = 0; i < st.n; i++) {
      r.rank(i);
      if (r.pFlag === Flag.Ok) topP[0].push(i, r.pScore);
      if (r.pFlag !== Flag.No) topP[1].push(i, r.pScore);
      if (r.sFlag !== Flag.No) {
        const g = st.group[i]!;
        if (r.sFlag === Flag.Ok) (topS[0][g] ??= new TopK(POOL)).push(i, r.sScore);
        (topS[1][g] ??= new TopK(POOL)).push(i, r.sScore);
      }
    }
    const c: Cached = { ranker: r, base: { topP, topS }, cursor: st.touchEnd(), uses: 1, dirty: new Set() };
    this.cache.delete(key);
    if (this.cache.size >= SHAPES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, c);
    return c;
  }
}
