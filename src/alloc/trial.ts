/**
 * Score of a trial change to one or two nodes, in O(components), from the running sums in
 * ClusterState. This is what makes placement O(nodes): hail rebuilds and rescores the whole cluster
 * for every candidate (O(nodes) each, O(nodes²)–O(nodes³) per allocation); we only replace the changed
 * nodes' terms in Σx and Σx².
 */
import * as layout from './layout.ts';
import type { ClusterState } from './state.ts';
import { NodeDelta, valuesAfter } from './values.ts';

export { NodeDelta };

// Module-local copies of the layout: this is the inner loop of placement and balancing, and reading an
// imported binding there (a live binding, checked on every read) costs ~8 % of a balance.
const { NK, K_REM, W_N1, W_RTOTAL, STD_WEIGHT } = layout;

function stdDev(n: number, sum: number, sumSq: number): number {
  const mean = sum / n;
  const v = sumSq / n - mean * mean;
  return v > 0 ? Math.sqrt(v) : 0;
}

/** N+1 count term of node i after a delta (online nodes only). */
function n1After(st: ClusterState, i: number, d: NodeDelta): number {
  const free = st.memCap[i]! - st.iMem[i]! - d.mem;
  return free <= d.rMem ? st.pCnt[i]! + st.sCnt[i]! + d.p + d.s : 0;
}

export class Trial {
  private readonly bufA = new Float64Array(NK);
  private readonly bufB = new Float64Array(NK);
  /** Current std-dev per slot; call refresh() after the state changes. */
  private readonly cur = new Float64Array(NK);
  constructor(private readonly st: ClusterState) {
    this.refresh();
  }

  refresh(): void {
    this.st.currentStd(this.cur);
  }

  /**
   * Score change if node a (and b, if ≥ 0; a ≠ b) took the deltas. Both must be online (they are
   * always placement targets). Exclusion-tag and location terms are added by the caller.
   */
  delta(a: number, da: NodeDelta, b: number, db: NodeDelta | undefined): number {
    const st = this.st, A = this.bufA, B = this.bufB, v = st.vals, S = st.S, Q = st.Q, n = st.nOnline;
    valuesAfter(st, a, da, A);
    const oa = a * NK;
    const two = b >= 0 && db !== undefined;
    if (two) valuesAfter(st, b, db, B);
    const ob = b * NK;
    let total = 0;
    for (let k = 0; k < NK; k++) {
      const xa = v[oa + k]!, ya = A[k]!;
      let dS = ya - xa, dQ = ya * ya - xa * xa;
      if (two) {
        const xb = v[ob + k]!, yb = B[k]!;
        dS += yb - xb;
        dQ += yb * yb - xb * xb;
      }
      if (dS === 0 && dQ === 0) continue;
      total += STD_WEIGHT[k]! * (stdDev(n, S[k]! + dS, Q[k]! + dQ) - this.cur[k]!);
      if (k === K_REM) total += W_RTOTAL * dS;
    }
    total += W_N1 * (n1After(st, a, da) - st.n1v[a]!);
    if (two) total += W_N1 * (n1After(st, b, db!) - st.n1v[b]!);
    return total;
  }

  private readonly bufs = [new Float64Array(NK), new Float64Array(NK), new Float64Array(NK), new Float64Array(NK)];
  private readonly dS = new Float64Array(NK);
  private readonly dQ = new Float64Array(NK);

  /** Score change if `count` distinct online nodes took the deltas (a balancing move touches ≤ 3). */
  deltaN(nodes: readonly number[], deltas: readonly NodeDelta[], count: number): number {
    const st = this.st, v = st.vals, S = st.S, Q = st.Q, n = st.nOnline, dS = this.dS, dQ = this.dQ;
    dS.fill(0);
    dQ.fill(0);
    let total = 0;
    for (let j = 0; j < count; j++) {
      const i = nodes[j]!, d = deltas[j]!, B = this.bufs[j]!, o = i * NK;
      if (st.offline[i]) continue; // only the offline counts move, handled by the caller
      valuesAfter(st, i, d, B);
      for (let k = 0; k < NK; k++) {
        const x = v[o + k]!, y = B[k]!;
        dS[k]! += y - x;
        dQ[k]! += y * y - x * x;
      }
      total += W_N1 * (n1After(st, i, d) - st.n1v[i]!);
    }
    for (let k = 0; k < NK; k++) {
      if (dS[k] === 0 && dQ[k] === 0) continue;
      total += STD_WEIGHT[k]! * (stdDev(n, S[k]! + dS[k]!, Q[k]! + dQ[k]!) - this.cur[k]!);
      if (k === K_REM) total += W_RTOTAL * dS[k]!;
    }
    return total;
  }
}
