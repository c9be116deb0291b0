/**
 * The docker backend on a real test bed (scripts/testbed, 3 engines on 127.0.0.63-65, started and torn down
 * here; needs root and scripts/ci-setup-docker):
 *  - converge 30 replicated instances whose primary volumes hold ~1 GB of random data in all (pre-filled:
 *    an instance's data predates its replica), from no containers and no replicas, with `drover apply`
 *    (the CLI, a child process), against a plain sequential script doing the same work with the Docker API
 *    (create the replica volume, copy the volume through the archive API, create and start the container);
 *  - failover: from `scripts/testbed kill` of a node to all its instances running elsewhere
 *    (nodeDownAfter 3s, fenced by test/fixtures/docker/fence.sh);
 *  - live-migration downtime (the job note `live, downtime N ms`), of a process counting in memory;
 *  - periodic re-sync of a 100 MiB volume with 1% changed: whole copy against incremental;
 *  - how long an HTTP server's NIC address goes unanswered when it moves and when its node dies (a client on the
 *    test bed's segment polling every 50 ms).
 * Standalone: `node --import tsx bench/docker.ts`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Docker from 'dockerode';
import { IDLE, clusterSpec, cli, events, nodeIndex, runningCopies, sleep, tempDir, upBed, writeManifests, type Bed, type InstanceDoc } from '../test/e2e-docker/helpers.ts';
import { SERVER, startPoller } from '../test/e2e-net/segment.ts';
import type { NicBinding } from '../src/model/nics.ts';
import type { InstanceSpec } from '../src/model/operations.ts';
import { engineAt, runIn } from '../test/support/testbed.ts';
import { createDockerDriver } from '../src/drivers/docker/index.ts';

const N = 30;
const MIB_EACH = 34; // 30 × 34 MiB = 1020 MiB
const CLUSTER = 'bench';
const NODES = ['node1', 'node2', 'node3'];
const COUNTER = ['sh', '-c', "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo $i; usleep 20000; done"];

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const place = (i: number) => ({ primary: NODES[i % 3]!, secondary: NODES[(i + 1) % 3]! });

async function pool<T>(items: readonly T[], n: number, f: (t: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => { for (let t = queue.shift(); t !== undefined; t = queue.shift()) await f(t); }));
}

/** A volume on `node` holding MIB_EACH MiB of random data (untimed set-up). */
async function prefill(bed: Bed, node: string, volume: string, labels: Record<string, string>): Promise<void> {
  const e = bed.engine(nodeIndex(node));
  await e.createVolume({ Name: volume, Labels: labels });
  await runIn(e, bed.image, ['sh', '-c', `dd if=/dev/urandom of=/d/data.bin bs=1M count=${MIB_EACH} 2>/dev/null && echo ${volume} > /d/name`], { [volume]: '/d' });
}

/** The same work as Drover's converge, plainly: one instance after the other, straight Docker API calls. */
async function sequentialScript(bed: Bed, names: readonly string[]): Promise<number> {
  const tcp = new Map(NODES.map((n) => [n, engineAt(bed.endpoint(nodeIndex(n)))]));
  const t0 = Date.now();
  for (const [i, name] of names.entries()) {
    const { primary, secondary } = place(i);
    const a = tcp.get(primary)!;
    const b = tcp.get(secondary)!;
    const vol = `${name}-d0`;
    await b.createVolume({ Name: vol });
    const helper = (d: Docker) => d.createContainer({ Image: bed.image, Cmd: ['true'], HostConfig: { NetworkMode: 'none', Mounts: [{ Type: 'volume', Source: vol, Target: '/v' }] } });
    const [ha, hb] = [await helper(a), await helper(b)];
    const tar = await ha.getArchive({ path: '/v' });
    await hb.putArchive(tar, { path: '/' });
    await ha.remove({ force: true });
    await hb.remove({ force: true });
    const c = await a.createContainer({
      name, Image: bed.image, Cmd: IDLE, Labels: { 'bench.script': '1' },
      HostConfig: { Memory: 32 << 20, NanoCpus: 1e9, RestartPolicy: { Name: 'no' }, NetworkMode: 'none', Mounts: [{ Type: 'volume', Source: vol, Target: '/data' }] },
    });
    await c.start();
  }
  return Date.now() - t0;
}

async function removeScriptWork(bed: Bed, names: readonly string[]): Promise<void> {
  await pool(names.map((n, i) => [n, i] as const), 3, async ([name, i]) => {
    const { primary, secondary } = place(i);
    await bed.engine(nodeIndex(primary)).getContainer(name).remove({ force: true }).catch(() => {});
    for (const node of [primary, secondary]) await bed.engine(nodeIndex(node)).getVolume(`${name}-d0`).remove().catch(() => {});
  });
}

async function md5(bed: Bed, node: string, volume: string): Promise<string> {
  return (await runIn(bed.engine(nodeIndex(node)), bed.image, ['sh', '-c', 'md5sum /d/data.bin | cut -d" " -f1'], { [volume]: '/d' })).trim();
}

/** Desired nodes of a driver-level bench cluster. */
const benchNodes = (bed: Bed, cluster: string, names: readonly string[]) => names.map((name) => ({
  name, labels: {}, cluster, endpoint: bed.endpoint(nodeIndex(name)), group: 'default', drained: false, offline: false,
  source: { file: 'bench', line: 1, column: 1 },
}));

/** Re-sync of a 100 MiB volume (50 × 2 MiB) after 1 MiB of it changed: whole copy vs incremental, through the driver. */
async function resyncFigures(bed: Bed): Promise<string> {
  const cluster = 'bench-resync';
  const nodes = benchNodes(bed, cluster, ['node2', 'node3']);
  const incr = createDockerDriver({ cluster, nodes, helperImage: bed.image, timeoutMs: 20_000 });
  const full = createDockerDriver({ cluster, nodes, helperImage: bed.image, timeoutMs: 20_000, incrementalSync: false });
  const disks = [{ size: 256 << 20, mount: '/data' }];
  try {
    await incr.createDisks('node2', 'rs', disks, 'primary', 1);
    await incr.createDisks('node3', 'rs', disks, 'replica', 1);
    const e = bed.engine(nodeIndex('node2'));
    await runIn(e, bed.image, ['sh', '-c', 'for i in $(seq 1 50); do dd if=/dev/urandom of=/d/f$i bs=1M count=2 2>/dev/null; done'], { 'drover-rs-d0': '/d' });
    await incr.syncDisks('node2', 'node3', 'rs');
    const change = (f: string) => runIn(e, bed.image, ['sh', '-c', `dd if=/dev/urandom of=/d/${f} bs=1M count=1 2>/dev/null`], { 'drover-rs-d0': '/d' });
    const timed = async (d: typeof incr) => { const t = Date.now(); const bytes = await d.syncDisks('node2', 'node3', 'rs'); return { ms: Date.now() - t, mib: bytes / (1 << 20) }; };
    await change('f1');
    const f = await timed(full);
    await change('f2');
    const i = await timed(incr);
    return `re-sync of a 100 MiB volume with 1% changed (replication.interval): whole copy ${s(f.ms)} (${f.mib.toFixed(1)} MiB sent), ` +
      `incremental ${s(i.ms)} (${i.mib.toFixed(1)} MiB sent), ratio ${(f.ms / i.ms).toFixed(1)}×`;
  } finally {
    for (const n of ['node2', 'node3']) await incr.removeDisks(n, 'rs').catch(() => {});
    await Promise.all([incr.close(), full.close()]);
  }
}

/**
 * How long an HTTP server's address goes unanswered (a client on the segment fetching every 50 ms), through the
 * driver: moved node2 → node3 (live if CRIU can dump it, else cold as apply/ does it), then node3 killed and the
 * instance started from its replica on node2 (a failover's own steps; the CLI adds the grace and the fence).
 */
async function networkFigures(bed: Bed): Promise<string> {
  const cluster = 'bench-net';
  const d = createDockerDriver({ cluster, nodes: benchNodes(bed, cluster, NODES), helperImage: bed.image, timeoutMs: 20_000, stopTimeoutS: 2 });
  const p = `10.${bed.base % 256}.0`;
  const nic = (ip: string, mac: string): NicBinding => ({ network: 'bench', ip, mac, prefixLength: 24, subnet: `${p}.0/24`, gateway: `${p}.1`, link: `drvl2-${bed.base}`, mode: 'macvlan' });
  const spec: InstanceSpec = {
    name: 'srv', image: bed.image, memory: 32 << 20, vcpus: 0.5, diskTemplate: 'replicated', disks: [{ size: 16 << 20, mount: '/data' }],
    env: {}, command: SERVER, ports: [], nics: [nic(`${p}.10`, '02:d7:be:00:00:10')],
  };
  const measured = async (f: () => Promise<string>): Promise<string> => {
    const poll = await startPoller(bed.engine(1), bed.image, { cluster, nic: nic(`${p}.2`, '02:d7:be:00:00:02') }, `${p}.250`, `${p}.10`);
    await sleep(1000);
    const how = await f();
    await sleep(1500);
    return `${(await poll.stop()).longestGapMs} ms (${how})`;
  };
  try {
    await d.createDisks('node2', 'srv', spec.disks, 'primary', 1);
    await d.createDisks('node3', 'srv', spec.disks, 'replica', 1);
    await d.createInstance('node2', spec, 1);
    await d.startInstance('node2', 'srv');
    const move = await measured(async () => {
      const r = await d.liveMigrate!('node2', 'node3', spec, 2);
      if (r.kind === 'live') return `live, ${r.downtimeMs} ms frozen`;
      await d.stopInstance('node2', 'srv');
      await d.syncDisks('node2', 'node3', 'srv');
      await d.createInstance('node3', spec, 2);
      await d.startInstance('node3', 'srv');
      await d.removeInstance('node2', 'srv');
      return `cold after '${r.cause}'`;
    });
    const failover = await measured(async () => {
      await bed.run('kill', '3');
      await d.promoteDisks('node2', 'srv', 3);
      await d.createInstance('node2', spec, 3);
      await d.startInstance('node2', 'srv');
      return 'kill, then start from the replica';
    });
    await bed.run('restore', '3');
    return `a NIC's address unanswered (HTTP, polled every 50 ms): server moved ${move}; node killed, failover steps ${failover}`;
  } finally {
    for (const n of ['node2', 'node3']) await d.removeInstance(n, 'srv').then(() => d.removeDisks(n, 'srv')).catch(() => {});
    await d.close();
  }
}

export async function benchDocker(): Promise<string[]> {
  const lines: string[] = [];
  const tmp = tempDir('drover-bench-docker-');
  let bed: Bed | undefined;
  try {
    bed = await upBed(3, 62, 'drover-bench');
    const drover = cli(bed, path.join(tmp, 'state'), { FENCE_LOG: path.join(tmp, 'fence.log') });
    const dir = path.join(tmp, 'manifests');
    const names = Array.from({ length: N }, (_, i) => `b${String(i).padStart(2, '0')}`);
    // pinned where their data is for the first apply; unpinned afterwards (Drover keeps its placements), so that a failover may move them
    let pinned = true;
    const manifests = (extra: InstanceDoc[] = []) => writeManifests(dir, {
      cluster: CLUSTER, spec: clusterSpec(bed!, { nodeDownAfter: '3s' }),
      nodes: NODES.map((n) => ({ name: n, endpoint: bed!.endpoint(nodeIndex(n)) })),
      instances: [...names.map((name, i) => ({ name, memory: '32M', disks: [{ size: '64M', mount: '/data' }], command: IDLE, ...(pinned && place(i)) })), ...extra],
    });
    const mark = (what: string) => { if (process.env.BENCH_VERBOSE) console.error(`  [${new Date().toISOString()}] ${what}`); };

    mark('script');
    // 1. the plain script, on its own volumes (same data, same placement)
    const scriptNames = names.map((n) => `plain-${n}`);
    await pool(scriptNames.map((n, i) => [n, i] as const), 3, ([name, i]) => prefill(bed!, place(i).primary, `${name}-d0`, {}));
    const scriptMs = await sequentialScript(bed, scriptNames);
    await removeScriptWork(bed, scriptNames);

    mark('drover');
    // 2. drover apply, from primaries' volumes that hold the data and nothing else
    await pool(names.map((n, i) => [n, i] as const), 3, ([name, i]) => prefill(bed!, place(i).primary, `drover-${name}-d0`, {
      'drover.cluster': CLUSTER, 'drover.instance': name, 'drover.role': 'primary', 'drover.generation': '1', 'drover.disk': '0', 'drover.size': String(64 << 20),
    }));
    manifests();
    const t0 = Date.now();
    const r = await drover(['apply', dir, '--yes', '--json'], { timeoutMs: 600_000 });
    const droverMs = Date.now() - t0;
    if (r.code !== 0) throw new Error(`apply exited ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr}`);
    const summary = events(r.stdout).find((e) => e.type === 'summary');
    const { copies } = await runningCopies(bed, CLUSTER);
    const running = names.filter((n) => copies.get(n)?.length === 1).length;
    for (const i of [0, 14, 29]) {
      const { primary, secondary } = place(i);
      const [x, y] = await Promise.all([md5(bed, primary, `drover-${names[i]}-d0`), md5(bed, secondary, `drover-${names[i]}-d0`)]);
      if (x !== y) throw new Error(`${names[i]}: replica differs from the primary`);
    }
    lines.push(`converge ${N} replicated instances, ${N * MIB_EACH} MiB of data on their primaries, from no containers and no replicas, 3 engines:`);
    lines.push(`  drover apply (CLI, child process):       ${s(droverMs)} (apply's own run ${s(Number(summary?.durationMs ?? NaN))}; ${running}/${N} running, replicas checked by md5)`);
    lines.push(`  plain sequential Docker API script:     ${s(scriptMs)} (create replica volume, archive copy, create + start, one instance after the other)`);
    lines.push(`  ratio drover/script:                    ${(droverMs / scriptMs).toFixed(2)}  (${((N * MIB_EACH) / (droverMs / 1000)).toFixed(0)} MiB/s through drover)`);

    // 3. failover: kill node1, time until every one of its instances runs elsewhere
    pinned = false;
    manifests();
    const still = await drover(['plan', dir, '--detailed-exitcode']);
    if (still.code !== 0) throw new Error(`unpinned, plan wants changes (exit ${still.code})\n${still.stdout}\n${still.stderr}`);
    mark('failover');
    const victims = names.filter((_, i) => place(i).primary === 'node1');
    const k0 = Date.now();
    await bed.run('kill', '1');
    const apply = drover.spawn(['apply', dir, '--yes', '--json']);
    let allElsewhere = NaN;
    for (;;) {
      const { copies: now } = await runningCopies(bed, CLUSTER, 2000);
      if (victims.every((v) => now.get(v)?.length === 1 && now.get(v)![0]!.node !== 'node1')) { allElsewhere = Date.now() - k0; break; }
      if (Date.now() - k0 > 120_000) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const fr = await apply.done;
    const applyMs = Date.now() - k0;
    if (fr.code !== 0) throw new Error(`apply after the kill exited ${fr.code}\n${fr.stdout.slice(-3000)}\n${fr.stderr}`);
    const fev = events(fr.stdout);
    const failovers = fev.filter((e) => e.type === 'operation-finished' && e.op?.type === 'FailoverInstance' && e.result === 'succeeded').length;
    const resynced = fev.filter((e) => e.type === 'operation-finished' && e.op?.type === 'ReplaceSecondary' && e.result === 'succeeded').length;
    const starts = fev.filter((e) => e.type === 'operation-started' && e.op?.type === 'FailoverInstance').map((e) => Date.parse(e.time) - k0);
    lines.push(`failover (nodeDownAfter 3s, fence = testbed kill): node1 killed with ${victims.length} primaries: all running elsewhere after ${s(allElsewhere)}` +
      ` (${failovers} FailoverInstance, started between ${s(Math.min(...starts))} and ${s(Math.max(...starts))} after the kill);` +
      ` apply done after ${s(applyMs)} incl. ${resynced} new secondaries resynced (${resynced * MIB_EACH} MiB)`);

    mark('migration');
    // 4. live migration downtime: node1 back (its stale copies go), then a counter moved back and forth
    await bed.run('restore', '1');
    const mig = (primary: string, secondary: string) => manifests([{ name: 'counter', memory: '32M', disks: [{ size: '16M', mount: '/data' }], command: COUNTER, primary, secondary }]);
    mig('node2', 'node3');
    const c = await drover(['apply', dir, '--yes'], { timeoutMs: 600_000 });
    if (c.code !== 0) throw new Error(`apply (counter) exited ${c.code}\n${c.stdout}\n${c.stderr}`);
    await new Promise((res) => setTimeout(res, 1000));
    const downs: string[] = [];
    let cold = 0;
    for (const [p, q] of [['node3', 'node2'], ['node2', 'node3'], ['node3', 'node2']] as const) {
      mig(p, q);
      const m = await drover(['apply', dir, '--yes', '--json'], { timeoutMs: 600_000 });
      if (m.code !== 0) throw new Error(`apply (migrate) exited ${m.code}\n${m.stdout.slice(-3000)}\n${m.stderr}`);
      const note = events(m.stdout).find((e) => e.type === 'operation-finished' && e.op?.type === 'MigrateInstance')?.note ?? '';
      const d = /live, downtime (\d+) ms/.exec(note);
      if (d) downs.push(d[1]!); else cold++;
      await new Promise((res) => setTimeout(res, 500));
    }
    lines.push(downs.length
      ? `live migration downtime (CRIU, 16 MiB volume, network none): ${downs.map((d) => `${d} ms`).join(', ')}${cold ? ` (${cold} fell back to cold)` : ''}`
      : `live migration: no CRIU on this test bed; ${cold} migrations ran cold (no downtime figure)`);

    mark('resync');
    // 5. periodic re-sync of a 100 MiB volume with 1% changed: whole copy against incremental (driver calls)
    lines.push(await resyncFigures(bed));

    mark('network');
    // 6. a NIC's address through a move and a failover
    lines.push(await networkFigures(bed));
    return lines;
  } finally {
    await bed?.down().catch((e: unknown) => { console.error(`test bed teardown failed: ${(e as Error).message}`); });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await benchDocker()) console.log(line);
}
