/**
 * A round's chaos, decided up front from the seed: when to kill the master, which node to kill and when
 * to bring it back, which manifest edits to save. Pure: the round carries the events out.
 */
import { EDIT_KINDS, edit, NODES, rollGroup, type EditKind, type Inst, type Placed } from './cluster.ts';

export type ChaosEvent =
  | { readonly at: number; readonly kind: 'kill-master'; /** the next master starts this long after the kill */ readonly restartAfterMs: number }
  | { readonly at: number; readonly kind: 'kill-node'; readonly node: string }
  | { readonly at: number; readonly kind: 'restore-node'; readonly node: string }
  | { readonly at: number; readonly kind: 'edit'; readonly edits: readonly EditKind[]; /** the manifests after them */ readonly insts: readonly Inst[] };

export interface Chaos {
  /** ms after the round's start, in order. */
  readonly events: readonly ChaosEvent[];
  /** The first master kills itself at this durable batch (the store's failpoint): a kill inside an operation for sure. */
  readonly failAt?: number;
  /** The node killed this round, if any. */
  readonly victim?: string;
  /** A rolling-update round: these manifests (one group's members all changed) are saved before its first master starts. */
  readonly rolling?: { readonly group: string; readonly insts: readonly Inst[] };
}

/** Every third round (2, 5, 8…) is a rolling update of one group, its master killed in the middle of it. */
export const isRollingRound = (round: number): boolean => round % 3 === 2;

export interface ChaosInput {
  readonly rand: () => number;
  readonly round: number;
  readonly insts: readonly Inst[];
  readonly placed: ReadonlyMap<string, Placed>;
  readonly memories: readonly [string, string];
  /** How long an apply with work to do has taken so far: master kills land within it. */
  readonly busyMs: number;
}

export function planChaos(c: ChaosInput): Chaos {
  const { rand } = c;
  const between = (lo: number, hi: number) => lo + rand() * (hi - lo);
  const rolled = isRollingRound(c.round) ? rollGroup(c.insts, rand, c.memories) : undefined;
  if (rolled) {
    // the first master dies at an early durable batch (inside the first member's recreate), and maybe once more later
    const events: ChaosEvent[] = rand() < 0.5 ? [{ at: between(150, c.busyMs), kind: 'kill-master', restartAfterMs: between(0, 800) }] : [];
    return { events, failAt: 2 + Math.floor(rand() * 6), rolling: rolled };
  }
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const events: ChaosEvent[] = [];
  const kills = rand() < 0.75 ? 1 + Math.floor(rand() * 2) : 0;
  for (let k = 0; k < kills; k++) events.push({ at: between(150, c.busyMs), kind: 'kill-master', restartAfterMs: between(0, 800) });
  let victim: string | undefined;
  if (rand() < 0.5) {
    victim = pick(NODES);
    const at = between(0, 2000);
    const back = at + (rand() < 0.3 ? between(500, 1500) : between(4000, 9000)); // within the grace, or after the failover
    events.push({ at, kind: 'kill-node', node: victim }, { at: back, kind: 'restore-node', node: victim });
  }
  const nEdits = rand() < 0.7 ? 1 + Math.floor(rand() * 3) : 0;
  if (nEdits) {
    const at = between(0, 1500);
    const edits = Array.from({ length: nEdits }, () => pick(EDIT_KINDS));
    const insts = edits.reduce<readonly Inst[]>((is, kind) => edit(is, kind, { rand, round: c.round, placed: c.placed, memories: c.memories }), c.insts);
    events.push({ at, kind: 'edit', edits, insts });
  }
  events.sort((a, b) => a.at - b.at);
  const failAt = rand() < 0.5 ? 2 + Math.floor(rand() * 40) : undefined;
  return { events, ...(failAt !== undefined && { failAt }), ...(victim && { victim }) };
}

/** How the event reads in the round's line. */
export function describeEvent(e: ChaosEvent): string {
  switch (e.kind) {
    case 'kill-master': return 'kill master';
    case 'kill-node': return `kill ${e.node}`;
    case 'restore-node': return `restore ${e.node}`;
    case 'edit': return `edit ${e.edits.join('+')}`;
  }
}
