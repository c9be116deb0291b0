/**
 * Looking at what a state directory holds, read-only: the simulated nodes (containers, volumes, flags)
 * and Drover's store (placements, machines, jobs). And the invariants every end state must keep.
 */
import * as assert from 'uvu/assert';
import { SimWorld, type SimContainer, type SimVolume } from '../../src/drivers/sim/world.ts';
import type { Desired } from '../../src/model/desired.ts';
import { Store } from '../../src/store/store.ts';
import type { JobRecord, Placement } from '../../src/store/types.ts';

export interface WorldView {
  /** node → its containers and volumes */
  readonly nodes: Record<string, { containers: SimContainer[]; volumes: SimVolume[]; failed: boolean; fenced: boolean }>;
}

export function readWorld(stateDir: string, nodes: readonly string[]): WorldView {
  const w = new SimWorld(stateDir, { readOnly: true });
  const out: WorldView['nodes'] = {};
  for (const n of nodes) {
    const v = w.node(n);
    const f = w.flagsOf(n);
    out[n] = {
      containers: [...v.containers.values()].sort((a, b) => (a.instance < b.instance ? -1 : 1)),
      volumes: [...v.volumes.values()].sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : a.disk - b.disk)),
      failed: f.failed,
      fenced: f.fenced,
    };
  }
  w.close();
  return { nodes: out };
}

export interface StoreContents {
  readonly placements: Map<string, Placement>;
  readonly machines: number;
  readonly jobs: JobRecord[];
}

export function readStore(stateDir: string): StoreContents {
  const s = new Store(stateDir, { readOnly: true });
  return { placements: new Map(s.placements), machines: s.machines.size, jobs: [...s.jobs.values()] };
}

/** Where each instance runs, across all nodes (a fenced or failed node's copies count too). */
export function runningCopies(w: WorldView): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [node, v] of Object.entries(w.nodes)) {
    for (const c of v.containers) if (c.state === 'running') m.set(c.instance, [...(m.get(c.instance) ?? []), node]);
  }
  return m;
}

/** Never two running copies of one instance: checked on any world, even mid-apply. */
export function assertNoDoubleRun(w: WorldView, context = ''): void {
  for (const [instance, nodes] of runningCopies(w)) {
    // a fenced node is powered off: a container it shows as running cannot run (the sim stops them on fence)
    const live = nodes.filter((n) => !w.nodes[n]!.fenced);
    assert.ok(live.length <= 1, `${context}${instance} runs on ${live.join(' and ')}`);
  }
}

/**
 * The end state of a converged cluster: each wanted instance has exactly one container, on its
 * placed primary, running or stopped as wanted, with its disks on the primary and (replicated) its
 * replica on a different secondary; nothing else anywhere; absent instances gone.
 */
export function assertConverged(d: Desired, w: WorldView, placements: ReadonlyMap<string, Placement>, context = ''): void {
  const nodes = Object.keys(w.nodes);
  for (const i of d.instances.values()) {
    const p = placements.get(i.name);
    const containers = nodes.flatMap((n) => w.nodes[n]!.containers.filter((c) => c.instance === i.name).map((c) => ({ n, c })));
    const volumes = nodes.flatMap((n) => w.nodes[n]!.volumes.filter((v) => v.instance === i.name).map((v) => ({ n, v })));
    if (i.state === 'absent') {
      assert.is(p, undefined, `${context}${i.name}: absent but still placed`);
      assert.is(containers.length + volumes.length, 0, `${context}${i.name}: absent but copies remain`);
      continue;
    }
    assert.ok(p, `${context}${i.name}: not placed`);
    assert.ok(d.nodes.has(p!.primary), `${context}${i.name}: primary ${p!.primary} is no node`);
    assert.is(containers.length, 1, `${context}${i.name}: ${containers.length} containers (${containers.map((x) => x.n).join(', ')})`);
    assert.is(containers[0]!.n, p!.primary, `${context}${i.name}: container on ${containers[0]!.n}, placed on ${p!.primary}`);
    assert.is(containers[0]!.c.state, i.state, `${context}${i.name}: ${containers[0]!.c.state}, wanted ${i.state}`);
    const onPrimary = volumes.filter((x) => x.n === p!.primary);
    assert.is(onPrimary.length, i.disks.length, `${context}${i.name}: disks on the primary`);
    if (i.diskTemplate === 'replicated') {
      assert.ok(p!.secondary, `${context}${i.name}: replicated without a secondary`);
      assert.is.not(p!.secondary, p!.primary, `${context}${i.name}: secondary = primary`);
      assert.ok(d.nodes.has(p!.secondary!), `${context}${i.name}: secondary ${p!.secondary} is no node`);
      const onSecondary = volumes.filter((x) => x.n === p!.secondary);
      assert.is(onSecondary.length, i.disks.length, `${context}${i.name}: replica on ${p!.secondary}`);
      assert.ok(onSecondary.every((x) => x.v.role === 'replica'), `${context}${i.name}: replica role`);
      assert.is(p!.lastSync?.node, p!.secondary, `${context}${i.name}: replica never synced`);
      assert.is(volumes.length, 2 * i.disks.length, `${context}${i.name}: stray volumes on ${volumes.map((x) => x.n).join(', ')}`);
    } else {
      assert.is(p!.secondary, undefined, `${context}${i.name}: plain with a secondary`);
      assert.is(volumes.length, i.disks.length, `${context}${i.name}: stray volumes`);
    }
    assert.ok(onPrimary.every((x) => x.v.role === 'primary'), `${context}${i.name}: primary role`);
  }
  for (const n of nodes) {
    for (const c of w.nodes[n]!.containers) assert.ok(d.instances.has(c.instance), `${context}unknown container ${c.instance} on ${n}`);
  }
}

/** Placement and state of every instance, to compare two runs' end states. */
export function shape(d: Desired, w: WorldView, placements: ReadonlyMap<string, Placement>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of d.instances.values()) {
    const p = placements.get(i.name);
    const running = runningCopies(w).get(i.name) ?? [];
    out[i.name] = p ? `${p.primary}/${p.secondary ?? '-'}/${running.length ? 'running' : 'stopped'}` : 'unplaced';
  }
  return out;
}
