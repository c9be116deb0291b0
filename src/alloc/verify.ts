/**
 * The checks of `gnt-cluster verify` (and hcheck) that need only the cluster model: N+1 memory with
 * Ganeti's exact rule, policy limits, exclusion (antiAffinity) conflicts, group mismatches, instances
 * on offline or drained nodes. Checks that need the nodes' observed state (instances down that should
 * run, orphans, degraded disks, unreachable nodes) belong to the planner, not here.
 *
 * N+1 (ganeti.md §4.5): node N fails when, for some node P, the memory of the replicated instances with
 * primary P and secondary N (running or not: a stopped one may be started; not auto_balance=N, not
 * ADMIN_offline) exceeds N's free memory.
 */
import type { ClusterModel } from './model.ts';
import { ClusterState } from './state.ts';

export type FindingCode =
  | 'ENODEN1' | 'EPOLICYMEM' | 'EPOLICYCPU' | 'EPOLICYDISK' | 'EPOLICYSPINDLES' | 'EEXCLUSION' | 'EGROUP'
  | 'ESAMENODE' | 'EUNKNOWNNODE' | 'ENOSECONDARY' | 'WOFFLINEPRI' | 'WOFFLINESEC';

export interface Finding {
  readonly code: FindingCode;
  readonly severity: 'error' | 'warning';
  readonly node?: string;
  readonly instance?: string;
  readonly message: string;
}

const GiB = 2 ** 30;
const gib = (b: number): string => (Math.abs(b) >= GiB ? `${(b / GiB).toFixed(1)} GiB` : `${Math.round(b / 2 ** 20)} MiB`);

/** Every finding, errors first, then by code, node, instance (deterministic). */
export function verifyModel(model: ClusterModel): readonly Finding[] {
  const out: Finding[] = [];
  const nodes = model.nodes;
  // Placement sanity first: the state below ignores what it cannot place.
  for (const inst of [...model.instances.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const { primary: p, secondary: s } = inst;
    if (p === undefined) continue;
    if (!nodes.has(p)) out.push({ code: 'EUNKNOWNNODE', severity: 'error', instance: inst.name, message: `instance ${inst.name}: primary ${p} is not a node of the cluster` });
    if (s !== undefined && !nodes.has(s)) out.push({ code: 'EUNKNOWNNODE', severity: 'error', instance: inst.name, message: `instance ${inst.name}: secondary ${s} is not a node of the cluster` });
    if (s !== undefined && s === p) out.push({ code: 'ESAMENODE', severity: 'error', instance: inst.name, message: `instance ${inst.name}: primary and secondary are both ${p}` });
    if (inst.template === 'replicated' && s === undefined && inst.forthcoming !== true) {
      out.push({ code: 'ENOSECONDARY', severity: 'error', instance: inst.name, message: `instance ${inst.name}: replicated but has no secondary (not redundant)` });
    }
    const pn = nodes.get(p), sn = s !== undefined ? nodes.get(s) : undefined;
    if (pn && sn && pn.group !== sn.group) {
      out.push({ code: 'EGROUP', severity: 'error', instance: inst.name, message: `instance ${inst.name}: primary ${p} is in group ${pn.group}, secondary ${s} in group ${sn.group}` });
    }
    if (pn && (pn.offline || pn.drained)) {
      out.push({ code: 'WOFFLINEPRI', severity: 'warning', instance: inst.name, node: p, message: `instance ${inst.name}: primary ${p} is ${pn.offline ? 'offline' : 'drained'}` });
    }
    if (sn && (sn.offline || sn.drained)) {
      out.push({ code: 'WOFFLINESEC', severity: 'warning', instance: inst.name, node: s!, message: `instance ${inst.name}: secondary ${s} is ${sn.offline ? 'offline' : 'drained'}` });
    }
  }
  const st = new ClusterState(model);
  for (let i = 0; i < st.n; i++) {
    const node = st.names[i]!;
    if (st.hardOffline[i]) continue;
    const free = st.memCap[i]! - st.iMem[i]!;
    if (free < 0) {
      out.push({ code: 'EPOLICYMEM', severity: 'error', node, message: `node ${node}: instances need ${gib(st.iMem[i]!)}, the limit (memory × overcommit) is ${gib(st.memCap[i]!)}` });
    }
    if (st.uCpu[i]! > st.cpuLimit[i]!) {
      out.push({ code: 'EPOLICYCPU', severity: 'error', node, message: `node ${node}: ${st.uCpu[i]} vCPUs on ${st.tCpu[i]} CPUs exceeds the ratio ${st.cpuRatio[i]}` });
    }
    if (st.fDsk[i]! < 0) out.push({ code: 'EPOLICYDISK', severity: 'error', node, message: `node ${node}: disks exceed its capacity by ${gib(-st.fDsk[i]!)}` });
    if (st.spindleLimit && st.instSp[i]! > st.hiSp[i]!) {
      out.push({ code: 'EPOLICYSPINDLES', severity: 'error', node, message: `node ${node}: instances use ${st.instSp[i]} spindles, the policy allows ${st.hiSp[i]}` });
    }
    if (st.redundancy !== 'none' && !st.offline[i]) {
      // One finding per peer whose failure this node could not absorb (Ganeti's ENODEN1 wording).
      for (const [peer, need] of [...(st.peers[i] ?? [])].sort((a, b) => a[0] - b[0])) {
        if (free + st.fMemAdj[i]! < need) {
          out.push({
            code: 'ENODEN1', severity: 'error', node,
            message: `node ${node}: not enough memory to accommodate instance failovers should node ${st.names[peer]} fail (needs ${gib(need)}, has ${gib(free)} free)`,
          });
        }
      }
    }
    const tags = st.pTags[i];
    if (tags) {
      for (const [tag, count] of [...tags].sort()) {
        if (count > 1) out.push({ code: 'EEXCLUSION', severity: 'error', node, message: `node ${node}: ${count} primary instances share the anti-affinity value ${tag}` });
      }
    }
  }
  const rank = (f: Finding): string => `${f.severity === 'error' ? 0 : 1}|${f.code}|${f.node ?? ''}|${f.instance ?? ''}`;
  return out.sort((a, b) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0));
}
