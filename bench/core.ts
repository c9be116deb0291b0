/**
 * Core benchmarks: plan time and memory at 100/2,000 and 1,000/20,000, from empty and with no
 * changes; apply throughput on the sim backend with zero latency, every step durable.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { plan } from '../src/plan/index.ts';
import { converge } from '../src/apply/converge.ts';
import { SimDriver } from '../src/drivers/sim/index.ts';
import { Store } from '../src/store/store.ts';
import { cluster, convergedWorld, emptyWorld, generate } from './generate.ts';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;

function timePlan(label: string, input: Parameters<typeof plan>[0]): { line: string; ops: ReturnType<typeof plan> } {
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const p = plan(input);
  const ms = performance.now() - t0;
  const heap = process.memoryUsage().heapUsed - heap0;
  return { line: `plan ${label.padEnd(34)} ${ms.toFixed(0).padStart(6)} ms  ${String(p.operations.length).padStart(6)} ops  heap +${mib(heap)}  rss ${mib(process.memoryUsage().rss)}`, ops: p };
}

export async function benchPlan(): Promise<string[]> {
  const lines: string[] = [];
  for (const [n, m] of [[100, 2000], [1000, 20000]] as const) {
    const d = generate(n, m);
    const empty = emptyWorld(d);
    timePlan('warm-up', { desired: generate(20, 200), ...emptyWorld(generate(20, 200)), now: 0 });
    const fromEmpty = timePlan(`${n} nodes / ${m} instances, from empty`, { desired: d, ...empty, now: 0 });
    lines.push(fromEmpty.line);
    const done = convergedWorld(d, fromEmpty.ops.operations);
    const noChange = timePlan(`${n} nodes / ${m} instances, no changes`, { desired: d, ...done, now: 0 });
    lines.push(`${noChange.line}${noChange.ops.operations.length ? '  (EXPECTED 0 ops!)' : ''}`);
  }
  return lines;
}

export async function benchApply(instances = 2000, nodes = 100): Promise<string[]> {
  const lines: string[] = [];
  for (const fsync of [true, false]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drover-bench-'));
    const d = generate(nodes, instances, cluster(512, 16));
    const store = new Store(dir, { fsync });
    const driver = new SimDriver({ stateDir: dir, nodes: [...d.nodes.values()], latencyMs: 0 });
    const t0 = performance.now();
    const r = await converge({ desired: d, driver, store, events: () => {} });
    const s = (performance.now() - t0) / 1000;
    await driver.close();
    await store.close();
    const jobs = r.succeeded;
    lines.push(`apply ${instances} instances on ${nodes} sim nodes, zero latency, store fdatasync ${fsync ? 'on ' : 'off'}: ${s.toFixed(2)} s, ${(instances / s).toFixed(0)} instances/s (${jobs} operations, ${r.failed.length} failed, store ${mib(dirSize(dir))})`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

function dirSize(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += fs.statSync(path.join(e.parentPath, e.name)).size;
  }
  return total;
}

/** Loading and validating one 3 MB file of 20,000 instance documents (js-yaml + ajv + checks). */
export async function benchLoad(): Promise<string[]> {
  const { loadManifests } = await import('../src/manifest/index.ts');
  const { bigManifest } = await import('../test/fixtures/manifests/generate.ts');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drover-bench-load-'));
  const file = path.join(dir, 'big.yaml');
  const text = bigManifest(20_000, 100);
  fs.writeFileSync(file, text);
  await loadManifests([file]); // warm-up: the schemas compile once per process
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await loadManifests([file]);
    times.push(performance.now() - t0);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return [`load + validate ${(text.length / 1024 / 1024).toFixed(1)} MiB, 20,000 instances: best ${Math.min(...times).toFixed(0)} ms of 3`];
}
