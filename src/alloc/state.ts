/**
 * The allocator's working state: per-node sums kept incrementally (Ganeti's Node fields), and for
 * every score component the running Σx and Σx² over online nodes, so the score after a trial change
 * to one or two nodes costs O(1) instead of O(nodes). Mutable on purpose, private to alloc/: the
 * public functions copy the model in, work here, and hand back plain data.
 *
 * Memory follows htools (Instance.usesMemory): only an instance that runs uses memory on its primary;
 * a stopped one still reserves its memory on its secondary for N+1 and counts in the *_forth memory
 * (Ganeti's fMemForth); ADMIN_offline instances count only there.
 */
import {
  FORTH_TWIN, K_MEM, K_REM, NK, SLOT_COMPONENTS, STD_WEIGHT, W_LOC, W_LOCX, W_N1, W_OFF_ALL, W_OFF_PRI, W_RTOTAL, W_TAGS,
} from './layout.ts';
import { METRICS, stdDev, type ScoreBreakdown } from './metrics.ts';
import type { ClusterModel, InstanceModel, NodeModel } from './model.ts';
import { NodeDelta, valuesAfter } from './values.ts';

const TOUCH_CAP = 1 << 16;

export interface InstState {
  readonly name: string;
  readonly mem: number;
  readonly vcpus: number;
  readonly dsk: number;
  readonly spindleUse: number;
  readonly replicated: boolean;
  /** Has a local disk (every template but Ganeti's diskless). */
  readonly local: boolean;
  /** Not ADMIN_offline: uses vCPUs. */
  readonly online: boolean;
  /** Uses memory on its primary (Ganeti's usesMemory): runs, and is neither offline nor forthcoming. */
  readonly usesMem: boolean;
  /** Counts for N+1 on its secondary (replicated, auto_balance, not offline, not forthcoming). */
  readonly secMem: boolean;
  readonly forthcoming: boolean;
  readonly movable: boolean;
  /** Ganeti auto_balance (default true). */
  readonly autoBalance: boolean;
  readonly exclTags: readonly string[];
  readonly desiredLoc: readonly string[];
  pri: number; // node index, -1 unplaced
  sec: number; // node index, -1 none
}

export class ClusterState {
  readonly n: number;
  readonly names: readonly string[];
  readonly index: ReadonlyMap<string, number>;
  readonly group: Int32Array;
  readonly groupNames: readonly string[];
  /** Excluded from the score's spreads and counted by the offline penalties (offline or drained). */
  readonly offline: Uint8Array;
  /** Cannot take anything new: offline or drained. */
  readonly unusable: Uint8Array;
  readonly drained: Uint8Array;
  readonly hardOffline: Uint8Array;
  readonly tMem: Float64Array;
  /** Memory instances may use under overcommit: tMem × overcommit − node OS − unaccounted. */
  readonly memCap: Float64Array;
  /** tMem − node OS − max(0, unaccounted): Ganeti's unallocated memory before instances. */
  readonly memBase: Float64Array;
  /** tMem − node OS − unaccounted (raw): the base of Ganeti's fMemForth. */
  readonly memBaseForth: Float64Array;
  readonly iMem: Float64Array;
  readonly iMemAll: Float64Array;
  /**
   * htools judges N+1 of a node as loaded by `free < reserved`, with the free memory the file reports
   * (before unaccounted memory is clamped at 0), and of a node any instance was added to or removed
   * from since by `unallocated ≤ reserved`. touched[i] says which rule applies; fMemAdj[i] turns our
   * unallocated memory back into the reported one (max(0, x) − x).
   */
  readonly touched: Uint8Array;
  readonly fMemAdj: Float64Array;
  private loading = true;
  readonly tDsk: Float64Array;
  readonly fDsk: Float64Array;
  readonly fDskF: Float64Array;
  readonly tCpu: Float64Array;
  readonly cpuLimit: Float64Array;
  readonly cpuSpeed: Float64Array;
  readonly uCpu: Float64Array;
  readonly uCpuF: Float64Array;
  readonly hiSp: Float64Array;
  readonly instSp: Float64Array;
  readonly instSpF: Float64Array;
  readonly pCnt: Float64Array;
  readonly sCnt: Float64Array;
  // Reciprocals for the hot placement scan (a multiply instead of a divide per node).
  readonly invTMem: Float64Array;
  readonly invTDsk: Float64Array;
  readonly invCpuDen: Float64Array;
  readonly invHiSp: Float64Array;
  readonly rMem: Float64Array;
  /** Per secondary node: primary node index → memory of its N+1-counted instances here. */
  readonly peers: (Map<number, number> | undefined)[];
  /** Per node: exclusion tag → count of primaries carrying it. */
  readonly pTags: (Map<string, number> | undefined)[];
  readonly locTags: (readonly string[])[];
  readonly locSum: Float64Array;
  readonly insts: InstState[] = [];
  readonly instIndex = new Map<string, number>();
  readonly vcpuRatio: number;
  /** Per node: its group's vCPU ratio (a group policy's, else the cluster's). */
  readonly cpuRatio: Float64Array;
  readonly redundancy: 'n+1' | 'none';
  /** The policy sets a spindle ratio (Ganeti files): spindles are then a hard limit. */
  readonly spindleLimit: boolean;
  hasLocation = false;
  hasForthcoming = false;
  /**
   * Whether each *_forth slot equals its base slot on every node (no forthcoming or offline
   * instances): then a trial scores the base slot once at double weight. Cleared, never re-set,
   * by an assignment that makes them differ.
   */
  twinMem = false;
  twinRest = false;

  // Aggregates over online nodes.
  nOnline = 0;
  readonly S = new Float64Array(NK);
  readonly Q = new Float64Array(NK);
  /** Per node cached component values, NK per node. */
  readonly vals: Float64Array;
  readonly n1v: Float64Array;
  readonly tagv: Float64Array;
  readonly offAllV: Float64Array;
  readonly offPriV: Float64Array;
  n1Sum = 0;
  /** An empty delta and a buffer, to read a node's values as they are. */
  private readonly unchanged = new NodeDelta();
  private readonly scratch = new Float64Array(NK);
  offAll = 0;
  offPri = 0;
  tagSum = 0;
  locScoreSum = 0;
  /** Cluster-wide (location tag, exclusion tag) pair counts of primaries on online nodes. */
  readonly locPairs = new Map<string, number>();
  locPairTotal = 0;

  constructor(model: ClusterModel) {
    const nodes = [...model.nodes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const n = (this.n = nodes.length);
    this.names = nodes.map((x) => x.name);
    this.index = new Map(this.names.map((x, i) => [x, i]));
    const groups = [...new Set(nodes.map((x) => x.group))].sort();
    this.groupNames = groups;
    const gIndex = new Map(groups.map((g, i) => [g, i]));
    const f64 = (): Float64Array => new Float64Array(n);
    this.group = new Int32Array(n);
    this.offline = new Uint8Array(n);
    this.unusable = new Uint8Array(n);
    this.drained = new Uint8Array(n);
    this.hardOffline = new Uint8Array(n);
    this.tMem = f64(); this.memCap = f64(); this.memBase = f64(); this.memBaseForth = f64();
    this.iMem = f64(); this.iMemAll = f64(); this.fMemAdj = f64();
    this.touched = new Uint8Array(n);
    this.tDsk = f64(); this.fDsk = f64(); this.fDskF = f64();
    this.tCpu = f64(); this.cpuLimit = f64(); this.cpuSpeed = f64(); this.uCpu = f64(); this.uCpuF = f64();
    this.hiSp = f64(); this.instSp = f64(); this.instSpF = f64();
    this.pCnt = f64(); this.sCnt = f64(); this.rMem = f64(); this.locSum = f64();
    this.invTMem = f64(); this.invTDsk = f64(); this.invCpuDen = f64(); this.invHiSp = f64();
    this.peers = new Array<Map<number, number> | undefined>(n);
    this.peerTopKey = new Int32Array(3 * n).fill(-1);
    this.peerTopVal = new Float64Array(3 * n);
    this.pTags = new Array<Map<string, number> | undefined>(n);
    this.locTags = new Array<readonly string[]>(n);
    this.vals = new Float64Array(n * NK);
    this.n1v = f64(); this.tagv = f64(); this.offAllV = f64(); this.offPriV = f64();
    this.vcpuRatio = model.policy.vcpuRatio;
    this.cpuRatio = f64();
    this.redundancy = model.policy.redundancy;
    this.spindleLimit = model.policy.spindleRatio !== undefined;
    const oc = model.policy.memoryOvercommit;
    const spRatio = model.policy.spindleRatio ?? 32;

    nodes.forEach((nd: NodeModel, i) => {
      this.group[i] = gIndex.get(nd.group) ?? 0;
      this.drained[i] = nd.drained ? 1 : 0;
      this.hardOffline[i] = nd.offline ? 1 : 0;
      // htools loads drained nodes as offline: they leave the spreads and their instances are penalised.
      this.offline[i] = nd.drained || nd.offline ? 1 : 0;
      this.unusable[i] = this.offline[i];
      const nMem = nd.nodeMemory ?? 0, x = nd.unaccountedMemory ?? 0;
      this.tMem[i] = nd.memory;
      this.memCap[i] = nd.memory * oc - nMem - Math.max(0, x);
      this.memBase[i] = nd.memory - nMem - Math.max(0, x);
      this.memBaseForth[i] = nd.memory - nMem - x;
      this.fMemAdj[i] = Math.max(0, x) - x;
      this.tDsk[i] = nd.disk;
      this.fDsk[i] = nd.freeDisk ?? nd.disk;
      this.tCpu[i] = nd.vcpus;
      // htools gives each node its group's policy (ratios included).
      const gp = model.policy.groupPolicies?.[nd.group];
      this.cpuRatio[i] = gp?.vcpuRatio ?? model.policy.vcpuRatio;
      this.cpuLimit[i] = nd.vcpus * this.cpuRatio[i]!;
      this.cpuSpeed[i] = nd.cpuSpeed ?? 1;
      this.uCpu[i] = this.uCpuF[i] = nd.nodeVcpus ?? 0;
      this.hiSp[i] = (gp?.spindleRatio ?? spRatio) * (nd.spindles ?? 1);
      this.locTags[i] = nd.locationTags ?? [];
      this.invTMem[i] = 1 / nd.memory;
      this.invTDsk[i] = nd.disk === 0 ? 0 : 1 / nd.disk; // no local disk: pDsk stays 1 (Ganeti)
      this.invCpuDen[i] = 1 / (nd.vcpus * this.cpuSpeed[i]!);
      this.invHiSp[i] = 1 / this.hiSp[i]!;
      if (this.locTags[i]!.length > 0) this.hasLocation = true;
    });
    // With a reported free disk the instances' disks are already in it; without, subtract them below.
    const reportedDisk = nodes.map((nd) => nd.freeDisk !== undefined);
    this.fDskF.set(this.fDsk);
    const insts = [...model.instances.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (insts.some((x) => (x.desiredLocation?.length ?? 0) > 0)) this.hasLocation = true;
    for (const inst of insts) {
      const idx = this.addInstanceRecord(inst);
      const st = this.insts[idx]!;
      const p = inst.primary !== undefined ? this.index.get(inst.primary) : undefined;
      if (p === undefined) continue;
      const s = inst.secondary !== undefined ? this.index.get(inst.secondary) ?? -1 : -1;
      st.pri = p;
      st.sec = st.replicated ? s : -1;
      this.attach(idx, reportedDisk);
    }
    this.loading = false;
    this.recomputeAggregates();
  }

  /**
   * Registers an instance (unplaced); returns its index. A known, still unplaced instance is re-read
   * when `refresh` is set (a retry may bring a different size).
   */
  addInstanceRecord(inst: InstanceModel, refresh = false): number {
    const existing = this.instIndex.get(inst.name);
    if (existing !== undefined && !(refresh && this.insts[existing]!.pri < 0)) return existing;
    const online = inst.adminOffline !== true;
    const forth = inst.forthcoming === true;
    const replicated = inst.template === 'replicated';
    const st: InstState = {
      name: inst.name,
      mem: inst.memory,
      vcpus: inst.vcpus,
      dsk: inst.disk,
      spindleUse: inst.spindleUse ?? 1,
      replicated,
      local: inst.diskless !== true,
      online,
      usesMem: online && !forth && inst.running,
      secMem: replicated && online && !forth && inst.autoBalance !== false,
      forthcoming: forth,
      movable: replicated && inst.autoBalance !== false,
      autoBalance: inst.autoBalance !== false,
      exclTags: inst.antiAffinity,
      desiredLoc: inst.desiredLocation ?? [],
      pri: -1,
      sec: -1,
    };
    if (forth) this.hasForthcoming = true;
    // A first desired location turns location scoring on; nothing placed so far carries one.
    if (st.desiredLoc.length > 0) this.hasLocation = true;
    if (existing !== undefined) {
      this.insts[existing] = st;
      return existing;
    }
    this.insts.push(st);
    this.instIndex.set(inst.name, this.insts.length - 1);
    return this.insts.length - 1;
  }

  /** Location score of one instance on (p, s): shared failure domains + unmet desired locations. */
  instLocScore(st: InstState, p: number, s: number): number {
    if (!this.hasLocation || st.forthcoming) return 0;
    const lp = this.locTags[p]!;
    let score = 0;
    if (s >= 0) for (const t of this.locTags[s]!) if (lp.includes(t)) score++;
    for (const t of st.desiredLoc) if (!lp.includes(t)) score++;
    return score;
  }

  /**
   * Puts instance idx onto its pri/sec in the per-node sums (not the aggregates: the caller refreshes).
   * `reportedDisk[i]` true means node i's free disk already excludes its instances (loaded state).
   */
  private attach(idx: number, reportedDisk?: readonly boolean[]): void {
    const st = this.insts[idx]!;
    const p = st.pri, s = st.sec;
    if (!this.loading) { this.touched[p] = 1; if (s >= 0) this.touched[s] = 1; }
    this.iMemAll[p]! += st.mem;
    if (st.online) this.uCpuF[p]! += st.vcpus;
    if (st.local) this.instSpF[p]! += st.spindleUse;
    for (const t of st.exclTags) this.addTag(p, t);
    if (!st.forthcoming) {
      if (st.usesMem) this.iMem[p]! += st.mem;
      if (st.online) this.uCpu[p]! += st.vcpus;
      this.pCnt[p]! += 1;
      if (st.local) this.instSp[p]! += st.spindleUse;
      if (this.hasLocation) {
        const ls = this.instLocScore(st, p, s);
        this.locSum[p]! += ls;
        if (!this.offline[p]) { this.locScoreSum += ls; this.addLocPairs(p, st.exclTags, 1); }
      }
    }
    this.takeDisk(st, p, reportedDisk, -1);
    if (s >= 0) {
      if (st.local) this.instSpF[s]! += st.spindleUse;
      this.takeDisk(st, s, reportedDisk, -1);
      if (!st.forthcoming) {
        this.sCnt[s]! += 1;
        if (st.local) this.instSp[s]! += st.spindleUse;
        if (st.secMem) {
          let m = this.peers[s];
          if (!m) m = this.peers[s] = new Map();
          const v = (m.get(p) ?? 0) + st.mem;
          m.set(p, v);
          if (v > this.rMem[s]!) this.rMem[s] = v;
          this.rankPeers(s);
        }
      }
    }
  }

  /**
   * Disk of one instance on node i (sign −1 takes, +1 gives back). A loaded node's reported free disk
   * already excludes its real instances, but never forthcoming ones (they do not exist yet).
   */
  private takeDisk(st: InstState, i: number, reportedDisk: readonly boolean[] | undefined, sign: 1 | -1): void {
    if (!st.local) return;
    const d = sign * st.dsk;
    if (st.forthcoming) { this.fDskF[i]! += d; return; }
    if (reportedDisk?.[i]) return;
    this.fDsk[i]! += d;
    this.fDskF[i]! += d;
  }

  private detach(idx: number): void {
    const st = this.insts[idx]!;
    const p = st.pri, s = st.sec;
    this.touched[p] = 1;
    if (s >= 0) this.touched[s] = 1;
    this.iMemAll[p]! -= st.mem;
    if (st.online) this.uCpuF[p]! -= st.vcpus;
    if (st.local) this.instSpF[p]! -= st.spindleUse;
    for (const t of st.exclTags) this.delTag(p, t);
    if (!st.forthcoming) {
      if (st.usesMem) this.iMem[p]! -= st.mem;
      if (st.online) this.uCpu[p]! -= st.vcpus;
      this.pCnt[p]! -= 1;
      if (st.local) this.instSp[p]! -= st.spindleUse;
      if (this.hasLocation) {
        const ls = this.instLocScore(st, p, s);
        this.locSum[p]! -= ls;
        if (!this.offline[p]) { this.locScoreSum -= ls; this.addLocPairs(p, st.exclTags, -1); }
      }
    }
    this.takeDisk(st, p, undefined, 1);
    if (s >= 0) {
      if (st.local) this.instSpF[s]! -= st.spindleUse;
      this.takeDisk(st, s, undefined, 1);
      if (!st.forthcoming) {
        this.sCnt[s]! -= 1;
        if (st.local) this.instSp[s]! -= st.spindleUse;
        if (st.secMem) {
          const m = this.peers[s]!;
          const v = (m.get(p) ?? 0) - st.mem;
          if (v > 0) m.set(p, v);
          else m.delete(p);
          let r = 0;
          for (const x of m.values()) if (x > r) r = x;
          this.rMem[s] = r;
          this.rankPeers(s);
        }
      }
    }
  }

  /**
   * Node i's three largest peer sums (key, value), so a trial can find the new reserved memory in O(1)
   * when one peer's sum drops and another's grows (only those two can change in one move).
   */
  readonly peerTopKey: Int32Array = new Int32Array(0);
  readonly peerTopVal: Float64Array = new Float64Array(0);

  private rankPeers(i: number): void {
    const k = this.peerTopKey, v = this.peerTopVal, o = i * 3;
    k[o] = k[o + 1] = k[o + 2] = -1;
    v[o] = v[o + 1] = v[o + 2] = 0;
    for (const [peer, mem] of this.peers[i] ?? []) {
      let j = o + 3;
      while (j > o && (v[j - 1]! < mem || (v[j - 1] === mem && k[j - 1]! > peer))) j--;
      if (j === o + 3) continue;
      for (let t = o + 2; t > j; t--) { v[t] = v[t - 1]!; k[t] = k[t - 1]!; }
      v[j] = mem;
      k[j] = peer;
    }
  }

  private addTag(i: number, t: string): void {
    let m = this.pTags[i];
    if (!m) m = this.pTags[i] = new Map();
    m.set(t, (m.get(t) ?? 0) + 1);
  }

  private delTag(i: number, t: string): void {
    const m = this.pTags[i]!;
    const v = (m.get(t) ?? 0) - 1;
    if (v > 0) m.set(t, v);
    else m.delete(t);
  }

  private addLocPairs(p: number, excl: readonly string[], d: 1 | -1): void {
    for (const loc of this.locTags[p]!)
      for (const e of excl) {
        const k = loc + '\u0000' + e;
        const v = (this.locPairs.get(k) ?? 0) + d;
        if (v > 0) this.locPairs.set(k, v);
        else this.locPairs.delete(k);
        this.locPairTotal += d;
      }
  }

  /** Places (or moves) instance idx to (p, s) and updates every aggregate. */
  assign(idx: number, p: number, s: number): void {
    const st = this.insts[idx]!;
    const oldP = st.pri, oldS = st.sec;
    if (st.forthcoming) this.twinMem = this.twinRest = false;
    if (!st.usesMem) this.twinMem = false;
    if (oldP >= 0) this.detach(idx);
    st.pri = p;
    st.sec = s;
    if (p >= 0) this.attach(idx);
    if (oldP >= 0) this.refreshNode(oldP);
    if (oldS >= 0) this.refreshNode(oldS);
    if (p >= 0 && p !== oldP && p !== oldS) this.refreshNode(p);
    if (s >= 0 && s !== oldP && s !== oldS && s !== p) this.refreshNode(s);
  }

  /** Whether node i fails N+1 now: its free memory does not cover the most any one peer would bring. */
  failsN1(i: number): boolean {
    const free = this.memCap[i]! - this.iMem[i]!;
    return this.touched[i] ? free <= this.rMem[i]! : free + this.fMemAdj[i]! < this.rMem[i]!;
  }

  conflicts(i: number): number {
    const m = this.pTags[i];
    if (!m) return 0;
    let c = 0;
    for (const v of m.values()) c += v - 1;
    return c;
  }

  /**
   * Every node refresh, in order, for readers that cache per-node work (the short lists). Readers keep
   * an absolute cursor; past TOUCH_CAP entries the log is dropped (touchBase moves on) and readers whose
   * cursor fell behind start afresh.
   */
  readonly touchLog: number[] = [];
  touchBase = 0;

  /** Absolute position just past the last logged touch. */
  touchEnd(): number {
    return this.touchBase + this.touchLog.length;
  }

  /** Re-reads node i into the aggregates after its sums changed. */
  refreshNode(i: number): void {
    if (this.touchLog.length >= TOUCH_CAP) {
      this.touchBase += this.touchLog.length;
      this.touchLog.length = 0;
    }
    this.touchLog.push(i);
    const o = i * NK;
    const cnt = this.pCnt[i]! + this.sCnt[i]!;
    if (this.offline[i]) {
      this.offAll += cnt - this.offAllV[i]!;
      this.offPri += this.pCnt[i]! - this.offPriV[i]!;
      this.offAllV[i] = cnt;
      this.offPriV[i] = this.pCnt[i]!;
      return;
    }
    const v = this.vals, S = this.S, Q = this.Q, now = this.scratch;
    valuesAfter(this, i, this.unchanged.reset(this, i), now);
    for (let k = 0; k < NK; k++) {
      const old = v[o + k]!, nw = now[k]!;
      S[k] = S[k]! - old + nw; // in this order: the sums must round as they always have
      Q[k] = Q[k]! - old * old + nw * nw;
      v[o + k] = nw;
    }
    const n1 = this.failsN1(i) ? cnt : 0;
    this.n1Sum += n1 - this.n1v[i]!;
    this.n1v[i] = n1;
    const tg = this.conflicts(i);
    this.tagSum += tg - this.tagv[i]!;
    this.tagv[i] = tg;
  }

  /** Rebuilds every aggregate from the per-node sums (also cancels rounding drift). */
  recomputeAggregates(): void {
    this.S.fill(0); this.Q.fill(0); this.vals.fill(0); this.n1v.fill(0); this.tagv.fill(0);
    this.offAllV.fill(0); this.offPriV.fill(0);
    this.n1Sum = this.offAll = this.offPri = this.tagSum = 0;
    this.nOnline = 0;
    for (let i = 0; i < this.n; i++) {
      if (!this.offline[i]) this.nOnline++;
      this.refreshNode(i);
    }
    let tm = true, tr = true;
    const v = this.vals;
    for (let i = 0; i < this.n; i++) {
      if (this.offline[i]) continue;
      const o = i * NK;
      for (let k = 0; k < FORTH_TWIN.length; k++) {
        const twin = FORTH_TWIN[k]!;
        if (twin < 0 || v[o + k] === v[o + twin]) continue;
        if (k === K_MEM) tm = false;
        else tr = false;
      }
    }
    this.twinMem = tm;
    this.twinRest = tr;
  }

  /** Σ of location scores over online nodes (kept incrementally in locScoreSum). */
  locationScore(): number {
    return this.locScoreSum;
  }

  stdOf(k: number): number {
    return stdDev(this.nOnline, this.S[k]!, this.Q[k]!);
  }

  /** The cluster score from the aggregates: O(components). */
  score(): number {
    let s = 0;
    for (let k = 0; k < NK; k++) s += STD_WEIGHT[k]! * this.stdOf(k);
    return (
      s + W_N1 * this.n1Sum + W_OFF_ALL * this.offAll + W_OFF_PRI * this.offPri + W_TAGS * this.tagSum +
      W_LOC * this.locationScore() + W_LOCX * (this.locPairTotal - this.locPairs.size) + W_RTOTAL * this.S[K_REM]!
    );
  }

  /** The score, recomputed from scratch, with each component as Ganeti prints it. */
  breakdown(): ScoreBreakdown {
    this.recomputeAggregates();
    const values: Record<string, number> = {
      n1_cnt: this.n1Sum, offline_all_cnt: this.offAll, offline_pri_cnt: this.offPri, pri_tags_score: this.tagSum,
      location_score: this.locationScore(), location_exclusion_score: this.locPairTotal - this.locPairs.size,
      reserved_mem_rtotal: this.S[K_REM]!,
    };
    SLOT_COMPONENTS.forEach((names, k) => { for (const name of names) values[name] = this.stdOf(k); });
    const components = METRICS.map((m) => ({ name: m.name, weight: m.weight, value: values[m.name] ?? 0 }));
    return { score: components.reduce((a, c) => a + c.weight * c.value, 0), components };
  }

  /** Current std-dev of each slot, for trial deltas. */
  currentStd(out: Float64Array): void {
    for (let k = 0; k < NK; k++) out[k] = this.stdOf(k);
  }
}

