/**
 * Maintenance rolls (Ganeti's hroller): groups of nodes that can be drained and rebooted together.
 * Two nodes may not go down together when
 * - one holds an instance's primary and the other its secondary (the instance would lose both), or
 * - both are primaries of instances sharing one secondary (that secondary would have to absorb both
 *   failovers at once, which N+1 does not promise).
 * These are the edges of a graph on the online nodes; a colouring gives the groups. As hroller, three
 * heuristics colour it (largest degree first, DSatur, "Dcolor") and the one with fewest colours wins;
 * groups go largest first, the master last. Offline and drained nodes take no part. Instances without
 * a secondary are down while their node reboots: each group lists them (hroller --ignore-non-redundant).
 */
import type { ClusterModel } from './model.ts';

export interface RollOptions {
  /** Only this node group's nodes (hroller -G). */
  readonly group?: string;
  /** Only the primary–secondary rule (hroller --offline-maintenance: instances are shut down anyway). */
  readonly offlineMaintenance?: boolean;
}

export interface RollGroup {
  readonly nodes: readonly string[];
  /** Instances with no secondary on these nodes: down while the group reboots. */
  readonly nonRedundant: readonly string[];
}

export interface RollPlan {
  readonly groups: readonly RollGroup[];
  /** The heuristic whose colouring was kept. */
  readonly heuristic: 'LF' | 'Dsatur' | 'Dcolor';
}

type Adj = readonly (readonly number[])[];

/** The smallest colour none of v's neighbours has. */
function freeColor(adj: Adj, color: Int32Array, v: number): number {
  const used = new Set<number>();
  for (const u of adj[v]!) if (color[u]! >= 0) used.add(color[u]!);
  let c = 0;
  while (used.has(c)) c++;
  return c;
}

/** hroller's colorLF: by degree, highest first (ties: the later vertex first). */
function colorLF(adj: Adj): Int32Array {
  const color = new Int32Array(adj.length).fill(-1);
  const order = adj.map((_, v) => v).sort((a, b) => adj[a]!.length - adj[b]!.length || a - b).reverse();
  for (const v of order) color[v] = freeColor(adj, color, v);
  return color;
}

/** hroller's dynamic orders: the vertex with the largest key next (ties: the later vertex). */
function colorDynamic(adj: Adj, key: (v: number, color: Int32Array) => readonly [number, number]): Int32Array {
  const color = new Int32Array(adj.length).fill(-1);
  const left = adj.map((_, v) => v);
  while (left.length > 0) {
    let best = 0;
    for (let j = 1; j < left.length; j++) {
      const a = key(left[j]!, color), b = key(left[best]!, color);
      if (a[0] > b[0] || (a[0] === b[0] && a[1] >= b[1])) best = j;
    }
    const v = left.splice(best, 1)[0]!;
    color[v] = freeColor(adj, color, v);
  }
  return color;
}

const saturation = (adj: Adj) => (v: number, color: Int32Array): [number, number] =>
  [new Set(adj[v]!.map((u) => color[u]!).filter((c) => c >= 0)).size, adj[v]!.length];
const colorDegree = (adj: Adj) => (v: number, color: Int32Array): [number, number] =>
  [adj[v]!.filter((u) => color[u]! >= 0).length, adj[v]!.length];

/**
 * The reboot graph as hroller builds it (Node.mkRebootNodeGraph): primary–secondary edges once per
 * instance, both ways (repeated edges count in a degree), plus each pair of primaries sharing a
 * secondary (every ordered pair, loops included, once; forthcoming instances only in the former).
 */
function rebootGraph(model: ClusterModel, names: readonly string[], included: ReadonlySet<number>, offlineOnly: boolean): number[][] {
  const index = new Map(names.map((n, i) => [n, i]));
  const adj: number[][] = names.map(() => []);
  const edges = new Set<string>();
  const add = (a: number, b: number): void => { if (included.has(a) && included.has(b)) adj[a]!.push(b); };
  const insts = [...model.instances.values()].filter((i) => i.primary !== undefined).sort((a, b) => (a.name < b.name ? -1 : 1));
  const primariesOf = new Map<number, number[]>();
  for (const i of insts) {
    const p = index.get(i.primary!), s = i.template === 'replicated' && i.secondary ? index.get(i.secondary) : undefined;
    if (p === undefined || s === undefined) continue;
    add(p, s); add(s, p);
    edges.add(`${p},${s}`).add(`${s},${p}`);
    // A forthcoming instance is in no node's secondary list yet (htools sList).
    if (i.forthcoming !== true) primariesOf.set(s, [...(primariesOf.get(s) ?? []), p]);
  }
  if (offlineOnly) return adj;
  const shared = new Set<string>();
  for (const ps of primariesOf.values()) for (const a of ps) for (const b of ps) shared.add(`${a},${b}`);
  for (const e of shared) {
    if (edges.has(e)) continue;
    const [a, b] = e.split(',').map(Number) as [number, number];
    add(a, b);
  }
  return adj;
}

export function planRolls(model: ClusterModel, opts: RollOptions = {}): RollPlan {
  const nodes = [...model.nodes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = nodes.map((n) => n.name);
  const included = new Set<number>();
  nodes.forEach((n, i) => { if (!n.offline && !n.drained && (opts.group === undefined || n.group === opts.group)) included.add(i); });
  const adj = rebootGraph(model, names, included, opts.offlineMaintenance === true);
  const colorings: [RollPlan['heuristic'], Int32Array][] = [
    ['LF', colorLF(adj)], ['Dsatur', colorDynamic(adj, saturation(adj))], ['Dcolor', colorDynamic(adj, colorDegree(adj))],
  ];
  const count = (c: Int32Array): number => new Set(c).size;
  let [heuristic, color] = colorings[0]!;
  for (const [h, c] of colorings) if (count(c) < count(color)) [heuristic, color] = [h, c];
  const classes = new Map<number, number[]>();
  for (const v of [...included].sort((a, b) => a - b)) classes.set(color[v]!, [...(classes.get(color[v]!) ?? []), v]);
  const byColor = [...classes.entries()].sort((a, b) => a[0] - b[0]).map(([, vs]) => vs);
  // Largest first (stable), then the master last: its group goes last, and it goes last in it.
  const ordered = byColor.sort((a, b) => b.length - a.length);
  const isMaster = (v: number): boolean => nodes[v]!.master === true;
  const withMaster = ordered.filter((g) => g.some(isMaster)), without = ordered.filter((g) => !g.some(isMaster));
  const groups = [...without, ...withMaster].map((g) => [...g.filter((v) => !isMaster(v)), ...g.filter(isMaster)]);
  const nonRedundant = new Map<string, string[]>();
  for (const i of [...model.instances.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (i.primary === undefined || (i.template === 'replicated' && i.secondary)) continue;
    nonRedundant.set(i.primary, [...(nonRedundant.get(i.primary) ?? []), i.name]);
  }
  return {
    heuristic,
    groups: groups.map((g) => ({ nodes: g.map((v) => names[v]!), nonRedundant: g.flatMap((v) => nonRedundant.get(names[v]!) ?? []) })),
  };
}
