/**
 * The soak's cluster as the manifests say it: four nodes, the wanted instances, and the edits the chaos
 * makes to them. Pure but for writeManifests.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const NODES: readonly string[] = ['node1', 'node2', 'node3', 'node4'];
export const CLUSTER = 'soak';
/** The disruption budget the soak's cluster declares (reconcile.maxUnavailable), and the budget invariant checks. */
export const MAX_UNAVAILABLE = 1;

/** One wanted instance, as its manifest says. */
export interface Inst {
  readonly name: string;
  readonly template: 'replicated' | 'plain';
  readonly state: 'running' | 'stopped' | 'absent';
  readonly memory: string;
  readonly primary?: string;
  /** Its antiAffinity group, whose members Drover changes one at a time. */
  readonly group?: string;
}

/** What a backend puts in the manifests. */
export interface ManifestSpec {
  readonly clusterSpec: Readonly<Record<string, unknown>>;
  nodeSpec(node: string): Record<string, unknown>;
  /** Extra fields of every instance (docker: an idle command). */
  instanceSpec(name: string): Record<string, unknown>;
  /** The two memory sizes a `memory` edit toggles between; the first is the default. */
  readonly memories: readonly [string, string];
}

/** s00, s01…: every tenth plain, every tenth (another) stopped; of each ten, the first two form a group (g0: s00 and s01…). */
export function initialInstances(n: number, memory: string): Inst[] {
  return Array.from({ length: n }, (_, k) => ({
    name: `s${String(k).padStart(2, '0')}`,
    template: k % 10 === 7 ? 'plain' : 'replicated',
    state: k % 10 === 3 ? 'stopped' : 'running',
    memory,
    ...(k % 10 < 2 && { group: `g${Math.floor(k / 10)}` }),
  }));
}

/** Written atomically (rename), so that an apply never reads half a file. */
export function writeManifests(dir: string, spec: ManifestSpec, insts: readonly Inst[]): void {
  fs.mkdirSync(dir, { recursive: true });
  const doc = (kind: string, name: string, body: object) => JSON.stringify({ apiVersion: 'drover/v1', kind, metadata: { name }, spec: body });
  const put = (f: string, docs: readonly string[]) => {
    const file = path.join(dir, f);
    fs.writeFileSync(`${file}.tmp`, `${docs.join('\n---\n')}\n`);
    fs.renameSync(`${file}.tmp`, file);
  };
  const reconcile = { ...(spec.clusterSpec.reconcile as object | undefined), maxUnavailable: MAX_UNAVAILABLE };
  put('cluster.yaml', [doc('Cluster', CLUSTER, { ...spec.clusterSpec, reconcile })]);
  put('nodes.yaml', NODES.map((n) => doc('Node', n, { cluster: CLUSTER, ...spec.nodeSpec(n) })));
  put('instances.yaml', insts.map((i) => doc('Instance', i.name, {
    cluster: CLUSTER, memory: i.memory, diskTemplate: i.template, state: i.state,
    ...spec.instanceSpec(i.name), ...(i.primary && { primary: i.primary }), ...(i.group && { antiAffinity: [i.group] }),
  })));
}

/** Where status says an instance is (for a `pin` edit). */
export interface Placed { readonly primary?: string; readonly secondary?: string }

export type EditKind = 'memory' | 'state' | 'add' | 'remove' | 'pin';
export const EDIT_KINDS: readonly EditKind[] = ['memory', 'state', 'add', 'remove', 'pin'];

/** The instances after one edit of `kind`, chosen with `rand`. */
export function edit(insts: readonly Inst[], kind: EditKind, c: { rand: () => number; round: number; placed: ReadonlyMap<string, Placed>; memories: readonly [string, string] }): Inst[] {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(c.rand() * a.length)]!;
  const live = insts.filter((i) => i.state !== 'absent');
  const change = (target: Inst | undefined, to: Partial<Inst>) => insts.map((i) => (i === target ? { ...i, ...to } : i));
  switch (kind) {
    case 'memory': { const i = pick(live); return change(i, { memory: i.memory === c.memories[0] ? c.memories[1] : c.memories[0] }); }
    case 'state': { const i = pick(live); return change(i, { state: i.state === 'running' ? 'stopped' : 'running' }); }
    case 'remove': return change(pick(live), { state: 'absent' });
    case 'add':
      return [...insts, { name: `a${c.round}x${Math.floor(c.rand() * 1000)}`, template: c.rand() < 0.8 ? 'replicated' : 'plain', state: 'running', memory: c.memories[0] }];
    case 'pin': {
      const candidates = live.filter((i) => c.placed.get(i.name)?.primary && i.template === 'replicated');
      if (!candidates.length) return [...insts];
      const i = pick(candidates);
      const p = c.placed.get(i.name)!;
      // to its secondary (a migration) or to a third node (a move)
      return change(i, { primary: c.rand() < 0.5 && p.secondary ? p.secondary : pick(NODES.filter((n) => n !== p.primary && n !== p.secondary)) });
    }
  }
}

/**
 * A rolling update: every running member of one group (chosen with `rand`) toggles its memory, so that
 * Drover must recreate them all, within the group's budget. Undefined when no group has two running members.
 */
export function rollGroup(insts: readonly Inst[], rand: () => number, memories: readonly [string, string]): { group: string; insts: Inst[] } | undefined {
  const members = (g: string) => insts.filter((i) => i.group === g && i.state === 'running');
  const groups = [...new Set(insts.flatMap((i) => (i.group ? [i.group] : [])))].filter((g) => members(g).length > 1);
  if (!groups.length) return undefined;
  const group = groups[Math.floor(rand() * groups.length)]!;
  const to = members(group)[0]!.memory === memories[0] ? memories[1] : memories[0];
  return { group, insts: insts.map((i) => (i.group === group && i.state === 'running' ? { ...i, memory: to } : i)) };
}

/** Last round's pins and removals are done: unpin (Drover keeps its placement), forget the removed. */
export function settle(insts: readonly Inst[]): Inst[] {
  return insts.filter((i) => i.state !== 'absent').map(({ primary: _, ...i }) => i);
}
