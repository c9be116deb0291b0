/**
 * alloc/layout.ts is the one source of the score's slots and weights: it covers Ganeti's component table
 * exactly, and the hot loops' module-local copies (trial.ts, values.ts, scan.ts) read it, so a trial's
 * score change is the change ClusterState.score() sees.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ganetiToModel } from '../../src/alloc/index.ts';
import * as layout from '../../src/alloc/layout.ts';
import { METRICS } from '../../src/alloc/metrics.ts';
import { ClusterState } from '../../src/alloc/state.ts';
import { Trial } from '../../src/alloc/trial.ts';
import { NodeDelta, valuesAfter } from '../../src/alloc/values.ts';
import { generateCluster } from '../support/gen.ts';
import { GiB, inst } from './helpers.ts';

/** The components the score weighs as counts or sums, each with the layout's weight for it. */
const SCALARS: Record<string, number> = {
  n1_cnt: layout.W_N1, offline_all_cnt: layout.W_OFF_ALL, offline_pri_cnt: layout.W_OFF_PRI, pri_tags_score: layout.W_TAGS,
  location_score: layout.W_LOC, location_exclusion_score: layout.W_LOCX, reserved_mem_rtotal: layout.W_RTOTAL,
};

test('every Ganeti component is in the layout once: a spread in one slot, or a count with its weight', () => {
  const inSlots = layout.SLOT_COMPONENTS.flat();
  assert.is(layout.SLOT_COMPONENTS.length, layout.NK);
  assert.equal([...inSlots, ...Object.keys(SCALARS)].sort(), METRICS.map((m) => m.name).sort());
  for (const m of METRICS) if (m.name in SCALARS) assert.is(SCALARS[m.name], m.weight, m.name);
  const weighed = layout.STD_WEIGHT.reduce((a, w) => a + w, 0) + Object.values(SCALARS).reduce((a, w) => a + w, 0);
  assert.is(weighed, METRICS.reduce((a, m) => a + m.weight, 0), 'no weight lost or counted twice');
});

test('slots: distinct indices 0..NK−1; each forthcoming twin is the same spread counting forthcoming instances', () => {
  const ks = [layout.K_MEM, layout.K_DSK, layout.K_REM, layout.K_CPU, layout.K_LPRI, layout.K_LALL, layout.K_SPN,
    layout.K_MEMF, layout.K_DSKF, layout.K_CPUF, layout.K_SPNF];
  assert.equal([...ks].sort((a, b) => a - b), Array.from({ length: layout.NK }, (_, k) => k));
  layout.FORTH_TWIN.forEach((twin, k) => {
    if (twin < 0) return;
    assert.equal(layout.SLOT_COMPONENTS[twin], layout.SLOT_COMPONENTS[k]!.map((c) => `${c}_forth`));
    assert.is(layout.FOLDED_WEIGHT[k], layout.STD_WEIGHT[k]! + layout.STD_WEIGHT[twin]!);
  });
  // Ganeti 3.0.2's table, folded: the cpu, memory and network loads are one spread (3 × 1).
  assert.equal([...layout.STD_WEIGHT], [0.5, 0.5, 1, 0.5, 3, 1, 0.5, 0.5, 0.5, 0.5, 0.5]);
  assert.equal([...layout.FOLDED_WEIGHT], [1, 1, 1, 1, 3, 1, 1]);
});

test('the hot loops hold no slot number or weight of their own: their copies are read from layout.ts', () => {
  for (const file of ['trial.ts', 'values.ts', 'scan.ts']) {
    const source = fs.readFileSync(fileURLToPath(new URL(`../../src/alloc/${file}`, import.meta.url)), 'utf8');
    assert.match(source, /^const \{[^}]+\} = layout;$/m, `${file} copies the layout it uses`);
    assert.not.match(source, /\b(K_[A-Z]+|NK|SLOTS|W_[A-Z0-9]+)\s*=\s*[\d.]/, `${file}: a slot or weight written as a number`);
    assert.not.match(source, /new Float64Array\(\[/, `${file}: a weight table written by hand`);
  }
});

test('valuesAfter with an empty delta is what ClusterState keeps for each node', () => {
  const st = new ClusterState(ganetiToModel(generateCluster(12)));
  const out = new Float64Array(layout.NK);
  for (let i = 0; i < st.n; i++) {
    if (st.offline[i]) continue;
    valuesAfter(st, i, new NodeDelta().reset(st, i), out);
    assert.equal([...out], [...st.vals.subarray(i * layout.NK, (i + 1) * layout.NK)], st.names[i]);
  }
});

test('a trial\'s score change is the change of ClusterState.score() once the instance is placed there', () => {
  const st = new ClusterState(ganetiToModel(generateCluster(12)));
  const trial = new Trial(st);
  const spec = inst('new', { template: 'plain', memory: 8 * GiB, vcpus: 4, disk: 100 * GiB });
  const idx = st.addInstanceRecord(spec);
  const it = st.insts[idx]!;
  let tried = 0;
  for (let p = 0; p < st.n; p++) {
    if (st.unusable[p]) continue;
    const d = new NodeDelta().reset(st, p);
    d.mem = d.memAll = it.mem; d.cpu = d.cpuF = it.vcpus; d.dsk = d.dskF = it.dsk; d.sp = d.spF = it.spindleUse; d.p = 1;
    const predicted = trial.delta(p, d, -1, undefined);
    const before = st.score();
    st.assign(idx, p, -1);
    assert.ok(Math.abs(st.score() - before - predicted) < 1e-9, `${st.names[p]}: trial ${predicted}, score ${st.score() - before}`);
    st.assign(idx, -1, -1);
    trial.refresh();
    tried++;
  }
  assert.ok(tried >= 10);
});

test.run();
