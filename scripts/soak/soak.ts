/** The soak's loop: a converged cluster, then rounds until the count or the deadline; each round's state goes to the next. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { rng } from '../../test/support/rng.ts';
import { openBackend } from './backends.ts';
import { initialInstances } from './cluster.ts';
import { Masters } from './drover.ts';
import { measureFailover, type FailoverMeasure } from './failover.ts';
import { busyAfter, readFloors, runRound, save, type RoundInput, type SoakContext } from './round.ts';

export interface SoakOptions {
  readonly backend: 'sim' | 'docker';
  readonly rounds: number;
  /** Time for the rounds, counted once the cluster is built: a round that starts before it runs to its end. */
  readonly minutes: number;
  readonly instances: number;
  readonly seed: number;
  /** docker: the test bed's address base (127.0.0.(base+I)). */
  readonly base?: number;
  /**
   * After the rounds, with this grace (seconds): kill the node with the most running replicated primaries
   * and time until all of them run elsewhere (apply started at the kill, as a watch would be).
   */
  readonly measureFailover?: number;
  /** per-round lines go here (default: console.log). */
  readonly log?: (line: string) => void;
}

export interface SoakResult {
  readonly rounds: number;
  readonly violations: readonly string[];
  readonly masterKills: number;
  readonly nodeKills: number;
  readonly edits: number;
  readonly seconds: number;
  /** node death → its running replicated instances running elsewhere, per failover seen in the rounds (ms). */
  readonly failoverMs: readonly number[];
  /** measureFailover: ms from the kill until all of the node's instances ran elsewhere, and how many. */
  readonly failover?: FailoverMeasure;
  readonly summary: string;
}

/** What the rounds add up to. */
type Tally = Pick<SoakResult, 'rounds' | 'violations' | 'masterKills' | 'nodeKills' | 'edits' | 'failoverMs'>;

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `drover-soak-${opts.backend}-`));
  const stateDir = path.join(tmp, 'state');
  const manifests = path.join(tmp, 'manifests');
  const backend = await openBackend(opts.backend, stateDir, manifests, opts.base ?? 70);
  const masters = new Masters(manifests, stateDir, backend.env);
  const c: SoakContext = { backend, masters, manifests, stateDir, rand: rng(opts.seed) };
  let tally: Tally = { rounds: 0, violations: [], masterKills: 0, nodeKills: 0, edits: 0, failoverMs: [] };
  let failover: FailoverMeasure | undefined;
  try {
    // round 0: the cluster from empty, uninterrupted (every later round starts from a converged cluster)
    const insts = initialInstances(opts.instances, backend.memories[0]);
    save(c, insts);
    const first = await masters.start().done;
    if (first.code !== 0) throw new Error(`initial apply exited ${first.code}:\n${first.stderr.slice(-2000)}`);
    let state: RoundInput = { round: 0, insts, floors: await readFloors(c, insts, new Map(), 0), busyMs: busyAfter(2500, [first.ms]) };
    log(`cluster built in ${((Date.now() - t0) / 1000).toFixed(0)} s (test bed, first apply, first reads)`);
    // the rounds' time: building the cluster takes minutes on a loaded machine, and must not use it up
    const deadline = Date.now() + opts.minutes * 60_000;
    for (let round = 1; round <= opts.rounds && Date.now() < deadline; round++) {
      const r = await runRound(c, { ...state, round });
      for (const l of r.lines) log(l);
      tally = {
        rounds: round, violations: [...tally.violations, ...r.violations], masterKills: tally.masterKills + r.masterKills,
        nodeKills: tally.nodeKills + r.nodeKills, edits: tally.edits + r.edits, failoverMs: [...tally.failoverMs, ...(r.failoverMs !== undefined ? [r.failoverMs] : [])],
      };
      state = r;
    }
    if (opts.measureFailover !== undefined && !tally.violations.length) {
      const m = await measureFailover(c, state.insts, state.floors, opts.measureFailover);
      for (const v of m.violations) log(`  violation: ${v}`);
      tally = { ...tally, violations: [...tally.violations, ...m.violations] };
      failover = m.measure;
    }
  } finally {
    masters.killAll();
    await backend.close().catch((e) => log(`test bed down: ${(e as Error).message}`));
    if (!tally.violations.length) fs.rmSync(tmp, { recursive: true, force: true });
    else log(`state kept in ${tmp}`);
  }
  const seconds = (Date.now() - t0) / 1000;
  const summary = `soak: ${tally.rounds} rounds, ${tally.violations.length} violations, ${tally.masterKills} master kills, ${tally.nodeKills} node kills, ${tally.edits} manifest edits in ${seconds.toFixed(0)} s`;
  log(summary);
  if (failover) log(`failover: node killed → its ${failover.instances} instances running elsewhere in ${failover.ms} ms (grace ${failover.graceS} s)`);
  return { ...tally, seconds, summary, ...(failover && { failover }) };
}
