/**
 * End-to-end support (no tests here): a test bed of our own from scripts/testbed (never a shared one: these
 * tests kill, partition and re-certify nodes), manifests written as files, the real CLI run as a child
 * process, and a watcher that polls every engine for running copies of each instance.
 */
import * as assert from 'uvu/assert';
import type { Test } from 'uvu';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Docker from 'dockerode';
import { ROOT, spawnDrover, type CliResult } from '../support/cli.ts';
import { dockerDiskData } from '../support/testbed.ts';
import type { DiskData } from '../support/contract.ts';

export { ROOT };
export const TESTBED = path.join(ROOT, 'scripts/testbed');
export const FENCE = path.join(ROOT, 'test/fixtures/docker/fence.sh');
export const MiB = 1 << 20;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function sh(file: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { env, timeout: timeoutMs, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

export interface Bed {
  readonly dir: string;
  readonly base: number;
  readonly image: string;
  readonly criu: boolean;
  /** DROVER_TESTBED and DROVER_TESTBED_BASE: for scripts/testbed and the fence script. */
  readonly env: Record<string, string>;
  /** node1..nodeN → endpoint (tcp://127.0.0.(base+I):2375, or :2376 with TLS). */
  endpoint(i: number): string;
  readonly size: number;
  run(cmd: string, ...args: string[]): Promise<string>;
  /** A client on node I's unix socket: answers while the node is partitioned; never through Drover. */
  engine(i: number): Docker;
  /** Files on an instance's volumes on node I, through a busybox helper on its unix socket. */
  readonly data: DiskData;
  down(): Promise<void>;
}

/**
 * A test bed of `n` nodes on 127.0.0.(base+1..n), in /tmp/<prefix>-<base>-<pid>. Left-overs of an
 * earlier run on the same base (a killed test process) are torn down first: they hold the addresses.
 */
export async function upBed(n: number, wanted: number, prefix = 'drover-e2e'): Promise<Bed> {
  // another live process on this base (two `npm test` at once): take the same range 100 addresses up
  const owners = (b: number) => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(`${prefix}-${b}-`));
  const taken = (b: number) => owners(b).some((f) => { const pid = Number(f.split('-').pop()); return pid !== process.pid && isAlive(pid); });
  const base = [wanted, wanted + 100].find((b) => b + n <= 254 && !taken(b));
  if (base === undefined) throw new Error(`the test bed addresses 127.0.0.${wanted + 1}+ and 127.0.0.${wanted + 101}+ are both in use by other test processes`);
  for (const old of owners(base)) {
    await sh(TESTBED, ['down'], { ...process.env, DROVER_TESTBED: path.join(os.tmpdir(), old), DROVER_TESTBED_BASE: String(base) }).catch(() => {});
  }
  const dir = path.join(os.tmpdir(), `${prefix}-${base}-${process.pid}`);
  const env = { DROVER_TESTBED: dir, DROVER_TESTBED_BASE: String(base) };
  const full: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete full.DROVER_TESTBED_NODES;
  try {
    await sh(TESTBED, ['up', String(n)], full, 240_000);
  } catch (e) {
    await sh(TESTBED, ['down'], full).catch(() => {});
    throw e;
  }
  const vars = Object.fromEntries((await sh(TESTBED, ['env'], full)).split('\n')
    .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim())).filter((m): m is RegExpExecArray => !!m).map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')]));
  const engines = new Map<number, Docker>();
  const engine = (i: number): Docker => {
    let e = engines.get(i);
    if (!e) { e = new Docker({ socketPath: `${dir}/n${i}/docker.sock` }); engines.set(i, e); }
    return e;
  };
  const image = vars.DROVER_TESTBED_IMAGE ?? 'drover/busybox:1';
  return {
    dir, base, image, env, size: n,
    criu: vars.DROVER_TESTBED_CRIU === '1',
    endpoint: (i) => (fs.existsSync(`${dir}/n${i}/tls`) ? `tcp://127.0.0.${base + i}:2376` : `tcp://127.0.0.${base + i}:2375`),
    run: (cmd, ...args) => sh(TESTBED, [cmd, ...args], full),
    engine,
    data: dockerDiskData(image, (node) => engine(nodeIndex(node))),
    async down() {
      await sh(TESTBED, ['down'], full, 240_000);
    },
  };
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** "node3" → 3 */
export const nodeIndex = (node: string): number => Number(/^node(\d+)$/.exec(node)?.[1] ?? NaN);

// ---------------------------------------------------------------- manifests

export interface NodeDoc { readonly name: string; readonly endpoint: string; readonly tls?: { ca: string; cert: string; key: string } }
export interface InstanceDoc { readonly name: string; readonly [k: string]: unknown }

/** Write cluster.yaml, nodes.yaml and instances.yaml (JSON documents are YAML) into `dir`, replacing what was there. */
export function writeManifests(dir: string, m: { cluster: string; spec: Record<string, unknown>; nodes: readonly NodeDoc[]; instances: readonly InstanceDoc[] }): string {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const doc = (kind: string, name: string, spec: object) => JSON.stringify({ apiVersion: 'drover/v1', kind, metadata: { name }, spec });
  fs.writeFileSync(path.join(dir, 'cluster.yaml'), `${doc('Cluster', m.cluster, { backend: 'docker', ...m.spec })}\n`);
  fs.writeFileSync(path.join(dir, 'nodes.yaml'), m.nodes.map((n) =>
    doc('Node', n.name, { cluster: m.cluster, endpoint: n.endpoint, ...(n.tls && { tls: n.tls }) })).join('\n---\n') + '\n');
  fs.writeFileSync(path.join(dir, 'instances.yaml'), (m.instances.map(({ name, ...spec }) =>
    doc('Instance', name, { cluster: m.cluster, ...spec })).join('\n---\n') || '# none') + '\n');
  return dir;
}

/** The cluster spec these tests use: the test bed's image, small instances, the fence script. */
export function clusterSpec(bed: Bed, over: { nodeDownAfter?: string; fence?: boolean; diskTemplate?: string } = {}): Record<string, unknown> {
  return {
    defaults: { memory: '48M', vcpus: 1, image: bed.image, diskTemplate: over.diskTemplate ?? 'replicated', disks: [{ size: '64M', mount: '/data' }] },
    policy: { vcpuRatio: 8, memoryOvercommit: 1.0, redundancy: 'n+1' },
    reconcile: { interval: '1m', concurrency: { perNode: 4, total: 12 } },
    failover: { automatic: true, nodeDownAfter: over.nodeDownAfter ?? '3s', ...(over.fence !== false && { fenceCommand: [FENCE] }) },
    // longer than any test: a sync must never come due while a test asserts a no-change plan (a slow
    // machine outlived 1m between the last sync and the closing `plan --detailed-exitcode`)
    replication: { interval: '24h' },
  };
}

/** A shell loop that stops at once on SIGTERM (the engine's stop timeout is 10 s). */
export const IDLE = ['sh', '-c', "trap 'exit 0' TERM; while :; do usleep 100000; done"];

// ---------------------------------------------------------------- the CLI

export interface Cli {
  (args: readonly string[], opts?: { timeoutMs?: number; env?: Record<string, string> }): Promise<CliResult>;
  json<T = any>(args: readonly string[]): Promise<T>;
  /** Started, not awaited: for acting on the nodes while it runs. */
  spawn(args: readonly string[]): ReturnType<typeof spawnDrover>;
  readonly stateDir: string;
}

/** `node bin/drover.js ARGS --state-dir D` as a child process, with the test bed's environment (for the fence). */
export function cli(bed: Bed, stateDir: string, extraEnv: Record<string, string> = {}): Cli {
  const run = async (args: readonly string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> => {
    const s = spawnDrover([...args, '--state-dir', stateDir], { ...bed.env, ...extraEnv, ...opts.env });
    const timer = setTimeout(() => s.child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
    try {
      const r = await s.done;
      if (r.signal) throw new Error(`drover ${args.join(' ')}: killed by ${r.signal} (timeout?)\n${r.stdout}\n${r.stderr}`);
      return r;
    } finally {
      clearTimeout(timer);
    }
  };
  const json = async <T>(args: readonly string[]): Promise<T> => {
    const r = await run([...args, '--json']);
    if (r.code !== 0) throw new Error(`drover ${args.join(' ')} --json exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const spawn = (args: readonly string[]) => spawnDrover([...args, '--state-dir', stateDir], { ...bed.env, ...extraEnv });
  return Object.assign(run, { json, spawn, stateDir });
}

export interface StatusJson {
  nodes: { name: string; health: string; error?: string; primaries: number; secondaries: number }[];
  instances: { name: string; state: string; primary?: string; secondary?: string; degraded: boolean; recoveryPoint?: number }[];
}
export interface JobJson { id: string; type: string; instance: string; start: number; end?: number; result: string; error?: string; reason?: string }
export interface ApplyEvent { type: string; op?: { type: string; instance: string; [k: string]: unknown }; note?: string; result?: string; error?: string; time: string; [k: string]: unknown }

/** NDJSON of `apply --json`. */
export function events(stdout: string): ApplyEvent[] {
  return stdout.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as ApplyEvent);
}

/** The nodes an operation touches (from its JSON form). */
export function opNodes(op: Record<string, unknown>): string[] {
  return ['primary', 'secondary', 'from', 'to', 'node'].map((k) => op[k]).filter((v): v is string => typeof v === 'string');
}

// ---------------------------------------------------------------- engines

export interface RunningCopy { node: string; id: string; startedAt?: string }

/** Running containers of the cluster's instances on every reachable engine (unix sockets; helpers excluded). */
export async function runningCopies(bed: Bed, cluster: string, timeoutMs = 3000): Promise<{ copies: Map<string, RunningCopy[]>; unreachable: string[] }> {
  const copies = new Map<string, RunningCopy[]>();
  const unreachable: string[] = [];
  await Promise.all(Array.from({ length: bed.size }, (_, k) => k + 1).map(async (i) => {
    const node = `node${i}`;
    let list: Docker.ContainerInfo[];
    try {
      list = await withTimeout(bed.engine(i).listContainers({ filters: { label: [`drover.cluster=${cluster}`], status: ['running'] } }), timeoutMs);
    } catch {
      unreachable.push(node);
      return;
    }
    for (const c of list) {
      const inst = c.Labels['drover.instance'];
      if (!inst || c.Labels['drover.helper'] !== undefined) continue;
      const a = copies.get(inst) ?? [];
      a.push({ node, id: c.Id });
      copies.set(inst, a);
    }
  }));
  return { copies, unreachable };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), ms); })]).finally(() => clearTimeout(timer));
}

export interface WatchReport {
  readonly polls: number;
  /** "t=… instance on node1,node3" for every poll that saw two running copies. */
  readonly violations: readonly string[];
  /** instance → every node it was seen running on. */
  readonly seenOn: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * Poll every engine (about every 100 ms) until stop(): no instance may ever run on two nodes at once.
 * A killed node does not answer, and runs nothing either (testbed kill freezes and SIGKILLs all of it).
 */
export function watchCopies(bed: Bed, cluster: string): { stop(): Promise<WatchReport> } {
  let polls = 0;
  let stopping = false;
  const violations: string[] = [];
  const seenOn = new Map<string, Set<string>>();
  const t0 = Date.now();
  const loop = (async () => {
    while (!stopping) {
      const { copies } = await runningCopies(bed, cluster, 2000);
      polls++;
      for (const [inst, cs] of copies) {
        const s = seenOn.get(inst) ?? new Set();
        for (const c of cs) s.add(c.node);
        seenOn.set(inst, s);
        if (cs.length > 1) violations.push(`t=${Date.now() - t0}ms ${inst} running on ${cs.map((c) => c.node).join(',')}`);
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      return { polls, violations, seenOn };
    },
  };
}

/** Poll `f` until it returns a truthy value, or fail after `timeoutMs` with `what`. */
export async function until<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

/** stdout lines of a container (non-TTY log frames). */
export async function logLines(docker: Docker, name: string): Promise<string[]> {
  const buf = (await docker.getContainer(name).logs({ stdout: true, stderr: false, follow: false })) as Buffer;
  const out: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) { const len = buf.readUInt32BE(i + 4); if (buf[i] === 1) out.push(buf.subarray(i + 8, i + 8 + len)); i += 8 + len; }
  return Buffer.concat(out).toString().split('\n').filter(Boolean);
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** An exit code check that shows the output when it fails. */
export const ok = (r: { code: number; stdout: string; stderr: string }, what: string, code = 0): void =>
  assert.is(r.code, code, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);

export interface BedCtx { bed?: Bed; tmp?: string; drover?: Cli }

/**
 * A suite's own test bed: up before its tests (then `setup`, e.g. a TLS node), down after them
 * even when they fail, with a temp dir for the state and the fence log.
 */
export function withBed<C extends BedCtx>(test: Test<C>, prefix: string, nodes: number, base: number, setup?: (ctx: C) => Promise<void>): void {
  test.before(async (ctx) => {
    ctx.tmp = tempDir(prefix);
    ctx.bed = await upBed(nodes, base);
    await setup?.(ctx);
    ctx.drover = cli(ctx.bed, path.join(ctx.tmp, 'state'), { FENCE_LOG: path.join(ctx.tmp, 'fence.log') });
  });
  test.after(async (ctx) => {
    try {
      await ctx.bed?.down();
    } finally {
      if (ctx.tmp) fs.rmSync(ctx.tmp, { recursive: true, force: true });
    }
  });
}
