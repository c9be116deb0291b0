/**
 * The master's API under load: `drover watch --listen` on a 1,000-node / 20,000-instance sim
 * cluster, from empty (so the master is busy converging: creating every instance), while a client
 * asks GET /api/instances (the default page, 1,000 rows) ten times a second; then the master's
 * RSS. A child process, as an operator would run it.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bigManifest } from '../test/fixtures/manifests/generate.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin/drover.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchApi(nodes = 1000, instances = 20_000, seconds = 30): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drover-bench-api-'));
  const env = { ...process.env, DROVER_STATE_DIR: path.join(dir, 'state'), DROVER_FSYNC: '0' };
  fs.mkdirSync(path.join(dir, 'manifests'));
  fs.writeFileSync(path.join(dir, 'manifests/big.yaml'), bigManifest(instances, nodes));
  const token = execFileSync(process.execPath, [BIN, 'token', 'create', 'bench', '--role', 'viewer'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const child = spawn(process.execPath, [BIN, 'watch', path.join(dir, 'manifests'), '--listen', '127.0.0.1:0', '--json'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let events = 0;
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  child.stdout.setEncoding('utf8').on('data', (d: string) => { events += d.split('"operation-finished"').length - 1; });
  try {
    const base = await until(() => /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(err)?.[1], 120_000, () => err);
    const get = async (url: string) => {
      const t0 = performance.now();
      const r = await fetch(`${base}${url}`, { headers: { authorization: `Bearer ${token}` } });
      await r.arrayBuffer();
      return { status: r.status, ms: performance.now() - t0 };
    };
    await until(async () => (await get('/api/instances')).status === 200 || undefined, 300_000, () => err); // the first round has looked
    const ms: number[] = [];
    const full: number[] = [];
    let rss = 0;
    const finishedBefore = events;
    const cpuBefore = cpuOf(child.pid!);
    const end = Date.now() + seconds * 1000;
    for (let i = 0; Date.now() < end; i++) {
      const r = await get('/api/instances');
      if (r.status === 200) ms.push(r.ms);
      if (i % 10 === 0) { const f = await get('/api/instances?limit=20000'); if (f.status === 200) full.push(f.ms); }
      rss = Math.max(rss, rssOf(child.pid!));
      await sleep(100);
    }
    const busy = events - finishedBefore;
    const cpuAfter = cpuOf(child.pid!);
    const load = os.loadavg()[0]!.toFixed(1);
    return [
      `GET /api/instances (1,000 rows) on ${nodes} nodes / ${instances} instances while watch converges (${busy} operations finished meanwhile): ${pct(ms)} over ${ms.length} requests (aim p99 < 100 ms; load average ${load} on ${os.cpus().length} cores)`,
      `GET /api/instances?limit=20000 (every row, ${(instances / 1000).toFixed(0)}k): ${pct(full)} over ${full.length} requests`,
      `master RSS meanwhile: max ${(rss / 1024).toFixed(0)} MiB`,
      `master CPU meanwhile: main thread ${(cpuAfter.main - cpuBefore.main).toFixed(1)} s, all threads ${(cpuAfter.all - cpuBefore.all).toFixed(1)} s (${(((cpuAfter.all - cpuBefore.all) / Math.max(1, busy)) * 1000).toFixed(2)} ms per operation finished)`,
    ];
  } finally {
    child.kill('SIGTERM');
    await Promise.race([new Promise((r) => child.on('exit', r)), sleep(20_000).then(() => child.kill('SIGKILL'))]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The work one look of the master costs at 1,000 nodes / 20,000 instances (a converged cluster):
 * the master's thread at a run's end (monitoring's status snapshot), and the API's views thread
 * (status, verify with N+1, the score; N+1 also goes to the metrics from there).
 */
export async function benchLookWork(tries = 7): Promise<string[]> {
  const { generate, emptyWorld, convergedWorld } = await import('./generate.ts');
  const { plan } = await import('../src/plan/index.ts');
  const { statusSnapshot, n1Of } = await import('../src/monitor/snapshot.ts');
  const { Views } = await import('../src/api/views.ts');
  const d = generate(1000, 20_000);
  const w = convergedWorld(d, plan({ desired: d, ...emptyWorld(d), now: 0 }).operations);
  const look = { desired: d, observed: w.observed, plan: {}, drift: [], store: { ...w.store, jobs: new Map() } };
  const runEnd: number[] = [], views: number[] = [];
  for (let k = 0; k < tries; k++) {
    let t0 = performance.now();
    statusSnapshot({ desired: d, ...w, now: Date.now() });
    runEnd.push(performance.now() - t0);
    t0 = performance.now();
    const v = new Views(look, look.store, Date.now());
    void [v.instances, v.nodes, v.clusters];
    n1Of(v.findings);
    views.push(performance.now() - t0);
  }
  const at = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!.toFixed(0);
  return [
    `master's thread at a run's end (status snapshot for the metrics; N+1 is not computed there): median ${at(runEnd, 0.5)} ms, min ${at(runEnd, 0)} ms over ${tries}`,
    `API views thread per look (status, verify with N+1, score): median ${at(views, 0.5)} ms, min ${at(views, 0)} ms over ${tries}`,
  ];
}

function pct(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]?.toFixed(1) ?? '-';
  return `p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`;
}

/** kB */
function rssOf(pid: number): number {
  try { return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0); } catch { return 0; }
}

/** CPU seconds (user + system): the process's main thread (the master's converging thread) and the whole process (every thread). */
function cpuOf(pid: number): { main: number; all: number } {
  const ticks = (file: string) => {
    try {
      const text = fs.readFileSync(file, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' '); // after "pid (comm) ": field 3 onwards
      return (Number(f[11]) + Number(f[12])) / 100; // utime, stime (fields 14, 15) in USER_HZ ticks
    } catch { return 0; }
  };
  return { main: ticks(`/proc/${pid}/task/${pid}/stat`), all: ticks(`/proc/${pid}/stat`) };
}

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, ms: number, log: () => string): Promise<T> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) {
    let v: T | undefined;
    try { v = await fn(); } catch { v = undefined; } // not listening yet
    if (v !== undefined) return v;
  }
  throw new Error(`bench api: timed out\n${log().slice(-2000)}`);
}
