/** Watch tests: drover as a child process on the sim backend, in a temp dir with its own manifests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadManifests } from '../../src/manifest/index.ts';
import { SimDriver } from '../../src/drivers/sim/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/drover.js');

export interface Sandbox {
  readonly dir: string;
  readonly manifests: string;
  readonly state: string;
}

/** A copy of the quick-start manifests with no sim latency, a 1 s grace and a 24 h replication interval, in a fresh temp dir. */
export function sandbox(): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drover-watch-'));
  const manifests = path.join(dir, 'manifests');
  fs.cpSync(path.join(ROOT, 'manifests'), manifests, { recursive: true });
  const cluster = path.join(manifests, 'cluster.yaml');
  const text = fs.readFileSync(cluster, 'utf8').replace(/latency: \S+/, 'latency: 0s').replace(/nodeDownAfter: \S+/, 'nodeDownAfter: 1s')
    // replicas never come due while a test waits for "0 changes" or an empty plan (the quick start's is 1m)
    .replace(/(replication:\s*interval:) \S+/, '$1 24h');
  if (!/replication:\s*interval: 24h/.test(text)) throw new Error('sandbox: the quick start no longer sets replication.interval');
  fs.writeFileSync(cluster, text);
  return { dir, manifests, state: path.join(dir, 'state') };
}

export function drover(sb: Sandbox, args: readonly string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: sb.dir, env: { ...process.env, DROVER_STATE_DIR: sb.state, DROVER_FSYNC: '0' }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** A running `drover watch`: its output so far, and a wait for a line. */
export class WatchProcess {
  readonly child: ChildProcess;
  out = '';
  err = '';
  /** stdout and stderr in arrival order: positions in it only grow. */
  log = '';
  readonly exited: Promise<number>;

  constructor(sb: Sandbox, args: readonly string[]) {
    this.child = spawn(process.execPath, [BIN, 'watch', sb.manifests, ...args], { cwd: sb.dir, env: { ...process.env, DROVER_STATE_DIR: sb.state, DROVER_FSYNC: '0' } });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.out += d; this.log += d; });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.err += d; this.log += d; });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code ?? -1)));
  }

  /** Resolves once `re` matches stdout+stderr after position `from`; rejects after `ms`. */
  async waitFor(re: RegExp, ms = 15_000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.log.slice(from).match(re);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}\nstdout:\n${this.out}\nstderr:\n${this.err}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  get length(): number { return this.log.length; }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    this.child.kill(signal);
    return this.exited;
  }
}

/** Change the sim world as a person would by hand (no master may be running). */
export async function tamper(sb: Sandbox, fn: (d: SimDriver) => Promise<void>): Promise<void> {
  const r = await loadManifests([sb.manifests]);
  if (!r.ok) throw new Error('bad manifests');
  const d = new SimDriver({ stateDir: sb.state, nodes: [...r.desired.nodes.values()], fsync: false });
  try { await fn(d); } finally { await d.close(); }
}

export function placement(sb: Sandbox, instance: string): { primary: string; secondary?: string } {
  const r = drover(sb, ['status', sb.manifests, '--json']);
  const i = (JSON.parse(r.out) as { instances: { name: string; primary: string; secondary?: string }[] }).instances.find((x) => x.name === instance);
  if (!i) throw new Error(`no ${instance}`);
  return i;
}
