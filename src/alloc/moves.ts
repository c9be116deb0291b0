/**
 * Whether hbal would take a move: its checks, step by step, as htools' applyMoveEx runs them
 * (Cluster/Moves.hs, Node.addPriEx/addSecExEx in Ganeti 3.0). A move is a short sequence of node
 * operations and each intermediate node state is checked too: `f r:x f` first makes the old
 * secondary primary, so that node must be able to run the instance even though it ends as secondary.
 *
 * "Soft" checks (N+1, vCPU ratio, spindles, exclusion tags, forthcoming limits) are skipped where hbal
 * skips them: on a node taking over from an offline (or drained) one, so evacuation is always possible.
 * Hard checks (memory and disk must stay above zero) always apply.
 *
 * `repair` (ours, not hbal's): a node already over its vCPU or spindle limit may still take part in a
 * move that does not raise its count there (a failover onto a secondary that already counts the
 * instance's spindles), and a node already failing N+1 may become a secondary, so a violating cluster
 * can be repaired without any node getting worse.
 */
import type { ClusterState, InstState } from './state.ts';
import type { MoveKind } from './balance.ts';

/** What the node held of this instance before the step (its role is removed first). */
const enum Had { None = 0, Pri = 1, Sec = 2 }

/** Node y as htools sees it once the instance's old role there is removed. */
interface View {
  free: number; // unallocated memory (Ganeti unallocatedMem)
  freeForth: number; // Ganeti fMemForth
  dsk: number;
  dskF: number;
  sp: number;
  spF: number;
  cpu: number;
  cpuF: number;
  rMem: number;
  failN1: boolean;
}

const view: View = { free: 0, freeForth: 0, dsk: 0, dskF: 0, sp: 0, spF: 0, cpu: 0, cpuF: 0, rMem: 0, failN1: false };

function see(st: ClusterState, inst: InstState, y: number, had: Had): View {
  const v = view, real = !inst.forthcoming;
  const local = inst.local ? 1 : 0, gone = had !== Had.None ? 1 : 0, wasP = had === Had.Pri ? 1 : 0;
  v.free = st.memCap[y]! - st.iMem[y]! + (wasP && inst.usesMem ? inst.mem : 0);
  v.freeForth = st.memBaseForth[y]! - st.iMemAll[y]! + wasP * inst.mem;
  v.dsk = st.fDsk[y]! + (real ? gone * local * inst.dsk : 0);
  v.dskF = st.fDskF[y]! + gone * local * inst.dsk;
  v.sp = st.instSp[y]! - (real ? gone * local * inst.spindleUse : 0);
  v.spF = st.instSpF[y]! - gone * local * inst.spindleUse;
  v.cpu = st.uCpu[y]! - (real && inst.online ? wasP * inst.vcpus : 0);
  v.cpuF = st.uCpuF[y]! - (inst.online ? wasP * inst.vcpus : 0);
  v.rMem = had === Had.Sec && inst.secMem && real ? reserveWithout(st, y, inst) : st.rMem[y]!;
  v.failN1 = had === Had.None ? st.failsN1(y) : v.free <= v.rMem;
  return v;
}

/** Node y's reserved memory once this instance (secondary there) stops counting for its primary. */
function reserveWithout(st: ClusterState, y: number, inst: InstState): number {
  let r = 0;
  for (const [peer, mem] of st.peers[y] ?? []) {
    const v = peer === inst.pri ? mem - inst.mem : mem;
    if (v > r) r = v;
  }
  return r;
}

function cpuOver(st: ClusterState, y: number, used: number): boolean {
  return st.cpuRatio[y]! >= 0 && used / st.tCpu[y]! > st.cpuRatio[y]! + 1e-12;
}

/** Node.addPriEx: may node y (after losing `had`) run the instance as primary? */
export function canAddPri(st: ClusterState, inst: InstState, y: number, had: Had, force: boolean, repair = false): boolean {
  const v = see(st, inst, y, had), strict = !force, local = inst.local;
  const vc = inst.online ? inst.vcpus : 0;
  const forthOk = (): boolean =>
    !(v.freeForth - inst.mem <= 0 || (local && v.dskF - inst.dsk <= 0) ||
      (local && st.spindleLimit && v.spF + inst.spindleUse > st.hiSp[y]!) || cpuOver(st, y, v.cpuF + vc));
  if (inst.forthcoming) return !strict || forthOk();
  const newFree = v.free - (inst.usesMem ? inst.mem : 0);
  if (newFree <= 0) return false;
  if (local && v.dsk - inst.dsk <= 0) return false;
  if (!strict) return true;
  if (local && st.spindleLimit && v.sp + inst.spindleUse > st.hiSp[y]! && !(repair && v.sp + inst.spindleUse <= st.instSp[y]!)) return false;
  if (st.redundancy !== 'none' && newFree <= v.rMem && !v.failN1) return false;
  if (cpuOver(st, y, v.cpu + vc) && !(repair && v.cpu + vc <= st.uCpu[y]!)) return false;
  const tags = st.pTags[y];
  if (tags && had !== Had.Pri) for (const t of inst.exclTags) if (tags.has(t)) return false;
  return forthOk();
}

/** Node.addSecExEx: may node y (after losing `had`) hold the instance's secondary for primary pdx? */
export function canAddSec(
  st: ClusterState, inst: InstState, y: number, had: Had, force: boolean, ignoreDisks: boolean, pdx: number, repair = false,
): boolean {
  const v = see(st, inst, y, had), strict = !force, local = inst.local;
  const needed = inst.secMem ? inst.mem : 0;
  const n1Waived = repair && st.failsN1(y);
  const forthOk = (): boolean =>
    !(v.dskF - inst.dsk <= 0 || (local && st.spindleLimit && v.spF + inst.spindleUse > st.hiSp[y]!) || (needed >= v.freeForth && !n1Waived));
  if (inst.forthcoming) return !strict || forthOk();
  if (!ignoreDisks && v.dsk - inst.dsk <= 0) return false;
  if (!strict) return true;
  if (local && st.spindleLimit && v.sp + inst.spindleUse > st.hiSp[y]! && !(repair && v.sp + inst.spindleUse <= st.instSp[y]!)) return false;
  if (needed >= v.free && !n1Waived) return false;
  if (st.redundancy !== 'none') {
    const peer = (st.peers[y]?.get(pdx) ?? 0) - (had === Had.Sec && pdx === inst.pri && inst.secMem ? inst.mem : 0);
    const newR = Math.max(v.rMem, peer + needed);
    if (v.free <= newR && !v.failN1) return false;
  }
  return forthOk();
}

/**
 * hbal's applyMoveEx checks for one move of a placed DRBD instance from (p, s); x is the new node of
 * the replace moves. `force` is hbal's --ignore-soft-errors.
 */
export function hbalAllows(st: ClusterState, inst: InstState, kind: MoveKind, x: number, force = false, repair = false): boolean {
  const p = inst.pri, s = inst.sec;
  const offP = st.offline[p] === 1, offS = st.offline[s] === 1;
  const forceP = offP || force, forceS = offS || force, r = repair;
  switch (kind) {
    case 'failover':
      return canAddPri(st, inst, s, Had.Sec, forceP, r) && canAddSec(st, inst, p, Had.Pri, forceP, offP, s, r);
    case 'replace-secondary':
      // The primary is re-added unchanged with every soft check off: only "free memory > 0" can fail.
      return canAddSec(st, inst, x, Had.None, forceS, false, p, r) && canAddPri(st, inst, p, Had.Pri, true);
    case 'replace-primary':
      // f r:x f: the old secondary runs the instance in between.
      return canAddPri(st, inst, s, Had.Sec, forceP, r) && canAddPri(st, inst, x, Had.None, forceP, r) &&
        canAddSec(st, inst, s, Had.Sec, forceP, false, x, r);
    case 'replace-and-failover':
      return canAddPri(st, inst, x, Had.None, force, r) && canAddSec(st, inst, p, Had.Pri, forceS, false, x, r);
    case 'failover-and-replace':
      return canAddPri(st, inst, s, Had.Sec, forceP, r) && canAddSec(st, inst, x, Had.None, forceP, false, s, r);
  }
}
