/**
 * Watch latency: a manifest saved → the first operation that save causes has started, as seen in
 * `drover watch --json` (a child process on the sim backend, zero latency). It includes chokidar's
 * event, the 300 ms debounce, re-reading and validating every manifest, observing and planning.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function benchWatch(saves = 10): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drover-bench-watch-'));
  const manifests = path.join(dir, 'manifests');
  fs.cpSync(path.join(ROOT, 'manifests'), manifests, { recursive: true });
  const cluster = path.join(manifests, 'cluster.yaml');
  fs.writeFileSync(cluster, fs.readFileSync(cluster, 'utf8').replace(/latency: \S+/, 'latency: 0s'));
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/drover.js'), 'watch', manifests, '--json'], { cwd: dir, env: { ...process.env, DROVER_STATE_DIR: path.join(dir, 'state') } });
  const events: { type: string; time: string; run?: number }[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) events.push(JSON.parse(buf.slice(0, i)) as { type: string; time: string });
  });
  const until = async (pred: (e: { type: string; time: string; run?: number }) => boolean, from: number) => {
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(5)) {
      const e = events.slice(from).find(pred);
      if (e) return e;
    }
    throw new Error('watch did not answer');
  };
  try {
    await until((e) => e.type === 'run', 0);
    const web = path.join(manifests, 'instances/web.yaml');
    const text = fs.readFileSync(web, 'utf8');
    const ms: number[] = [];
    for (let i = 0; i < saves; i++) {
      await sleep(400); // let chokidar settle between saves: each save is its own burst
      const mark = events.length;
      const saved = Date.now();
      fs.writeFileSync(web, text.replace('memory: 1G', `memory: ${700 + i}M`));
      const started = await until((e) => e.type === 'operation-started', mark);
      ms.push(Date.parse(started.time) - saved);
      await until((e) => e.type === 'run', mark);
    }
    ms.sort((a, b) => a - b);
    const p50 = ms[Math.floor(ms.length / 2)]!;
    return [`manifest save → first operation started (watch, sim, ${saves} saves, 300 ms debounce): p50 ${p50} ms, max ${ms.at(-1)} ms, min ${ms[0]} ms (aim < 500 ms)`];
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
