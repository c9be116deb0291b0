/**
 * What each slot of a node's value vector holds (layout.ts names the slots): one formula, read by
 * ClusterState for a node as it is (an empty delta) and by Trial for a node after a trial change.
 */
import * as layout from './layout.ts';
import type { ClusterState } from './state.ts';

// Module-local copies of the layout: Trial calls this in the inner loop of placement and balancing,
// and reading an imported binding there (a live binding, checked on every read) costs ~8 % of a balance.
const { K_MEM, K_DSK, K_REM, K_CPU, K_LPRI, K_LALL, K_SPN, K_MEMF, K_DSKF, K_CPUF, K_SPNF } = layout;

/** Change to one node's sums. `rMem` is the new absolute reserved memory. */
export class NodeDelta {
  mem = 0; memAll = 0; cpu = 0; cpuF = 0; dsk = 0; dskF = 0; sp = 0; spF = 0; p = 0; s = 0; rMem = 0;
  /** No change to node i. */
  reset(st: ClusterState, i: number): this {
    this.mem = this.memAll = this.cpu = this.cpuF = this.dsk = this.dskF = this.sp = this.spF = this.p = this.s = 0;
    this.rMem = st.rMem[i]!;
    return this;
  }
}

/** Node i's value in every slot after the delta, written to out[0..NK) (reciprocals: a multiply, not a divide). */
export function valuesAfter(st: ClusterState, i: number, d: NodeDelta, out: Float64Array): void {
  const iM = st.invTMem[i]!, iD = st.invTDsk[i]!, iC = st.invCpuDen[i]!, iH = st.invHiSp[i]!;
  const pc = st.pCnt[i]! + d.p;
  out[K_MEM] = (st.memBase[i]! - st.iMem[i]! - d.mem) * iM;
  out[K_DSK] = iD === 0 ? 1 : (st.fDsk[i]! - d.dsk) * iD; // no local disk: pDsk stays 1 (Ganeti)
  out[K_REM] = d.rMem * iM;
  out[K_CPU] = (st.uCpu[i]! + d.cpu) * iC;
  out[K_LPRI] = pc;
  out[K_LALL] = pc + st.sCnt[i]! + d.s;
  out[K_SPN] = (st.instSp[i]! + d.sp) * iH;
  out[K_MEMF] = (st.memBaseForth[i]! - st.iMemAll[i]! - d.memAll) * iM;
  out[K_DSKF] = iD === 0 ? 1 : (st.fDskF[i]! - d.dskF) * iD;
  out[K_CPUF] = (st.uCpuF[i]! + d.cpuF) * iC;
  out[K_SPNF] = (st.instSpF[i]! + d.spF) * iH;
}
