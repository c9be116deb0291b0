/**
 * How long the docker driver's probe of a node takes when the node runs one VM (the probe `drover watch`
 * makes every 3 s): the first probe (connections opened, the engine's version asked) and the next 20, on a
 * 1-node Docker test bed (base 210) with a VM made by `drover apply`. Run under the Docker/QEMU lock:
 *   flock /tmp/drover-docker-suites.lock node --import tsx bench/vm-probe.ts [plain|replicated] [TREE...]
 * (replicated: a 2-node bed, the VM's sync mirror in sync, the probe of its primary). Given other source
 * trees (e.g. an export of main), their drivers probe the same node in turn, 3 rounds: a before/after.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Driver } from '../src/drivers/driver.ts';
import type { DesiredNode } from '../src/model/desired.ts';
import { cli, tempDir, upBed, writeManifests } from '../test/e2e-docker/helpers.ts';
import { testGuest } from '../test/support/guest.ts';

const CLUSTER = 'vmprobe';
const ms = (n: number): string => `${n.toFixed(1)} ms`;
const pct = (xs: readonly number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

type MakeDriver = (opts: { cluster: string; nodes: DesiredNode[] }) => Driver;

async function main(template: 'plain' | 'replicated', trees: readonly string[]): Promise<void> {
  const g = await testGuest();
  if ('skip' in g) { console.log(`skipped: ${g.skip}`); return; }
  const n = template === 'plain' ? 1 : 2;
  const bed = await upBed(n, 210, 'drover-vm-probe');
  const dir = tempDir('drover-vm-probe-');
  try {
    const nodes = Array.from({ length: n }, (_, i) => ({ name: `node${i + 1}`, endpoint: bed.endpoint(i + 1) }));
    const m = writeManifests(path.join(dir, 'm'), {
      cluster: CLUSTER,
      spec: { defaults: { memory: '128M', vcpus: 1, diskTemplate: template }, replication: { interval: '24h' } },
      nodes,
      instances: [{ name: 'vm1', hypervisor: 'kvm', image: g.rootfs, boot: { kernel: g.kernel, initrd: g.initrd, cmdline: g.cmdline }, disks: [{ size: '64M' }], primary: 'node1', ...(n > 1 && { secondary: 'node2' }) }],
    });
    const r = await cli(bed, path.join(dir, 'state'))(['apply', m, '--yes'], { timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`apply failed: ${r.stdout.slice(-1500)}${r.stderr.slice(-1500)}`);
    const desired: DesiredNode[] = nodes.map((x) => ({ ...x, labels: {}, cluster: CLUSTER, group: 'default', drained: false, offline: false, source: { file: 'bench', line: 1, column: 1 } }));
    const makers = await Promise.all(trees.map(async (t) => (await import(path.join(t, 'src/drivers/docker/index.ts')) as { createDockerDriver: MakeDriver }).createDockerDriver));
    for (let round = 1; round <= (trees.length > 1 ? 3 : 1); round++) {
      for (const [i, make] of makers.entries()) console.log(`${trees[i]} (round ${round}): ${await timeProbes(make({ cluster: CLUSTER, nodes: desired }), template)}`);
    }
  } finally {
    await bed.down();
  }
}

/** A first probe, then 40 more, with a new driver (closed after). */
async function timeProbes(driver: Driver, template: string): Promise<string> {
  try {
    const timed = async (): Promise<number> => { const t0 = performance.now(); await driver.probe('node1'); return performance.now() - t0; };
    const first = await timed();
    const next: number[] = [];
    for (let i = 0; i < 40; i++) next.push(await timed());
    const seen = (await driver.probe('node1')).containers.find((c) => c.instance === 'vm1');
    return `probe of a node with 1 running ${template} VM (replication seen: ${JSON.stringify(seen?.replication)}): first ${ms(first)}; ` +
      `next 40: median ${ms(pct(next, 0.5))}, p90 ${ms(pct(next, 0.9))}, min ${ms(Math.min(...next))}`;
  } finally {
    await driver.close();
  }
}

const here = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const trees = process.argv.slice(3).map((t) => path.resolve(t));
await main(process.argv[2] === 'replicated' ? 'replicated' : 'plain', trees.length ? trees : [here]);
