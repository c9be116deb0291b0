/**
 * Test support for real engines (no tests here): a test bed from scripts/testbed, either the one `.ci/run`
 * started (DROVER_TESTBED_NODES set: used as is, never torn down) or one started here and torn down by
 * `down()`; and direct engine access for checks (files on a volume, containers, labels).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import type { DesiredNode, TlsFiles } from '../../src/model/desired.ts';
import type { DiskData } from './contract.ts';
import { parseEndpoint } from '../../src/drivers/docker/index.ts';

const SCRIPT = fileURLToPath(new URL('../../scripts/testbed', import.meta.url));

export interface Testbed {
  readonly dir: string;
  readonly base: number;
  readonly owned: boolean;
  readonly image: string;
  readonly criu: boolean;
  /** The shared L2 segment every node can attach containers to (a port-less host bridge: macvlan parent). */
  readonly link: string;
  /** The shared host bridge for Docker bridge networks (mode: bridged); not the macvlan parent. */
  readonly bridge: string;
  /** node name → endpoint */
  readonly endpoints: ReadonlyMap<string, string>;
  readonly pki: string;
  /** DesiredNode entries for a cluster on this test bed (TLS files for TLS nodes). */
  nodes(cluster: string, tls?: Partial<Record<string, TlsFiles>>): DesiredNode[];
  /** scripts/testbed <cmd> <args>, with this test bed's environment. */
  run(cmd: string, ...args: string[]): Promise<string>;
  /** A plain dockerode client on node I's unix socket (works while the node is partitioned). */
  engine(i: number): Docker;
  down(): Promise<void>;
}

function sh(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(SCRIPT, args, { env, timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`scripts/testbed ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return out;
}

/**
 * A test bed with at least `n` nodes. `base` picks the addresses of one started here (127.0.0.(base+I)),
 * so that test files started one after another never collide with a test bed someone left running.
 * `own`: extra scripts/testbed environment (e.g. DROVER_TESTBED_CRIU_MODE); the test bed is then always started here.
 */
export async function startTestbed(n: number, base: number, own?: Readonly<Record<string, string>>): Promise<Testbed> {
  let env: NodeJS.ProcessEnv;
  let owned: boolean;
  if (process.env.DROVER_TESTBED_NODES && process.env.DROVER_TESTBED && !own) {
    env = { ...process.env };
    owned = false;
  } else {
    env = { ...process.env, DROVER_TESTBED: `/tmp/drover-test-${base}-${process.pid}`, DROVER_TESTBED_BASE: String(base), ...own };
    owned = true;
    try {
      await sh(['up', String(n)], env, 180_000);
    } catch (e) {
      await sh(['down'], env).catch(() => {});
      throw e;
    }
  }
  const vars = parseEnv(await sh(['env'], env));
  const endpoints = new Map<string, string>();
  for (const pair of (vars.DROVER_TESTBED_NODES ?? '').split(/\s+/).filter(Boolean)) {
    const [name, ep] = pair.split('=') as [string, string];
    endpoints.set(name, ep);
  }
  if (endpoints.size < n) throw new Error(`the test bed has ${endpoints.size} nodes, the tests need ${n}`);
  const dir = vars.DROVER_TESTBED!;
  const engines = new Map<number, Docker>();
  return {
    dir,
    base: Number(env.DROVER_TESTBED_BASE ?? 10),
    owned,
    image: vars.DROVER_TESTBED_IMAGE ?? 'drover/busybox:1',
    criu: vars.DROVER_TESTBED_CRIU === '1',
    link: vars.DROVER_TESTBED_LINK ?? `drvl2-${env.DROVER_TESTBED_BASE ?? 10}`,
    bridge: vars.DROVER_TESTBED_BRIDGE ?? `drvbr-${env.DROVER_TESTBED_BASE ?? 10}`,
    endpoints,
    pki: `${dir}/pki`,
    nodes(cluster, tls = {}) {
      return [...endpoints].map(([name, endpoint]) => ({
        name, labels: {}, cluster, endpoint, group: 'default', drained: false, offline: false,
        source: { file: 'testbed', line: 1, column: 1 },
        ...(tls[name] ? { tls: tls[name] } : {}),
      }));
    },
    run: (cmd, ...args) => sh([cmd, ...args], env),
    engine(i) {
      let e = engines.get(i);
      if (!e) { e = new Docker({ socketPath: `${dir}/n${i}/docker.sock` }); engines.set(i, e); }
      return e;
    },
    async down() {
      if (owned) await sh(['down'], env, 180_000);
    },
  };
}

/** Run a busybox command in a throw-away container on `docker`, with volumes mounted; returns stdout. */
export async function runIn(docker: Docker, image: string, cmd: string[], mounts: Record<string, string> = {}, env: string[] = []): Promise<string> {
  const c = await docker.createContainer({
    Image: image, Cmd: cmd, Env: env, Labels: { 'drover.test': '1' },
    HostConfig: { NetworkMode: 'none', Mounts: Object.entries(mounts).map(([Source, Target]) => ({ Type: 'volume' as const, Source, Target })) },
  });
  try {
    await c.start();
    const r = (await c.wait()) as { StatusCode: number };
    const logs = (await c.logs({ stdout: true, stderr: true, follow: false })) as Buffer;
    const { demuxLogs } = await import('../../src/drivers/docker/index.ts');
    const out = demuxLogs(logs);
    if (r.StatusCode !== 0) throw new Error(`${cmd.join(' ')} exited ${r.StatusCode}: ${out.stderr}`);
    return out.stdout;
  } finally {
    await c.remove({ force: true }).catch(() => {});
  }
}

/** DiskData hooks for the contract suite: files on `drover-<instance>-d<disk>` through a busybox helper. */
export function dockerDiskData(image: string, engineFor: (node: string) => Docker): DiskData {
  const vol = (instance: string, disk: number): string => `drover-${instance}-d${disk}`;
  return {
    async write(node, instance, disk, files) {
      const env: string[] = [];
      let script = 'set -e; cd /d; ';
      Object.entries(files).forEach(([path, content], i) => {
        env.push(`P${i}=${path}`);
        if (content === null) {
          script += `rm -f "$P${i}"; `;
        } else {
          env.push(`C${i}=${Buffer.from(content).toString('base64')}`);
          script += `mkdir -p "$(dirname "$P${i}")"; printf '%s' "$C${i}" | base64 -d > "$P${i}"; `;
        }
      });
      await runIn(engineFor(node), image, ['sh', '-c', script], { [vol(instance, disk)]: '/d' }, env);
    },
    async read(node, instance, disk) {
      const out = await runIn(engineFor(node), image,
        ['sh', '-c', 'cd /d && find . -type f | sort | while read -r f; do printf "%s\\t" "$f"; base64 < "$f" | tr -d "\\n"; echo; done'],
        { [vol(instance, disk)]: '/d' });
      const files: Record<string, string> = {};
      for (const line of out.split('\n')) {
        if (!line) continue;
        const [p, b64] = line.split('\t') as [string, string];
        files[p.replace(/^\.\//, '')] = Buffer.from(b64 ?? '', 'base64').toString();
      }
      return files;
    },
  };
}

/** A dockerode client for an endpoint, for checks from the tests. */
export function engineAt(endpoint: string): Docker {
  const t = parseEndpoint(endpoint);
  return 'socketPath' in t ? new Docker({ socketPath: t.socketPath }) : new Docker({ host: t.host, port: t.port });
}
