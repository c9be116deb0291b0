/**
 * The layout of the allocator's score, the one source state.ts, trial.ts and scan.ts read: each node
 * holds a vector of NK values, one slot per spread (standard deviation) the score takes; which of
 * Ganeti's components each slot carries; and every weight, taken from Ganeti's table (metrics.ts).
 *
 * The hot loops (trial.ts, scan.ts) keep module-local copies of these numbers (see there, and
 * test/alloc/layout.test.ts, which pins them to this file).
 */
import { METRICS } from './metrics.ts';

/** The slots of a node's value vector. The `*F` slots count forthcoming instances too. */
export const K_MEM = 0, K_DSK = 1, K_REM = 2, K_CPU = 3, K_LPRI = 4, K_LALL = 5, K_SPN = 6;
export const K_MEMF = 7, K_DSKF = 8, K_CPUF = 9, K_SPNF = 10;
export const NK = 11;

/**
 * The Ganeti components whose value is each slot's spread, in slot order. Without load data (MonD)
 * every instance weighs 1 on cpu, memory and network alike: those three loads are one spread.
 */
export const SLOT_COMPONENTS: readonly (readonly string[])[] = [
  ['free_mem_cv'], ['free_disk_cv'], ['reserved_mem_cv'], ['vcpu_ratio_cv'], ['cpu_load_cv', 'mem_load_cv', 'net_load_cv'],
  ['disk_load_cv'], ['spindles_cv'], ['free_mem_cv_forth'], ['free_disk_cv_forth'], ['vcpu_ratio_cv_forth'], ['spindles_cv_forth'],
];

/** The forthcoming twin of each slot below K_MEMF (-1: none). */
export const FORTH_TWIN: readonly number[] = [K_MEMF, K_DSKF, -1, K_CPUF, -1, -1, K_SPNF];

function weight(component: string): number {
  const m = METRICS.find((c) => c.name === component);
  if (!m) throw new Error(`alloc/layout: no score component ${component}`);
  return m.weight;
}

/** Weight of each slot's spread: the sum of its components' weights. */
export const STD_WEIGHT = Float64Array.from(SLOT_COMPONENTS, (cs) => cs.reduce((a, c) => a + weight(c), 0));

/**
 * Weight of each slot below K_MEMF with its forthcoming twin folded in: while no instance is
 * forthcoming or offline, a slot and its twin hold the same value on every node and move together.
 */
export const FOLDED_WEIGHT = Float64Array.from(FORTH_TWIN, (twin, k) => STD_WEIGHT[k]! + (twin < 0 ? 0 : STD_WEIGHT[twin]!));

/** Weights of the terms that are counts or sums, not spreads. */
export const W_N1 = weight('n1_cnt');
export const W_OFF_ALL = weight('offline_all_cnt');
export const W_OFF_PRI = weight('offline_pri_cnt');
export const W_TAGS = weight('pri_tags_score');
export const W_LOC = weight('location_score');
export const W_LOCX = weight('location_exclusion_score');
export const W_RTOTAL = weight('reserved_mem_rtotal');
