/**
 * Ganeti's cluster score components (htools Cluster/MetricsComponents.hs, as in 3.0.2), in the order
 * and with the weights `hinfo`/`hbal -v -v -v` print. Score = Σ weight × value. Kept as data so the
 * breakdown we print lines up with Ganeti's, row for row.
 */

export interface MetricComponent {
  readonly name: string;
  readonly weight: number;
  /** What the value is, for readers and for `--json` output. */
  readonly doc: string;
}

export const METRICS: readonly MetricComponent[] = [
  { name: 'free_mem_cv', weight: 0.5, doc: 'stddev over online nodes of free memory / total memory' },
  { name: 'free_disk_cv', weight: 0.5, doc: 'stddev over online nodes of free disk / total disk' },
  {
    name: 'n1_cnt',
    weight: 1,
    doc: 'Σ over online nodes failing N+1 of their primary + secondary instance count (not a node count)',
  },
  { name: 'reserved_mem_cv', weight: 1, doc: 'stddev of N+1-reserved memory (max over peers) / total memory' },
  {
    name: 'offline_all_cnt',
    weight: 4,
    doc: 'Σ over offline (and drained) nodes of primary + secondary instances: pushes evacuation',
  },
  { name: 'offline_pri_cnt', weight: 16, doc: 'Σ over offline (and drained) nodes of primary instances' },
  { name: 'vcpu_ratio_cv', weight: 0.5, doc: 'stddev of (vCPUs of primaries + node vCPUs) / cpus / cpu speed' },
  { name: 'cpu_load_cv', weight: 1, doc: 'stddev of primary-instance count (dynamic load 1 each without MonD)' },
  { name: 'mem_load_cv', weight: 1, doc: 'as cpu_load_cv: without load data every instance weighs 1' },
  { name: 'disk_load_cv', weight: 1, doc: 'stddev of primary + secondary instance count' },
  { name: 'net_load_cv', weight: 1, doc: 'as cpu_load_cv' },
  {
    name: 'pri_tags_score',
    weight: 2,
    doc: 'Σ over nodes of primaries sharing an exclusion (antiAffinity) tag: Σ count − distinct tags',
  },
  { name: 'spindles_cv', weight: 0.5, doc: 'stddev of spindles used / (spindle ratio × node spindles)' },
  { name: 'free_mem_cv_forth', weight: 0.5, doc: 'free_mem_cv counting forthcoming instances' },
  { name: 'free_disk_cv_forth', weight: 0.5, doc: 'free_disk_cv counting forthcoming instances' },
  { name: 'vcpu_ratio_cv_forth', weight: 0.5, doc: 'vcpu_ratio_cv counting forthcoming instances' },
  { name: 'spindles_cv_forth', weight: 0.5, doc: 'spindles_cv counting forthcoming instances' },
  {
    name: 'location_score',
    weight: 1,
    doc: 'Σ over instances of location tags shared by primary and secondary + unmet desired locations',
  },
  {
    name: 'location_exclusion_score',
    weight: 1,
    doc: 'Σ over (location tag, exclusion tag) pairs of primaries, cluster-wide, of count − 1',
  },
  { name: 'reserved_mem_rtotal', weight: 0.25, doc: 'Σ over online nodes of reserved memory / total memory' },
];

export interface ScoreBreakdown {
  readonly score: number;
  readonly components: readonly { readonly name: string; readonly value: number; readonly weight: number }[];
}

/** Population standard deviation from count, Σx and Σx² (Ganeti's StdDevStat). */
export function stdDev(n: number, sum: number, sumSq: number): number {
  if (n <= 0) return 0;
  const mean = sum / n;
  const v = sumSq / n - mean * mean;
  return v > 0 ? Math.sqrt(v) : 0;
}
