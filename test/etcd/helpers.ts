/**
 * A real etcd for the tests (Debian's etcd-server; scripts/ci-setup-etcd installs it): started on
 * free loopback ports with a temporary data dir, stopped by its pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Etcd {
  /** For --store: etcd://127.0.0.1:PORT */
  readonly url: string;
  readonly endpoint: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export function etcdInstalled(): boolean {
  return spawnSync('etcd', ['--version']).status === 0;
}

export async function startEtcd(): Promise<Etcd> {
  if (!etcdInstalled()) throw new Error('etcd is not installed: run scripts/ci-setup-etcd (Debian etcd-server)');
  const [client, peer] = [await freePort(), await freePort()];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drover-etcd-'));
  const endpoint = `http://127.0.0.1:${client}`;
  const child: ChildProcess = spawn('etcd', [
    '--name', 'test', '--data-dir', dir,
    '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `test=http://127.0.0.1:${peer}`, '--log-level', 'error',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { log += d; });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(endpoint, () => log);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `etcd://127.0.0.1:${client}`, endpoint, stop };
}

async function waitReady(endpoint: string, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(`${endpoint}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: 'AA==' }) });
      if (r.ok) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`etcd did not start:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
