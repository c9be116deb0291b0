/**
 * The crash soak: rounds of `drover apply --yes` (a child process, the real CLI) on a cluster of 30
 * instances while a driver, at random moments, SIGKILLs the master (by its pid), kills and later restores
 * a node, and edits the manifests (memory, running/stopped, add, remove, pin elsewhere). After each round a
 * final apply runs to completion and the invariants are checked against the nodes themselves (the sim's
 * world read-only, or every Docker engine through its unix socket), not only against `status`:
 *   1. every wanted instance runs exactly once, on a healthy node, as its manifest says (running/stopped);
 *   2. never two running copies at any moment (the nodes are polled every ~200 ms during the round);
 *   3. a replicated instance's replica is on its secondary and not degraded;
 *   4. no volume lost: what a replica held after the previous round is still on the primary;
 *   5. no orphan left unreported: `plan --json` after convergence has no operations (but periodic
 *      re-syncs) and no warnings;
 *   6. the journal accounts for every operation: no job left `running`, every job a killed master
 *      left in flight shows `resumed`.
 * Deterministic from its seed (the choices; timing is the machine's). Bounded by rounds and minutes.
 *
 *   node --import tsx scripts/soak.ts [--backend sim|docker] [--rounds N] [--minutes M] [--instances 30] [--seed S]
 *                                     [--base 70] [--failover-grace S]
 * Prints one line per round and `soak: R rounds, V violations, K master kills, N node kills, E manifest edits in T s`;
 * exits 1 when V > 0. --failover-grace S: then time a node's death until its instances run elsewhere (grace S).
 * The docker backend starts its own test bed (4 nodes at 127.0.0.(base+1..4)), torn down at the end.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main as droverMain } from '../src/cli/main.ts';
import type { Io } from '../src/cli/io.ts';
import { SimWorld } from '../src/drivers/sim/world.ts';
import { spawnDrover, type Spawned } from '../test/support/cli.ts';
import { FENCE, IDLE, nodeIndex, runningCopies, upBed, type Bed } from '../test/e2e-docker/helpers.ts';
import { rng } from '../test/support/rng.ts';

// ---------------------------------------------------------------- options, randomness

export interface SoakOptions {
  readonly backend: 'sim' | 'docker';
  readonly rounds: number;
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
  readonly failover?: { readonly ms: number; readonly instances: number; readonly graceS: number };
  readonly summary: string;
}


const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- manifests

interface Inst {
  name: string;
  template: 'replicated' | 'plain';
  state: 'running' | 'stopped' | 'absent';
  memory: string;
  primary?: string;
}

const NODES = ['node1', 'node2', 'node3', 'node4'];
const CLUSTER = 'soak';

function writeManifests(dir: string, backend: Backend, insts: readonly Inst[]): void {
  fs.mkdirSync(dir, { recursive: true });
  const doc = (kind: string, name: string, spec: object) => JSON.stringify({ apiVersion: 'drover/v1', kind, metadata: { name }, spec });
  const tmp = (f: string, text: string) => { fs.writeFileSync(`${f}.tmp`, text); fs.renameSync(`${f}.tmp`, f); };
  tmp(path.join(dir, 'cluster.yaml'), `${doc('Cluster', CLUSTER, backend.clusterSpec)}\n`);
  tmp(path.join(dir, 'nodes.yaml'), NODES.map((n) => doc('Node', n, { cluster: CLUSTER, ...backend.nodeSpec(n) })).join('\n---\n') + '\n');
  tmp(path.join(dir, 'instances.yaml'), insts.map((i) => doc('Instance', i.name, {
    cluster: CLUSTER, memory: i.memory, diskTemplate: i.template, state: i.state,
    ...(backend.name === 'docker' && { command: IDLE, env: { INSTANCE: i.name } }),
    ...(i.primary && { primary: i.primary }),
  })).join('\n---\n') + '\n');
}

// ---------------------------------------------------------------- backends

/** What the nodes hold, seen directly. */
interface Probe {
  /** node → reachable and not powered off */
  readonly healthy: ReadonlyMap<string, boolean>;
  /** instance → its containers (node, running or not) */
  readonly containers: ReadonlyMap<string, { node: string; running: boolean }[]>;
  /** instance → nodes holding its volumes, with their role */
  readonly volumes: ReadonlyMap<string, { node: string; role: string }[]>;
}

interface Backend {
  readonly name: 'sim' | 'docker';
  readonly clusterSpec: Record<string, unknown>;
  nodeSpec(node: string): Record<string, unknown>;
  /** env of every drover child (the fence script's test bed). */
  readonly env: Record<string, string>;
  readonly memories: readonly [string, string];
  killNode(node: string): Promise<void>;
  restoreNode(node: string): Promise<void>;
  probe(): Promise<Probe>;
  /** instance → live running nodes (a powered-off node runs nothing); for the double-run watcher. */
  running(): Promise<Map<string, string[]>>;
  /** Change an instance's data on `node` (its primary); returns what it wrote, for `covers`. */
  write(node: string, instance: string, round: number): Promise<unknown>;
  /** What an instance's disk holds on `node`, as something `covers` compares. */
  read(node: string, instance: string): Promise<unknown>;
  /** `now` still holds everything `floor` held. */
  covers(now: unknown, floor: unknown): boolean;
  /** docker reads cost a helper container each: check a sample only. */
  readonly dataSample: number;
  close(): Promise<void>;
}

function simBackend(stateDir: string, manifests: string): Backend {
  const world = () => new SimWorld(stateDir, { readOnly: true });
  const running = async () => {
    const w = world();
    try {
      const m = new Map<string, string[]>();
      for (const n of NODES) {
        if (w.flagsOf(n).fenced) continue; // powered off: the sim stopped its containers
        for (const c of w.node(n).containers.values()) if (c.state === 'running') m.set(c.instance, [...(m.get(c.instance) ?? []), n]);
      }
      return m;
    } finally { w.close(); }
  };
  return {
    name: 'sim',
    clusterSpec: {
      backend: 'sim',
      defaults: { memory: '512M', vcpus: 1, image: 'busybox', diskTemplate: 'replicated', disks: [{ size: '1G', mount: '/data' }] },
      policy: { redundancy: 'n+1' },
      reconcile: { interval: '1m', concurrency: { perNode: 4, total: 12 } },
      failover: { automatic: true, nodeDownAfter: '2s', maxPerHour: 0, holdAfterFailures: 0 },
      replication: { interval: '10s' },
      sim: { latency: '50ms' },
    },
    nodeSpec: () => ({ capacity: { memory: '32G', vcpus: 32, disk: '500G' } }),
    env: { DROVER_FSYNC: '0' },
    memories: ['512M', '768M'],
    async killNode(n) { await cliIn(['sim', 'fail-node', n, '--state-dir', stateDir]); },
    async restoreNode(n) { await cliIn(['sim', 'restore-node', n, '--state-dir', stateDir]); },
    async probe() {
      const w = world();
      try {
        const healthy = new Map<string, boolean>();
        const containers = new Map<string, { node: string; running: boolean }[]>();
        const volumes = new Map<string, { node: string; role: string }[]>();
        for (const n of NODES) {
          const f = w.flagsOf(n);
          healthy.set(n, !f.failed && !f.fenced);
          for (const c of w.node(n).containers.values()) containers.set(c.instance, [...(containers.get(c.instance) ?? []), { node: n, running: c.state === 'running' && !f.fenced }]);
          for (const v of w.node(n).volumes.values()) volumes.set(v.instance, [...(volumes.get(v.instance) ?? []), { node: n, role: v.role }]);
        }
        return { healthy, containers, volumes };
      } finally { w.close(); }
    },
    running,
    async write(_node, instance) {
      const r = await cliIn(['sim', 'write', instance, manifests, '--state-dir', stateDir]);
      if (r.code !== 0) throw new Error(`sim write ${instance}: ${r.err}`);
      return Number(/data version (\d+)/.exec(r.out)?.[1] ?? NaN);
    },
    async read(node, instance) {
      const w = world();
      try {
        const vs = [...w.node(node).volumes.values()].filter((v) => v.instance === instance);
        return vs.length ? Math.min(...vs.map((v) => v.dataVersion)) : -1;
      } finally { w.close(); }
    },
    covers: (now, floor) => (now as number) >= (floor as number),
    dataSample: Infinity,
    async close() {},
  };
}

async function dockerBackend(base: number): Promise<{ backend: Backend; bed: Bed }> {
  const bed = await upBed(NODES.length, base, 'drover-soak');
  const probeNode = async (i: number) => {
    const e = bed.engine(i);
    const t = <T>(p: Promise<T>) => Promise.race([p, sleep(3000).then(() => { throw new Error('timeout'); })]);
    const [cs, vs] = await Promise.all([
      t(e.listContainers({ all: true, filters: { label: [`drover.cluster=${CLUSTER}`] } })),
      t(e.listVolumes({ filters: { label: [`drover.cluster=${CLUSTER}`] } })),
    ]);
    return { cs: cs.filter((c) => c.Labels['drover.helper'] === undefined), vs: vs.Volumes ?? [] };
  };
  const backend: Backend = {
    name: 'docker',
    clusterSpec: {
      backend: 'docker',
      defaults: { memory: '32M', vcpus: 1, image: bed.image, diskTemplate: 'replicated', disks: [{ size: '64M', mount: '/data' }] },
      policy: { vcpuRatio: 16, memoryOvercommit: 1.0, redundancy: 'n+1' },
      reconcile: { interval: '1m', concurrency: { perNode: 4, total: 12 } },
      failover: { automatic: true, nodeDownAfter: '2s', fenceCommand: [FENCE], maxPerHour: 0, holdAfterFailures: 0 },
      replication: { interval: '20s' },
    },
    nodeSpec: (n) => ({ endpoint: bed.endpoint(nodeIndex(n)) }),
    env: { ...bed.env },
    memories: ['32M', '40M'],
    async killNode(n) { await bed.run('kill', String(nodeIndex(n))); },
    async restoreNode(n) { await bed.run('restore', String(nodeIndex(n))); },
    async probe() {
      const healthy = new Map<string, boolean>();
      const containers = new Map<string, { node: string; running: boolean }[]>();
      const volumes = new Map<string, { node: string; role: string }[]>();
      await Promise.all(NODES.map(async (n) => {
        let r;
        try { r = await probeNode(nodeIndex(n)); } catch { healthy.set(n, false); return; }
        healthy.set(n, true);
        for (const c of r.cs) {
          const inst = c.Labels['drover.instance'];
          if (inst) containers.set(inst, [...(containers.get(inst) ?? []), { node: n, running: c.State === 'running' }]);
        }
        const roles = new Map<string, string>();
        for (const v of r.vs) if (v.Name.endsWith('-meta')) roles.set(v.Labels['drover.instance']!, v.Labels['drover.role'] ?? '?');
        const seen = new Set<string>();
        for (const v of r.vs) {
          const inst = v.Labels['drover.instance'];
          if (!inst || seen.has(inst)) continue;
          seen.add(inst);
          volumes.set(inst, [...(volumes.get(inst) ?? []), { node: n, role: roles.get(inst) ?? '?' }]);
        }
      }));
      return { healthy, containers, volumes };
    },
    async running() {
      const { copies } = await runningCopies(bed, CLUSTER, 2000);
      return new Map([...copies].map(([i, cs]) => [i, cs.map((c) => c.node)]));
    },
    async write(node, instance, round) {
      const files = { [`soak/r${round}.txt`]: `${instance} round ${round}` };
      await bed.data.write(node, instance, 0, files);
      return files;
    },
    read: (node, instance) => bed.data.read(node, instance, 0),
    covers(now, floor) {
      const n = now as Record<string, string>;
      return Object.entries(floor as Record<string, string>).every(([k, v]) => n[k] === v);
    },
    dataSample: 6,
    async close() {},
  };
  return { backend, bed };
}

// ---------------------------------------------------------------- the CLI

/** In-process drover for the read-only commands and `sim` (quick: no process start). */
async function cliIn(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => void out.push(t), err: (t) => void err.push(t), isTty: false, stdinIsTty: false, ask: async () => 'y' };
  const code = await droverMain(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function cliJson<T>(argv: string[]): Promise<T> {
  const r = await cliIn([...argv, '--json']);
  try { return JSON.parse(r.out) as T; } catch { throw new Error(`drover ${argv.join(' ')} --json exited ${r.code}: ${r.out.slice(0, 500)} ${r.err.slice(0, 500)}`); }
}

interface StatusJson {
  nodes: { name: string; health: string }[];
  instances: { name: string; state: string; primary?: string; secondary?: string; degraded: boolean; recoveryPoint?: number }[];
}
interface PlanJson { operations: { type: string; instance: string; reason?: string }[]; warnings: string[]; errors: unknown[]; pending?: unknown[] }
interface JobJson { id: string; type: string; instance: string; start: number; end?: number; result: string; error?: string; resumed?: number; master?: { pid: number } }

// ---------------------------------------------------------------- the soak

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const rand = rng(opts.seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const between = (lo: number, hi: number) => lo + rand() * (hi - lo);
  const t0 = Date.now();
  const deadline = t0 + opts.minutes * 60_000;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `drover-soak-${opts.backend}-`));
  const stateDir = path.join(tmp, 'state');
  const manifests = path.join(tmp, 'manifests');
  const violations: string[] = [];
  const failoverMs: number[] = [];
  let masterKills = 0, nodeKills = 0, edits = 0, rounds = 0;
  let failover: SoakResult['failover'];
  let bed: Bed | undefined;
  let backend: Backend;
  const children = new Set<Spawned>();
  if (opts.backend === 'docker') ({ backend, bed } = await dockerBackend(opts.base ?? 70));
  else backend = simBackend(stateDir, manifests);

  const insts: Inst[] = Array.from({ length: opts.instances }, (_, k) => ({
    name: `s${String(k).padStart(2, '0')}`,
    template: k % 10 === 7 ? 'plain' : 'replicated',
    state: k % 10 === 3 ? 'stopped' : 'running',
    memory: backend.memories[0],
  }));
  /** instance → what its disk held after the previous round (replica, or primary for plain) */
  const floors = new Map<string, unknown>();
  const save = () => writeManifests(manifests, backend, insts);
  /** How long an apply with work to do takes (a moving average): when to aim the master kills. */
  let busyMs = 2500;
  const apply = (failAt?: number): Spawned => {
    const s = spawnDrover(['apply', '--yes', manifests, '--state-dir', stateDir], { ...backend.env, ...(failAt && { DROVER_FAILPOINT_KILL_AT: String(failAt) }) });
    const started = Date.now();
    children.add(s);
    void s.done.then((r) => {
      children.delete(s);
      const ms = Date.now() - started;
      if (!r.signal && /ok +[A-Z]/.test(r.stdout)) busyMs = Math.round(0.7 * busyMs + 0.3 * ms);
    });
    return s;
  };

  try {
    save();
    // round 0: the cluster from empty, uninterrupted (every later round starts from a converged cluster)
    const first = await apply().done;
    if (first.code !== 0) throw new Error(`initial apply exited ${first.code}:\n${first.stdout.slice(-2000)}\n${first.stderr.slice(-2000)}`);
    await recordFloors(0);

    for (let round = 1; round <= opts.rounds && Date.now() < deadline; round++) {
      rounds = round;
      const rs = Date.now();
      const bad: string[] = [];
      const note: string[] = [];
      let failedJobs: string[] = [];
      const status = await cliJson<StatusJson>(['status', manifests, '--state-dir', stateDir]);
      const placed = new Map(status.instances.map((i) => [i.name, i]));

      // data written before the chaos: lost only if a failover beats the next sync (asynchronous replication)
      const writable = insts.filter((i) => i.state === 'running' && placed.get(i.name)?.primary);
      const written: { name: string; at: number; data: unknown }[] = [];
      for (let k = 0; k < 3 && writable.length; k++) {
        const i = writable.splice(Math.floor(rand() * writable.length), 1)[0]!;
        const at = Date.now();
        written.push({ name: i.name, at, data: await backend.write(placed.get(i.name)!.primary!, i.name, round) });
      }
      // last round's pins and removals are done: unpin (Drover keeps its placement), forget the removed
      for (const i of insts) delete i.primary;
      for (let k = insts.length - 1; k >= 0; k--) if (insts[k]!.state === 'absent') { floors.delete(insts[k]!.name); insts.splice(k, 1); }
      save();

      // this round's chaos, as (moment, action) pairs
      const events: { at: number; what: string; run: () => Promise<void> }[] = [];
      const kills = rand() < 0.75 ? 1 + Math.floor(rand() * 2) : 0;
      // a kill lands while the master works: within the length of a busy apply seen so far
      for (let k = 0; k < kills; k++) events.push({ at: between(150, busyMs), what: 'kill master', run: async () => killMaster() });
      let victim: string | undefined;
      if (rand() < 0.5) {
        victim = pick(NODES);
        const at = between(0, 2000);
        const back = at + (rand() < 0.3 ? between(500, 1500) : between(4000, 9000)); // within the grace, or after the failover
        events.push({ at, what: `kill ${victim}`, run: async () => { await backend.killNode(victim!); nodeKills++; killedAt = Date.now(); } });
        events.push({ at: back, what: `restore ${victim}`, run: async () => backend.restoreNode(victim!) });
      }
      const nEdits = rand() < 0.7 ? 1 + Math.floor(rand() * 3) : 0;
      const editAt = between(0, 1500);
      const chosenEdits = Array.from({ length: nEdits }, () => pick(['memory', 'state', 'add', 'remove', 'pin'] as const));
      if (nEdits) events.push({ at: editAt, what: `edit ${chosenEdits.join('+')}`, run: async () => { for (const e of chosenEdits) edit(e, round, placed); edits += nEdits; save(); } });
      events.sort((a, b) => a.at - b.at);

      // the watcher: never two running copies, at any poll
      let watching = true;
      let polls = 0;
      let killedAt: number | undefined;
      const victimPrimaries = victim ? status.instances.filter((i) => i.primary === victim && i.state === 'running' && i.secondary).map((i) => i.name) : [];
      let movedAt: number | undefined;
      const watcher = (async () => {
        while (watching) {
          let m: Map<string, string[]>;
          try { m = await backend.running(); } catch { await sleep(200); continue; }
          polls++;
          for (const [inst, ns] of m) if (ns.length > 1) bad.push(`two running copies of ${inst}: ${ns.join(', ')} (t=${Date.now() - rs} ms)`);
          if (killedAt !== undefined && movedAt === undefined && victimPrimaries.length
            && victimPrimaries.every((i) => (m.get(i) ?? []).some((n) => n !== victim))) movedAt = Date.now();
          await sleep(200);
        }
      })();

      // run: apply as a child; at each moment, act; a killed master is restarted (a new child resumes it)
      // Half the first masters also kill themselves at a durable batch (the store's failpoint): a kill that
      // lands inside an operation for sure, where a kill at a random moment may find the master waiting.
      const killTimes: { at: number; pid: number }[] = [];
      const exits: string[] = [];
      let chaos = true;
      let selfKills = 0;
      const ours = new Set<number>();
      const track = (s: Spawned, failAt?: number): Promise<void> => s.done.then((r) => {
        exits.push(r.signal ? `${r.signal}${failAt && !ours.has(s.child.pid!) ? `@batch${failAt}` : ''}` : String(r.code));
        if (current !== s) return;
        current = undefined;
        if (r.signal === 'SIGKILL' && !ours.has(s.child.pid!)) {
          killTimes.push({ at: Date.now(), pid: s.child.pid! });
          masterKills++;
          selfKills++;
          if (chaos) { current = apply(); tracked = track(current); }
        }
      });
      const failAt = rand() < 0.5 ? 2 + Math.floor(rand() * 40) : undefined;
      let current: Spawned | undefined = apply(failAt);
      let tracked = track(current, failAt);
      function killMaster(): void {
        if (!current?.child.pid) { note.push('kill: no master'); return; }
        killTimes.push({ at: Date.now(), pid: current.child.pid });
        ours.add(current.child.pid);
        process.kill(current.child.pid, 'SIGKILL');
        masterKills++;
      }
      for (const e of events) {
        const wait = rs + e.at - Date.now();
        if (wait > 0) await sleep(wait);
        await e.run().catch((err) => bad.push(`${e.what}: ${(err as Error).message.split('\n')[0]}`));
        note.push(`${e.what}@${Math.round(e.at)}`);
        if (e.what === 'kill master') {
          await tracked;
          await sleep(between(0, 800));
          current = apply();
          tracked = track(current);
        }
      }
      // the chaos is over: the master in flight finishes, then a last apply runs to completion
      chaos = false;
      while (current) { await current.done; await tracked; }
      if (selfKills) note.push(`${selfKills} self-kill at batch ${failAt}`);
      let final = -1;
      for (let k = 0; k < 4 && final !== 0; k++) {
        current = apply();
        tracked = track(current);
        const r = await current.done;
        await tracked;
        final = r.code;
        if (r.code !== 0 && k === 3) bad.push(`final apply exited ${r.code}: ${(r.stdout + r.stderr).split('\n').filter((l) => /fail|error|pending|wait/i.test(l)).slice(-5).join(' | ')}`);
      }
      watching = false;
      await watcher;
      if (killedAt !== undefined && movedAt !== undefined) failoverMs.push(movedAt - killedAt);

      if (final === 0) {
        const c = await check(killTimes, rs, written);
        bad.push(...c.bad);
        note.push(`${c.resumed} jobs resumed, ${c.failed.length} failed (retried), ${c.dataChecked} disks checked`);
        failedJobs = c.failed;
      }
      await recordFloors(round);
      violations.push(...bad.map((b) => `round ${round}: ${b}`));
      log(`round ${round}: ${((Date.now() - rs) / 1000).toFixed(1)} s, ${note.join(', ')}; applies ${exits.join(',')}; ${polls} polls; ${bad.length} violations`);
      for (const b of bad) log(`  violation: ${b}`);
      for (const f of failedJobs) log(`  failed job (not a violation: a later apply converged): ${f}`);
    }
    if (opts.measureFailover !== undefined && !violations.length) failover = await measure(opts.measureFailover);
  } finally {
    for (const s of children) if (s.child.pid) { try { process.kill(s.child.pid, 'SIGKILL'); } catch { /* gone */ } }
    await backend.close();
    if (bed) await bed.down().catch((e) => log(`test bed down: ${(e as Error).message}`));
    if (!violations.length) fs.rmSync(tmp, { recursive: true, force: true });
    else log(`state kept in ${tmp}`);
  }
  const seconds = (Date.now() - t0) / 1000;
  const summary = `soak: ${rounds} rounds, ${violations.length} violations, ${masterKills} master kills, ${nodeKills} node kills, ${edits} manifest edits in ${seconds.toFixed(0)} s`;
  log(summary);
  if (failover) log(`failover: node killed → its ${failover.instances} instances running elsewhere in ${failover.ms} ms (grace ${failover.graceS} s)`);
  return { rounds, violations, masterKills, nodeKills, edits, seconds, failoverMs, summary, ...(failover && { failover }) };

  async function measure(graceS: number): Promise<SoakResult['failover']> {
    (backend.clusterSpec.failover as Record<string, unknown>).nodeDownAfter = `${graceS}s`;
    for (const i of insts) delete i.primary;
    save();
    let r = await apply().done;
    if (r.code !== 0) { violations.push(`failover measure: apply before exited ${r.code}`); return undefined; }
    const status = await cliJson<StatusJson>(['status', manifests, '--state-dir', stateDir]);
    const moving = (n: string) => status.instances.filter((i) => i.primary === n && i.secondary && insts.some((x) => x.name === i.name && x.state === 'running')).map((i) => i.name);
    const victim = [...NODES].sort((a, b) => moving(b).length - moving(a).length)[0]!;
    const names = moving(victim);
    const bad: string[] = [];
    await backend.killNode(victim);
    const t = Date.now();
    const s = apply();
    let ms: number | undefined;
    while (ms === undefined && Date.now() - t < 120_000) {
      const m = await backend.running().catch(() => undefined);
      if (m) {
        for (const [inst, ns] of m) if (ns.length > 1) bad.push(`two running copies of ${inst}: ${ns.join(', ')}`);
        if (names.every((i) => (m.get(i) ?? []).some((n) => n !== victim))) ms = Date.now() - t;
      }
      await sleep(100);
    }
    r = await s.done;
    if (r.code !== 0) bad.push(`failover apply exited ${r.code}`);
    if (ms === undefined) bad.push(`${names.join(', ')} not running elsewhere within 120 s`);
    await backend.restoreNode(victim);
    r = await apply().done;
    if (r.code !== 0) bad.push(`apply after the restore exited ${r.code}`);
    else bad.push(...(await check([], Date.now())).bad);
    violations.push(...bad.map((b) => `failover measure: ${b}`));
    for (const b of bad) log(`  violation: failover measure: ${b}`);
    return ms === undefined ? undefined : { ms, instances: names.length, graceS };
  }

  // ------------------------------------------------------------ helpers of the loop

  function edit(kind: 'memory' | 'state' | 'add' | 'remove' | 'pin', round: number, placed: ReadonlyMap<string, StatusJson['instances'][number]>): void {
    const live = insts.filter((i) => i.state !== 'absent');
    if (kind === 'memory') {
      const i = pick(live);
      i.memory = i.memory === backend.memories[0] ? backend.memories[1] : backend.memories[0];
    } else if (kind === 'state') {
      const i = pick(live);
      i.state = i.state === 'running' ? 'stopped' : 'running';
    } else if (kind === 'add') {
      insts.push({ name: `a${round}x${Math.floor(rand() * 1000)}`, template: rand() < 0.8 ? 'replicated' : 'plain', state: 'running', memory: backend.memories[0] });
    } else if (kind === 'remove') {
      pick(live).state = 'absent';
    } else {
      const candidates = live.filter((i) => placed.get(i.name)?.primary && i.template === 'replicated');
      if (!candidates.length) return;
      const i = pick(candidates);
      const p = placed.get(i.name)!;
      // to its secondary (a migration) or to a third node (a move)
      i.primary = rand() < 0.5 && p.secondary ? p.secondary : pick(NODES.filter((n) => n !== p.primary && n !== p.secondary));
    }
  }

  async function recordFloors(round: number): Promise<void> {
    let status: StatusJson;
    try { status = await cliJson<StatusJson>(['status', manifests, '--state-dir', stateDir]); } catch { return; }
    const sample = status.instances.filter((i) => insts.some((x) => x.name === i.name && x.state !== 'absent'));
    const chosen = Number.isFinite(backend.dataSample)
      ? sample.filter((_, k) => (k + round) % Math.ceil(sample.length / backend.dataSample) === 0) : sample;
    for (const i of sample) if (!chosen.includes(i)) floors.delete(i.name);
    for (const i of chosen) {
      const where = i.secondary ?? i.primary;
      if (!where) continue;
      try { floors.set(i.name, await backend.read(where, i.name)); } catch { floors.delete(i.name); }
    }
  }

  async function check(killTimes: readonly { at: number; pid: number }[], roundStart: number,
    written: readonly { name: string; at: number; data: unknown }[] = []): Promise<{ bad: string[]; resumed: number; dataChecked: number; failed: string[] }> {
    const bad: string[] = [];
    const failed: string[] = [];
    let resumed = 0, dataChecked = 0;
    const [probe, status, plan, jobs] = await Promise.all([
      backend.probe(),
      cliJson<StatusJson>(['status', manifests, '--state-dir', stateDir]),
      cliJson<PlanJson>(['plan', manifests, '--state-dir', stateDir]),
      cliJson<{ jobs: JobJson[] }>(['jobs', '--state-dir', stateDir]),
    ]);
    const st = new Map(status.instances.map((i) => [i.name, i]));
    const nodeUp = new Map(status.nodes.map((n) => [n.name, n.health === 'up']));
    // 1, 3: each wanted instance exactly once, where status says, on a healthy node; its replica on the secondary
    for (const i of insts) {
      const cs = probe.containers.get(i.name) ?? [];
      const vs = probe.volumes.get(i.name) ?? [];
      if (i.state === 'absent') {
        if (cs.length || vs.length) bad.push(`${i.name}: absent, but copies on ${[...cs, ...vs].map((c) => c.node).join(', ')}`);
        continue;
      }
      const s = st.get(i.name);
      if (!s?.primary) { bad.push(`${i.name}: not placed (status ${s?.state ?? 'missing'})`); continue; }
      if (cs.length !== 1) { bad.push(`${i.name}: ${cs.length} containers (${cs.map((c) => `${c.node}${c.running ? '' : ' stopped'}`).join(', ')}), wanted one on ${s.primary}`); continue; }
      const c = cs[0]!;
      if (c.node !== s.primary) bad.push(`${i.name}: container on ${c.node}, status says ${s.primary}`);
      if (!probe.healthy.get(c.node) || !nodeUp.get(c.node)) bad.push(`${i.name}: on ${c.node}, which is not healthy`);
      if (c.running !== (i.state === 'running')) bad.push(`${i.name}: ${c.running ? 'running' : 'stopped'}, manifest says ${i.state}`);
      if (i.primary && s.primary !== i.primary) bad.push(`${i.name}: pinned to ${i.primary}, on ${s.primary}`);
      if (!vs.some((v) => v.node === s.primary)) bad.push(`${i.name}: no volumes on its primary ${s.primary}`);
      if (i.template === 'replicated') {
        if (!s.secondary || s.secondary === s.primary) bad.push(`${i.name}: secondary ${s.secondary ?? 'missing'}`);
        else if (!vs.some((v) => v.node === s.secondary && v.role === 'replica')) bad.push(`${i.name}: no replica on its secondary ${s.secondary} (${vs.map((v) => `${v.node}:${v.role}`).join(', ')})`);
        if (s.degraded) bad.push(`${i.name}: degraded after the final apply`);
      }
      const stray = vs.filter((v) => v.node !== s.primary && v.node !== s.secondary);
      if (stray.length) bad.push(`${i.name}: stray volumes on ${stray.map((v) => v.node).join(', ')}`);
      // 4: what the replica held after the last round is still there
      const floor = floors.get(i.name);
      if (floor !== undefined) {
        dataChecked++;
        const now = await backend.read(s.primary, i.name).catch((e) => `unreadable: ${(e as Error).message}`);
        if (!backend.covers(now, floor)) bad.push(`${i.name}: data lost on ${s.primary}: had ${JSON.stringify(floor)}, now ${JSON.stringify(now)}`);
      }
    }
    // 4 again: data written before a sync is on the replica and on the primary. Asynchronous replication: a
    // failover before the first sync after the write loses it, by design (the recovery point); later ones must not.
    for (const w of written) {
      const i = insts.find((x) => x.name === w.name);
      const s = st.get(w.name);
      if (!i || i.state === 'absent' || !s?.primary || !s.secondary) continue;
      const after = jobs.jobs.filter((j) => j.instance === w.name && j.start >= w.at).sort((a, b) => a.start - b.start);
      const synced = after.find((j) => j.result === 'succeeded' && ['SyncDisks', 'MigrateInstance', 'ReplaceSecondary'].includes(j.type));
      const failed = after.find((j) => j.type === 'FailoverInstance');
      if (!synced || (failed && failed.start < synced.end!)) continue;
      dataChecked++;
      for (const node of [s.primary, s.secondary]) {
        const now = await backend.read(node, w.name).catch((e) => `unreadable: ${(e as Error).message}`);
        if (!backend.covers(now, w.data)) bad.push(`${w.name}: written before its last sync, missing on ${node}: wrote ${JSON.stringify(w.data)}, now ${JSON.stringify(now)}`);
      }
    }
    for (const [inst, cs] of probe.containers) if (!insts.some((i) => i.name === inst)) bad.push(`${inst}: no manifest, but containers on ${cs.map((c) => c.node).join(', ')}`);
    for (const [inst, vs] of probe.volumes) if (!insts.some((i) => i.name === inst)) bad.push(`${inst}: no manifest, but volumes on ${vs.map((c) => c.node).join(', ')}`);
    // 5: nothing left to do but periodic re-syncs, nothing unexplained
    const ops = plan.operations.filter((o) => !(o.type === 'SyncDisks' && /replication\.interval/.test(o.reason ?? '')));
    if (ops.length) bad.push(`plan after convergence: ${ops.map((o) => `${o.type} ${o.instance} (${o.reason})`).join('; ')}`);
    if (plan.warnings.length) bad.push(`plan warnings: ${plan.warnings.join('; ')}`);
    if (plan.errors.length) bad.push(`plan errors: ${JSON.stringify(plan.errors)}`);
    // 6: the journal
    for (const j of jobs.jobs) {
      if (j.result === 'running') bad.push(`job ${j.id} ${j.type} ${j.instance} left running`);
      if (j.end === undefined) continue;
      if (j.start < roundStart) continue;
      const killed = killTimes.filter((k) => j.start <= k.at && k.at < j.end!);
      if (j.resumed) resumed++;
      if (j.result === 'failed') failed.push(`${j.type} ${j.instance}: ${j.error ?? '?'}`);
      if (killed.length && !j.resumed) bad.push(`job ${j.id} ${j.type} ${j.instance} was in flight when master ${killed[0]!.pid} was killed, but does not show resumed`);
      const dead = killTimes.find((k) => k.pid === j.master?.pid && k.at < j.end!);
      if (dead) bad.push(`job ${j.id} ${j.type} ${j.instance} ended (${j.result}) by master ${dead.pid} after it was killed`);
    }
    return { bad, resumed, dataChecked, failed };
  }
}

// ---------------------------------------------------------------- CLI

function parse(argv: string[]): SoakOptions {
  const o: Record<string, string> = {};
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    if (!a.startsWith('--')) throw new Error(`soak: unexpected ${a}`);
    o[a.slice(2)] = argv[k + 1] ?? '';
    k++;
  }
  const backend = (o.backend ?? 'sim') as 'sim' | 'docker';
  if (backend !== 'sim' && backend !== 'docker') throw new Error('soak: --backend sim|docker');
  return {
    backend,
    rounds: Number(o.rounds ?? 10),
    minutes: Number(o.minutes ?? 10),
    instances: Number(o.instances ?? 30),
    seed: Number(o.seed ?? 1),
    base: Number(o.base ?? 70),
    ...(o['failover-grace'] !== undefined && { measureFailover: Number(o['failover-grace']) }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const opts = parse(process.argv.slice(2));
  console.log(`soak: ${opts.backend}, up to ${opts.rounds} rounds or ${opts.minutes} min, ${opts.instances} instances, seed ${opts.seed}`);
  const r = await runSoak(opts);
  process.exit(r.violations.length ? 1 : 0);
}
