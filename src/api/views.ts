/**
 * What the API's read routes return, computed from the master's look and store with the functions
 * the CLI uses (status, verify, drift, the cluster score): one way to compute each thing. Pure.
 */
import { clusterScore } from '../alloc/index.ts';
import type { DriftItem } from '../plan/drift.ts';
import { nodeFacts } from '../plan/facts.ts';
import { currentModel } from '../plan/model.ts';
import { withOverrides } from '../plan/overrides.ts';
import { clusterStatus, type ClusterStatus, type InstanceStatus, type NodeStatus } from '../plan/status.ts';
import { verify, type Finding } from '../plan/verify.ts';
import type { JobRecord, NodeOverride, StoreView } from '../store/types.ts';
import type { Look } from './master.ts';

export interface InstanceRow extends InstanceStatus {
  readonly cluster: string;
  readonly image: string;
  readonly disks: readonly { readonly size: number; readonly mount: string }[];
}

export interface NodeRow extends NodeStatus {
  readonly cluster: string;
  readonly group: string;
  readonly override?: NodeOverride;
}

export interface ClusterRow {
  readonly name: string;
  readonly backend: string;
  readonly nodes: { readonly total: number; readonly up: number; readonly down: number; readonly drained: number; readonly offline: number };
  readonly memory: { readonly total: number; readonly used: number };
  readonly vcpus: { readonly total: number; readonly used: number };
  readonly disk: { readonly total: number; readonly used: number };
  readonly instances: { readonly total: number; readonly running: number; readonly degraded: number };
  /** N+1: the nodes whose failure would leave replicated instances without room (Ganeti's rule). */
  readonly n1: { readonly ok: boolean; readonly failing: readonly string[] };
  readonly score: number;
  readonly guards: readonly string[];
}

/** What the read routes serve: the views of one look of the master. */
export interface ReadViews {
  /** ms since epoch: when the master observed the nodes. */
  readonly at: number;
  readonly nodes: readonly NodeRow[];
  readonly instances: readonly InstanceRow[];
  readonly clusters: readonly ClusterRow[];
  readonly findings: readonly Finding[];
  readonly drift: readonly Omit<DriftItem, 'op'>[];
  /** As `plan --json` prints it. */
  readonly plan: object;
}

/** The views of one look, each computed on first use (a status read never pays for verify). */
export class Views implements ReadViews {
  private memo = new Map<string, unknown>();
  constructor(private readonly look: Look, private readonly store: StoreView, private readonly now: number) {}

  get at(): number { return this.look.observed.at; }

  get instances(): readonly InstanceRow[] { return this.once('instances', () => this.status().instances.map((i) => {
    const d = this.look.desired.instances.get(i.name)!;
    return { ...i, cluster: d.cluster, image: d.image, disks: d.disks.map((x) => ({ size: x.size, mount: x.mount })) };
  })); }

  get nodes(): readonly NodeRow[] { return this.once('nodes', () => this.status().nodes.map((n) => {
    const d = this.look.desired.nodes.get(n.name)!;
    const o = this.store.nodes.get(n.name)?.override;
    return { ...n, cluster: d.cluster, group: d.group, ...(o && { override: o }) };
  })); }

  get findings(): readonly Finding[] { return this.once('findings', () => verify(this.input())); }

  get plan(): object { return this.look.plan; }

  get drift(): readonly Omit<DriftItem, 'op'>[] {
    return this.look.drift;
  }

  get clusters(): readonly ClusterRow[] { return this.once('clusters', () => {
    const input = this.input();
    const overridden = { ...input, desired: withOverrides(input.desired, this.store).desired };
    const guards = this.status().guards.map((g) => g.reason);
    return [...this.look.desired.clusters.values()].map((c) => clusterRow(c.name, c.backend, this.nodes, this.instances, this.findings, guards,
      clusterScore(currentModel(overridden, c, nodeFacts(overridden))).score));
  }); }

  private status(): ClusterStatus { return this.once('status', () => clusterStatus(this.look.desired, this.look.observed, this.store)); }
  private input() { return { desired: this.look.desired, observed: this.look.observed, store: this.store, now: this.now }; }
  private once<T>(key: string, fn: () => T): T {
    if (!this.memo.has(key)) this.memo.set(key, fn());
    return this.memo.get(key) as T;
  }
}

/** The views of the latest look, computed once per look: a look comes every round, requests far more often. */
export function viewsOf(look: () => Look | undefined): () => Views | undefined {
  let key: Look | undefined;
  let value: Views | undefined;
  return () => {
    const l = look();
    if (l && key !== l) { value = new Views(l, l.store, Date.now()); key = l; }
    return l && value;
  };
}

function clusterRow(name: string, backend: string, allNodes: readonly NodeRow[], allInstances: readonly InstanceRow[], findings: readonly Finding[], guards: readonly string[], score: number): ClusterRow {
  const nodes = allNodes.filter((n) => n.cluster === name);
  const instances = allInstances.filter((i) => i.cluster === name);
  const names = new Set(nodes.map((n) => n.name));
  const sum = (f: (n: NodeRow) => { total: number; used: number }) => nodes.reduce((a, n) => ({ total: a.total + f(n).total, used: a.used + f(n).used }), { total: 0, used: 0 });
  const failing = findings.filter((f) => f.code === 'ENODEN1' && f.node && names.has(f.node)).map((f) => f.node!);
  return {
    name, backend,
    nodes: { total: nodes.length, up: nodes.filter((n) => n.health === 'up').length, down: nodes.filter((n) => n.health !== 'up').length,
      drained: nodes.filter((n) => n.flags.includes('drained')).length, offline: nodes.filter((n) => n.flags.includes('offline')).length },
    memory: sum((n) => n.memory), vcpus: sum((n) => n.vcpus), disk: sum((n) => n.disk),
    instances: { total: instances.length, running: instances.filter((i) => i.state === 'running').length, degraded: instances.filter((i) => i.degraded).length },
    n1: { ok: failing.length === 0, failing: [...new Set(failing)] }, score, guards,
  };
}

export interface JournalQuery {
  readonly limit: number;
  /** A job id: the page holds the jobs before it (newest first). */
  readonly before?: string;
  readonly instance?: string;
  readonly type?: string;
  readonly result?: string;
  readonly by?: string;
  readonly since?: number;
}

/** The journal newest first, filtered, one page at a time; `next` is the `before` of the next page. */
export function journalPage(jobs: Iterable<JobRecord>, q: JournalQuery): { jobs: JobRecord[]; next?: string } {
  const newestFirst = (a: JobRecord, b: JobRecord) => b.start - a.start || (a.id < b.id ? 1 : -1);
  let all = [...jobs].filter((j) => (q.instance === undefined || j.instance === q.instance) && (q.type === undefined || j.type === q.type)
    && (q.result === undefined || j.result === q.result) && (q.by === undefined || j.by === q.by) && (q.since === undefined || j.start >= q.since)).sort(newestFirst);
  if (q.before !== undefined) {
    const at = all.findIndex((j) => j.id === q.before);
    all = at < 0 ? [] : all.slice(at + 1);
  }
  const page = all.slice(0, q.limit);
  return { jobs: page, ...(all.length > q.limit && { next: page[page.length - 1]!.id }) };
}
