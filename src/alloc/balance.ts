/**
 * Rebalancing (hbal's job): moves of replicated instances that lower the cluster score, each with the
 * score after it. The move types are hbal's (ganeti.md §6.3):
 *   f          failover/migrate: swap primary and secondary (copies nothing)
 *   r:x        replace-secondary onto x
 *   f r:x f    replace-primary: x becomes primary, the secondary stays
 *   f r:x      failover then replace-secondary: old secondary is primary, x secondary
 *   r:x f      replace-secondary then failover: x is primary, old primary secondary
 * under hbal's restrictions (targets online and undrained, same group, memory, vCPU ratio, disk,
 * exclusion tags, no node newly failing N+1) and hbal's stopping rule (a step must gain ≥ minGain once
 * the score is below minGainLimit).
 *
 * Where we do better than hbal's greedy search:
 * - among equally good moves, the one that copies the least data wins (a failover copies nothing);
 * - the final solution is compressed: an instance hbal would move twice (e.g. r:x then r:y) is moved
 *   once, straight to where it ends, when the shorter sequence is feasible — fewer moves, same score;
 * - at scale (many nodes) candidate targets come from exact short lists and instances are re-examined
 *   lazily, so a 1,000-node cluster balances in seconds instead of hbal's hours.
 */
import type { ClusterModel } from './model.ts';
import { W_LOC, W_LOCX, W_OFF_ALL, W_OFF_PRI, W_TAGS } from './layout.ts';
import { ClusterState, type InstState } from './state.ts';
import { NodeDelta, Trial } from './trial.ts';
import { ShortLists } from './scan.ts';
import { hbalAllows } from './moves.ts';

export type MoveKind = 'failover' | 'replace-secondary' | 'replace-primary' | 'failover-and-replace' | 'replace-and-failover';

export interface BalanceMove {
  readonly instance: string;
  readonly kind: MoveKind;
  /** hbal's notation: f, r:x, f r:x f, f r:x, r:x f. */
  readonly code: string;
  readonly from: { readonly primary: string; readonly secondary: string };
  readonly to: { readonly primary: string; readonly secondary: string };
  /** Cluster score after this move. */
  readonly score: number;
  /** Bytes copied to a new node (the instance's disks; 0 for a failover). */
  readonly dataCopied: number;
}

export interface BalanceOptions {
  /** Most moves to return (hbal -l); default unlimited. */
  readonly maxMoves?: number;
  /** Failovers only (hbal --no-disk-moves). */
  readonly noDiskMoves?: boolean;
  /** hbal -g (default 0.01) and --min-gain-limit (default 0.1). */
  readonly minGain?: number;
  readonly minGainLimit?: number;
  /** Compress the greedy path (default true). */
  readonly compress?: boolean;
  /**
   * When no single move gains, try two successive moves whose sum gains (default true; small
   * clusters only, where every round scans every move). False gives hbal's exact path.
   */
  readonly pairs?: boolean;
  /** hbal --ignore-soft-errors: skip N+1, vCPU, spindle and tag checks (memory and disk stay hard). */
  readonly ignoreSoftErrors?: boolean;
}

export interface BalanceResult {
  readonly initialScore: number;
  readonly finalScore: number;
  readonly moves: readonly BalanceMove[];
  /** Final placement of every moved instance. */
  readonly placements: ReadonlyMap<string, { readonly primary: string; readonly secondary: string }>;
}

interface Cand { idx: number; p2: number; s2: number; kind: MoveKind; target: number; delta: number; copied: number }

/** Up to this many nodes every node is a candidate target; above, the short lists' best TARGETS. */
const FULL_TARGETS = 16;
const TARGETS = 8;
/**
 * Moves between full recomputations of every instance's best move: about one per 16 instances (a full
 * pass costs as much as that many moves' local updates), and at least 64.
 */
const REFRESH_MIN = 64;
/** Up to this many (movable instance × online node) pairs, every round scans every move, as hbal does. */
const EXACT_BUDGET = 20_000;
/** Rounds a small cluster's exhaustive run typically takes: the work allowed a capped run. */
const EXACT_ROUNDS = 250;
/** First moves a pair search tries (each costs one full scan). */
const PAIR_FIRST = 6;

function better(a: Cand, b: Cand): boolean {
  return a.delta < b.delta - 1e-12 || (Math.abs(a.delta - b.delta) <= 1e-12 && (a.copied < b.copied || (a.copied === b.copied && a.idx < b.idx)));
}

function shapeOrder(a: InstState, b: InstState): number {
  return a.mem - b.mem || a.dsk - b.dsk || a.vcpus - b.vcpus;
}

/** Binary min-heap of candidates (by better()), with lazy deletion through per-instance versions. */
class CandHeap {
  private readonly items: { c: Cand; v: number }[] = [];
  clear(): void { this.items.length = 0; }
  push(c: Cand, v: number): void {
    const a = this.items;
    a.push({ c, v });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!better(a[i]!.c, a[p]!.c)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  private drop(): void {
    const a = this.items, last = a.pop()!;
    if (a.length === 0) return;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < a.length && better(a[l]!.c, a[m]!.c)) m = l;
      if (r < a.length && better(a[r]!.c, a[m]!.c)) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
  }
  /** The best entry still current (its version matches), removed. */
  pop(version: Int32Array): Cand | undefined {
    const c = this.peek(version);
    if (c) this.drop();
    return c;
  }
  peek(version: Int32Array): Cand | undefined {
    while (this.items.length > 0) {
      const top = this.items[0]!;
      if (version[top.c.idx] === top.v) return top.c;
      this.drop();
    }
    return undefined;
  }
}


/**
 * hbal's search with hbal's checks. On a cluster that already breaks a soft rule (a node failing N+1,
 * over its vCPU or spindle limit) hbal's checks can block every move that would repair it (a failover
 * onto a secondary over its spindle limit is refused, though it adds nothing there). We run a second
 * search in repair mode (moves.ts: such a node may take part as long as its count does not grow) and
 * keep the better end (lower score, then fewer moves). No node ends further over a limit than it was.
 */
export function balance(model: ClusterModel, options: BalanceOptions = {}): BalanceResult {
  const st = new ClusterState(model);
  if (options.ignoreSoftErrors === true || !softViolations(st)) return balanceWith(model, options);
  // Repair mode allows every move hbal's checks allow, and more. Large clusters run it alone; small
  // ones (hbal's exact path) also run hbal's, so the end is never worse than hbal's.
  if (!exhaustive(st, options.maxMoves)) return balanceWith(model, options, true);
  const strict = balanceWith(model, options);
  const soft = balanceWith(model, options, true);
  const gain = strict.finalScore - soft.finalScore;
  return gain > 1e-9 || (gain > -1e-9 && soft.moves.length < strict.moves.length) ? soft : strict;
}

/** Whether some online node breaks a rule hbal checks softly (its "bad nodes", and the policy limits). */
function softViolations(st: ClusterState): boolean {
  for (let i = 0; i < st.n; i++) {
    if (st.offline[i]) continue;
    if (st.redundancy !== 'none' && st.failsN1(i)) return true;
    if (st.uCpu[i]! / st.tCpu[i]! > st.cpuRatio[i]! + 1e-12) return true;
    if (st.spindleLimit && st.instSp[i]! > st.hiSp[i]!) return true;
  }
  return false;
}

function balanceWith(model: ClusterModel, options: BalanceOptions, repair = false): BalanceResult {
  const st = new ClusterState(model);
  const b = new Balancer(st, options, repair);
  const initialScore = st.score();
  const moves = b.run();
  const compressed = options.compress === false ? moves : compress(model, moves, options, repair);
  const placements = new Map<string, { primary: string; secondary: string }>();
  for (const m of compressed) placements.set(m.instance, m.to);
  return {
    initialScore,
    finalScore: compressed.length > 0 ? compressed[compressed.length - 1]!.score : initialScore,
    moves: compressed,
    placements,
  };
}

function movable(i: InstState): boolean {
  return i.movable && i.pri >= 0 && i.sec >= 0;
}

/**
 * Whether hbal's exhaustive search every round (runExact) is affordable: the cluster is small, or the
 * moves asked for are few enough that their rounds cost no more than a small cluster's whole run.
 */
function exhaustive(st: ClusterState, maxMoves = Infinity): boolean {
  let n = 0;
  for (const i of st.insts) if (movable(i)) n++;
  return n * st.nOnline <= EXACT_BUDGET || n * st.nOnline * maxMoves <= EXACT_BUDGET * EXACT_ROUNDS;
}

class Balancer {
  readonly trial: Trial;
  private readonly lists: ShortLists;
  private readonly deltas = [new NodeDelta(), new NodeDelta(), new NodeDelta(), new NodeDelta()];
  private readonly touched: number[] = [0, 0, 0, 0];
  private readonly spindleLimit: boolean;
  /** Small enough for hbal's exhaustive search (runExact). */
  private readonly exact: boolean;
  constructor(readonly st: ClusterState, readonly opt: BalanceOptions, private readonly repair = false) {
    this.trial = new Trial(st);
    this.lists = new ShortLists(st);
    this.spindleLimit = st.spindleLimit;
    this.exact = exhaustive(st, opt.maxMoves);
  }

  movable(i: InstState): boolean {
    return movable(i);
  }

  run(): BalanceMove[] {
    const movable = this.st.insts.map((_, i) => i).filter((i) => this.movable(this.st.insts[i]!));
    return this.exact ? this.runExact(movable) : this.runLazy(movable);
  }

  /** Whether a step may be taken: hbal's rule (it must improve, and by minGain once below the limit). */
  private gains(score: number, after: number): boolean {
    const minGain = this.opt.minGain ?? 0.01, limit = this.opt.minGainLimit ?? 0.1;
    return after < score - 1e-12 && (score > limit || score - after >= minGain);
  }

  /**
   * hbal's own search: every round, every movable instance's every move against every node, the best
   * taken. Affordable while instances × nodes is small (EXACT_BUDGET); then it is exactly hbal's path.
   */
  private runExact(movable: readonly number[]): BalanceMove[] {
    const st = this.st, maxMoves = this.opt.maxMoves ?? Infinity;
    const moves: BalanceMove[] = [];
    let score = st.score();
    while (moves.length < maxMoves) {
      const best = this.bestOf(movable);
      if (best && this.gains(score, score + best.delta)) {
        moves.push(this.apply(best));
        score = st.score();
        continue;
      }
      // hbal stops here. We try pairs of moves: the first may cost, if the two together gain.
      if (this.opt.pairs === false || moves.length + 2 > maxMoves) break;
      const pair = this.bestPair(movable);
      if (!pair || !this.gains(score, score + pair[0].delta + pair[1].delta)) break;
      moves.push(this.apply(pair[0]));
      const second = this.bestFor(pair[1].idx); // the same move, re-read in the state after the first
      if (!second) break;
      moves.push(this.apply(second));
      score = st.score();
    }
    return moves;
  }

  /** The best move of all: the first instance (in order) of equally good moves wins, as in hbal. */
  private bestOf(movable: readonly number[]): Cand | undefined {
    let best: Cand | undefined;
    for (const i of movable) {
      const c = this.bestFor(i);
      if (c && (!best || c.delta < best.delta - 1e-12)) best = c;
    }
    return best;
  }

  /**
   * The best two successive moves, the first among the PAIR_FIRST least costly single moves (one per
   * instance), the second the best move after it. Bounded: PAIR_FIRST full scans.
   */
  private bestPair(movable: readonly number[]): [Cand, Cand] | undefined {
    const st = this.st;
    const firsts = movable.map((i) => this.bestFor(i)).filter((c): c is Cand => c !== undefined)
      .sort((a, b) => a.delta - b.delta || a.idx - b.idx).slice(0, PAIR_FIRST);
    let best: [Cand, Cand] | undefined;
    for (const first of firsts) {
      const inst = st.insts[first.idx]!, p = inst.pri, s = inst.sec;
      st.assign(first.idx, first.p2, first.s2);
      this.trial.refresh();
      const second = this.bestOf(movable);
      st.assign(first.idx, p, s);
      this.trial.refresh();
      if (second && second.idx !== first.idx && (!best || first.delta + second.delta < best[0].delta + best[1].delta - 1e-12)) {
        best = [first, second];
      }
    }
    return best;
  }

  /**
   * Lazy greedy: every instance's best move is kept in a heap with the score change it had when last
   * computed. The top is recomputed; if it is still at least as good as the next entry it is taken,
   * else it goes back with its fresh value. After a move, the instances on the nodes it touched are
   * recomputed; every refreshEvery moves (and before giving up) all are. Same result as hbal's full rescan
   * of every move each round whenever gains only shrink as the cluster evens out, at a small fraction
   * of the cost.
   */
  private runLazy(movable: readonly number[]): BalanceMove[] {
    const st = this.st, opt = this.opt;
    const maxMoves = opt.maxMoves ?? Infinity;
    const moves: BalanceMove[] = [];
    // Grouped by shape so the short-list cache rebuilds once per shape per refresh.
    const byShape = [...movable].sort((a, b) => shapeOrder(st.insts[a]!, st.insts[b]!) || a - b);
    const onNode: Set<number>[] = Array.from({ length: st.n }, () => new Set());
    for (const i of movable) { onNode[st.insts[i]!.pri]!.add(i); onNode[st.insts[i]!.sec]!.add(i); }
    const refreshEvery = Math.max(REFRESH_MIN, Math.ceil(movable.length / 16));
    const heap = new CandHeap();
    const version = new Int32Array(st.insts.length);
    const push = (idx: number): void => {
      version[idx]!++;
      const c = this.bestFor(idx);
      if (c) heap.push(c, version[idx]!);
    };
    const refreshAll = (): void => { heap.clear(); for (const i of byShape) push(i); };
    refreshAll();
    let fresh = true; // no move since the last full refresh
    let score = st.score();
    while (moves.length < maxMoves) {
      const top = heap.pop(version);
      if (!top) {
        if (fresh) break;
        refreshAll(); fresh = true; continue;
      }
      const c = this.bestFor(top.idx);
      if (!c) { version[top.idx]!++; continue; }
      const next = heap.peek(version);
      if (next && better(next, c)) { version[top.idx]!++; heap.push(c, version[top.idx]!); continue; }
      if (!this.gains(score, score + c.delta)) {
        if (fresh) break;
        refreshAll(); fresh = true; continue;
      }
      const inst = st.insts[c.idx]!;
      const touched = [inst.pri, inst.sec, c.p2, c.s2];
      onNode[inst.pri]!.delete(c.idx); onNode[inst.sec]!.delete(c.idx);
      moves.push(this.apply(c));
      onNode[c.p2]!.add(c.idx); onNode[c.s2]!.add(c.idx);
      score = st.score();
      fresh = false;
      if (moves.length % refreshEvery === 0) { refreshAll(); fresh = true; continue; }
      const again = new Set<number>();
      for (const x of touched) for (const i of onNode[x]!) again.add(i);
      for (const i of again) push(i);
    }
    return moves;
  }

  /** The best move of one instance: lowest score, then least data copied, then first found. */
  bestFor(idx: number): Cand | undefined {
    const st = this.st;
    const inst = st.insts[idx]!;
    const p = inst.pri, s = inst.sec, copy = inst.dsk;
    let bd = Infinity, bc = 0, bp = -1, bs = -1, bt = -1, bk: MoveKind = 'failover';
    // Inline "better than the best so far" (see better()); allocation only for the winner. hbal's
    // checks (the dearer part) only run for a move that would win.
    const force = this.opt.ignoreSoftErrors === true;
    const take = (d: number | undefined, p2: number, s2: number, kind: MoveKind, t: number): void => {
      if (d === undefined) return;
      const c = kind === 'failover' ? 0 : copy;
      if (!(bp < 0 || d < bd - 1e-12 || (Math.abs(d - bd) <= 1e-12 && c < bc))) return;
      if (!hbalAllows(st, inst, kind, t, force, this.repair)) return;
      bd = d; bc = c; bp = p2; bs = s2; bt = t; bk = kind;
    };
    take(this.delta(idx, s, p), s, p, 'failover', -1);
    if (!this.opt.noDiskMoves) {
      const g = st.group[p]!;
      if (st.n <= FULL_TARGETS || this.exact) {
        // hbal's order (possibleMoves): per node r:x, r:x f, f r:x f, f r:x; the first of equals wins.
        for (let x = 0; x < st.n; x++) {
          if (x === p || x === s || st.unusable[x] || st.group[x] !== g) continue;
          take(this.delta(idx, p, x), p, x, 'replace-secondary', x);
          take(this.delta(idx, x, p), x, p, 'replace-and-failover', x);
          take(this.delta(idx, x, s), x, s, 'replace-primary', x);
          take(this.delta(idx, s, x), s, x, 'failover-and-replace', x);
        }
        return bp < 0 ? undefined : { idx, p2: bp, s2: bs, kind: bk, target: bt, delta: bd, copied: bc };
      }
      const { asPrimary, asSecondary } = this.shortTargets(inst);
      for (const x of asSecondary) {
        if (x === p || x === s || st.group[x] !== g) continue;
        take(this.delta(idx, p, x), p, x, 'replace-secondary', x);
        take(this.delta(idx, s, x), s, x, 'failover-and-replace', x);
      }
      for (const x of asPrimary) {
        if (x === p || x === s || st.group[x] !== g) continue;
        take(this.delta(idx, x, p), x, p, 'replace-and-failover', x);
        take(this.delta(idx, x, s), x, s, 'replace-primary', x);
      }
    }
    return bp < 0 ? undefined : { idx, p2: bp, s2: bs, kind: bk, target: bt, delta: bd, copied: bc };
  }

  /** The best few nodes as new primary and as new secondary for this instance's shape. */
  private shortTargets(inst: InstState): { asPrimary: readonly number[]; asSecondary: readonly number[] } {
    const lists = this.lists.get(inst, { useN1: this.st.redundancy !== 'none', strict: true, spindleLimit: this.spindleLimit, spread: false }, TARGETS);
    const g = this.st.group[inst.pri]!;
    return { asPrimary: lists.topP[0].idx, asSecondary: lists.topS[0][g]?.idx ?? [] };
  }

  /** Score change of the move (to p2, s2; x the new node of a replace), or undefined when hbal would refuse it. */
  evaluate(idx: number, p2: number, s2: number, kind: MoveKind, x: number): number | undefined {
    if (!hbalAllows(this.st, this.st.insts[idx]!, kind, x, this.opt.ignoreSoftErrors === true, this.repair)) return undefined;
    return this.delta(idx, p2, s2);
  }

  /** Score change of moving the instance to (p2, s2), or undefined onto an offline node; hbal's checks apart. */
  delta(idx: number, p2: number, s2: number): number | undefined {
    const st = this.st, inst = st.insts[idx]!, p = inst.pri, s = inst.sec;
    if ((p2 !== p && p2 !== s && st.unusable[p2]) || (s2 !== p && s2 !== s && st.unusable[s2])) return undefined;
    if (p2 === s && st.unusable[s]) return undefined; // no failover onto an offline secondary
    const nodes = this.touched;
    // The distinct nodes of {p, s, p2, s2} (p ≠ s, p2 ≠ s2), without allocating.
    nodes[0] = p;
    nodes[1] = s;
    let count = 2;
    if (p2 !== p && p2 !== s) nodes[count++] = p2;
    if (s2 !== p && s2 !== s && s2 !== p2) nodes[count++] = s2;
    const m = inst.mem, vc = inst.online ? inst.vcpus : 0;
    // A forthcoming instance only moves the *_forth sums.
    const real = inst.forthcoming ? 0 : 1;
    const memUse = inst.usesMem ? m : 0;
    const dsk = inst.local ? inst.dsk : 0, su = inst.local ? inst.spindleUse : 0;
    let extra = 0;
    for (let j = 0; j < count; j++) {
      const x = nodes[j]!, d = this.deltas[j]!.reset(st, x);
      const wasP = x === p ? 1 : 0, isP = x === p2 ? 1 : 0, wasS = x === s ? 1 : 0, isS = x === s2 ? 1 : 0;
      const dp = isP - wasP, had = wasP | wasS, has = isP | isS;
      d.mem = dp * memUse; d.memAll = dp * m; d.cpu = dp * vc * real; d.cpuF = dp * vc;
      d.p = dp * real; d.s = (isS - wasS) * real;
      d.dskF = (has - had) * dsk; d.dsk = d.dskF * real; d.spF = (has - had) * su; d.sp = d.spF * real;
      if (wasS || isS) d.rMem = this.newReserve(x, inst, wasS ? p : -1, isS ? p2 : -1);
      if (st.offline[x]) extra += W_OFF_ALL * (d.p + d.s) + W_OFF_PRI * d.p;
    }
    if (inst.exclTags.length > 0 || st.hasLocation) extra += this.tagAndLocationDelta(inst, p, s, p2, s2);
    return this.trial.deltaN(nodes, this.deltas, count) + extra;
  }

  /**
   * Node x's reserved memory after the instance stops (from ≥ 0) / starts (to ≥ 0) counting for that
   * peer. Only those two peers' sums change, so the state's top three peers suffice: O(1).
   */
  private newReserve(x: number, inst: InstState, from: number, to: number): number {
    const st = this.st;
    if (!inst.secMem) return st.rMem[x]!;
    const m = inst.mem, k = st.peerTopKey, v = st.peerTopVal, o = x * 3;
    let r = 0, seenTo = false;
    for (let j = o; j < o + 3; j++) {
      const peer = k[j]!;
      if (peer < 0) break;
      let val = v[j]!;
      if (peer === from) val -= m;
      if (peer === to) { val += m; seenTo = true; }
      if (val > r) r = val;
    }
    if (to >= 0 && !seenTo) {
      const val = (st.peers[x]?.get(to) ?? 0) + m - (to === from ? m : 0);
      if (val > r) r = val;
    }
    return r;
  }

  /** Exclusion-tag and location terms: exact, by applying and reverting (rare: tagged instances only). */
  private tagAndLocationDelta(inst: InstState, p: number, s: number, p2: number, s2: number): number {
    const st = this.st, idx = st.instIndex.get(inst.name)!;
    const terms = (): number => W_TAGS * st.tagSum + W_LOC * st.locScoreSum + W_LOCX * (st.locPairTotal - st.locPairs.size);
    const before = terms();
    st.assign(idx, p2, s2);
    const after = terms();
    st.assign(idx, p, s);
    return after - before;
  }

  apply(c: Cand): BalanceMove {
    const st = this.st, inst = st.insts[c.idx]!;
    const from = { primary: st.names[inst.pri]!, secondary: st.names[inst.sec]! };
    st.assign(c.idx, c.p2, c.s2);
    this.trial.refresh();
    const x = c.target >= 0 ? st.names[c.target]! : '';
    const code = { failover: 'f', 'replace-secondary': `r:${x}`, 'replace-primary': `f r:${x} f`, 'failover-and-replace': `f r:${x}`, 'replace-and-failover': `r:${x} f` }[c.kind];
    return {
      instance: inst.name, kind: c.kind, code, from, to: { primary: st.names[c.p2]!, secondary: st.names[c.s2]! },
      score: st.score(), dataCopied: c.copied,
    };
  }
}

/** The one move taking an instance from (p, s) to (p2, s2), if hbal has one. */
function directKind(p: number, s: number, p2: number, s2: number): { kind: MoveKind; target: number } | undefined {
  if (p2 === s && s2 === p) return { kind: 'failover', target: -1 };
  if (p2 === p && s2 !== s) return { kind: 'replace-secondary', target: s2 };
  if (s2 === s && p2 !== p) return { kind: 'replace-primary', target: p2 };
  if (p2 === s) return { kind: 'failover-and-replace', target: s2 };
  if (s2 === p) return { kind: 'replace-and-failover', target: p2 };
  return undefined;
}

/** The last move of each instance (by index in the path). */
function lastMoves(moves: readonly BalanceMove[]): Map<string, number> {
  const last = new Map<string, number>();
  moves.forEach((m, i) => last.set(m.instance, i));
  return last;
}

/**
 * Replays the path, moving each instance of `merged` once, straight to where it ends, at the place of
 * its last move (its earlier moves are dropped); every other move as it was. Returns the new path, or
 * the position of the first move that is no longer allowed there.
 */
function replay(
  model: ClusterModel, moves: readonly BalanceMove[], merged: ReadonlySet<string>, opt: BalanceOptions, repair: boolean,
): BalanceMove[] | number {
  const st = new ClusterState(model), b = new Balancer(st, opt, repair), last = lastMoves(moves);
  const out: BalanceMove[] = [];
  for (let i = 0; i < moves.length; i++) {
    const m = moves[i]!;
    if (merged.has(m.instance) && last.get(m.instance) !== i) continue;
    const idx = st.instIndex.get(m.instance)!, inst = st.insts[idx]!;
    const p2 = st.index.get(m.to.primary)!, s2 = st.index.get(m.to.secondary)!;
    if (p2 === inst.pri && s2 === inst.sec) continue; // moved away and back: nothing to do
    const k = directKind(inst.pri, inst.sec, p2, s2);
    if (!k || b.evaluate(idx, p2, s2, k.kind, k.target) === undefined) return i;
    out.push(b.apply({ idx, p2, s2, kind: k.kind, target: k.target, delta: 0, copied: k.kind === 'failover' ? 0 : inst.dsk }));
  }
  return out;
}

/** Replays allowed before compress settles for what it has merged so far. */
const COMPRESS_TRIES = 24;

/**
 * Shortens the greedy path: an instance moved several times (r:x then r:y) is moved once, straight
 * to where it ends, wherever that single move is allowed at that point. The end state, hence the
 * score, is the greedy path's. When merging an instance makes a later move impossible, that
 * instance (the last one merged before the failing move) keeps its moves, and the replay is retried.
 */
function compress(model: ClusterModel, moves: readonly BalanceMove[], opt: BalanceOptions, repair: boolean): BalanceMove[] {
  const last = lastMoves(moves);
  if (last.size === moves.length) return [...moves];
  const merged = new Set<string>();
  const firstAt = new Map<string, number>();
  moves.forEach((m, i) => { if (last.get(m.instance) !== i && !firstAt.has(m.instance)) firstAt.set(m.instance, i); });
  for (const name of firstAt.keys()) merged.add(name);
  for (let tries = 0; tries < COMPRESS_TRIES && merged.size > 0; tries++) {
    const r = replay(model, moves, merged, opt, repair);
    if (typeof r !== 'number') {
      const greedyFinal = moves[moves.length - 1]!.score;
      const final = r.length > 0 ? r[r.length - 1]!.score : greedyFinal;
      return r.length < moves.length && final <= greedyFinal + 1e-9 ? r : [...moves];
    }
    // The merged instance whose dropped moves came last before the failure keeps its moves.
    let culprit: string | undefined, at = -1;
    for (const name of merged) {
      const f = firstAt.get(name)!;
      if (f < r && f > at) { at = f; culprit = name; }
    }
    merged.delete(culprit ?? moves[r]!.instance);
  }
  return [...moves];
}
