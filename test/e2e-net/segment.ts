/**
 * Test support for the L2 segment (no tests here): busybox clients attached straight to a node's Drover
 * network (never through Drover), a one-shot fetch, an ARP look at who answers an address, and a poller
 * that fetches an address every 50 ms and measures how long it went unanswered.
 */
import type Docker from 'dockerode';
import { demuxLogs } from '../../src/drivers/docker/index.ts';
import { networkBody, networkName } from '../../src/drivers/docker/networks.ts';
import type { NicBinding } from '../../src/model/nics.ts';

/** A server command: serves /data/www/f (written once) over HTTP on port 80; stops at once on SIGTERM. */
export const SERVER = ['sh', '-c',
  "trap 'exit 0' TERM; mkdir -p /data/www; [ -f /data/www/f ] || echo \"served by $(hostname)\" > /data/www/f; httpd -f -p 80 -h /data/www & wait"];

/** Where a client attaches: the cluster and the binding whose network it joins (made on its node as Drover would make it). */
export interface Segment { readonly cluster: string; readonly nic: NicBinding }

async function attach(docker: Docker, seg: Segment, ip: string): Promise<Pick<Docker.ContainerCreateOptions, 'HostConfig' | 'NetworkingConfig'>> {
  const name = networkName(seg.cluster, seg.nic.network);
  const have = await docker.getNetwork(name).inspect().catch(() => undefined);
  if (!have) await docker.createNetwork(networkBody(seg.cluster, seg.nic) as unknown as Docker.NetworkCreateOptions).catch(() => {});
  return { HostConfig: { NetworkMode: name }, NetworkingConfig: { EndpointsConfig: { [name]: { IPAMConfig: { IPv4Address: ip } } } } };
}

async function logsOf(c: Docker.Container): Promise<string> {
  const raw = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  return demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))).stdout;
}

/** Run `script` in a throw-away busybox container on `network` (Drover's Docker network on that engine) at `ip`; its stdout. */
export async function runOnSegment(docker: Docker, image: string, seg: Segment, ip: string, script: string, timeoutMs = 60_000): Promise<string> {
  const c = await docker.createContainer({ Image: image, Cmd: ['sh', '-c', script], Labels: { 'drover.test': '1' }, ...await attach(docker, seg, ip) });
  try {
    await c.start();
    const timer = setTimeout(() => { c.kill().catch(() => {}); }, timeoutMs);
    try { await c.wait(); } finally { clearTimeout(timer); }
    return await logsOf(c);
  } finally {
    await c.remove({ force: true }).catch(() => {});
  }
}

/** The file at http://ip/f as a client on the segment fetches it (empty when nothing answers within 3 s; busybox 1.35's `wget -T` crashes). */
export const fetchFrom = (docker: Docker, image: string, seg: Segment, clientIp: string, ip: string): Promise<string> =>
  runOnSegment(docker, image, seg, clientIp, `timeout 3 wget -q -O- http://${ip}/f 2>/dev/null; true`);

/** The MACs that answer an ARP request for `ip` on the segment (two answers would be two copies). */
export async function whoHas(docker: Docker, image: string, seg: Segment, clientIp: string, ip: string): Promise<string[]> {
  const out = await runOnSegment(docker, image, seg, clientIp, `arping -c 2 -w 3 -I eth0 ${ip} 2>&1; true`);
  return [...new Set([...out.matchAll(/\[([0-9a-fA-F:]{17})\]/g)].map((m) => m[1]!.toLowerCase()))];
}

export interface Poller {
  /** Stop polling (bounded anyway) and read the results. */
  stop(): Promise<PollResult>;
}

export interface PollResult {
  readonly attempts: number;
  readonly ok: number;
  /** The longest time between two successful fetches that had failures between them (ms, 10 ms resolution); 0 if none failed. */
  readonly longestGapMs: number;
}

/**
 * A client on the segment that starts a fetch of http://ip/f (or, with `icmp`, a ping: the address answers
 * while its network namespace lives, whatever runs in it) every 50 ms (each in the background, 1 s timeout,
 * at most `count` of them) and logs each one's start time (/proc/uptime) and outcome.
 */
export async function startPoller(docker: Docker, image: string, seg: Segment, clientIp: string, ip: string, count = 2400, icmp = false): Promise<Poller> {
  const probe = icmp ? `ping -c 1 -W 1 ${ip} >/dev/null 2>&1` : `timeout 1 wget -q -O /dev/null http://${ip}/f 2>/dev/null`;
  const script = `i=0; while [ $i -lt ${count} ] && [ ! -f /tmp/stop ]; do ` +
    `(read t _ < /proc/uptime; if ${probe}; then echo "$t ok"; else echo "$t fail"; fi) & ` +
    'usleep 50000; i=$((i+1)); done; wait';
  const c = await docker.createContainer({ Image: image, Cmd: ['sh', '-c', script], Labels: { 'drover.test': '1' }, ...await attach(docker, seg, clientIp) });
  await c.start();
  return {
    async stop() {
      const ex = await c.exec({ Cmd: ['touch', '/tmp/stop'] });
      await ex.start({ Detach: true }).catch(() => {});
      await c.wait();
      const out = await logsOf(c);
      await c.remove({ force: true }).catch(() => {});
      return summarize(out);
    },
  };
}

/** "12.34 ok" lines → attempts, successes and the longest outage between two successes. */
export function summarize(out: string): PollResult {
  const rows = out.split('\n').map((l) => /^(\d+\.\d+) (ok|fail)$/.exec(l.trim())).filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ t: Math.round(Number(m[1]) * 1000), ok: m[2] === 'ok' })).sort((a, b) => a.t - b.t);
  let longestGapMs = 0;
  let lastOk: number | undefined;
  let failedSince = false;
  for (const r of rows) {
    if (!r.ok) { failedSince = lastOk !== undefined; continue; }
    if (lastOk !== undefined && failedSince) longestGapMs = Math.max(longestGapMs, r.t - lastOk);
    lastOk = r.t;
    failedSince = false;
  }
  return { attempts: rows.length, ok: rows.filter((r) => r.ok).length, longestGapMs };
}
