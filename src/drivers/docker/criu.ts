/**
 * Whether a node can checkpoint: its engine is experimental and a real checkpoint of a tiny process
 * finishes within a few seconds (criu check is not enough: testbed.md §4.1b has a CRIU that passes it and
 * then hangs every dump). The result is cached per node while a sentinel container started with the probe
 * still runs: an engine restart stops it (restart policy 'no'), and the next use probes again.
 */
import type Docker from 'dockerode';
import { DriverError } from '../driver.ts';
import { loose } from './api.ts';
import { EngineTimeout, type Conn, type CriuProbe, type Engine } from './engine.ts';
import { createHelper, removeHelper, runHelper } from './helpers.ts';

/** The probe's checkpoint of an idle `sleep` takes ~0.3 s here; past this it counts as hanging. */
const PROBE_MS = 5_000;
const SLEEP_LOOP = ['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 3600; done"];

const probeInstance = (e: Engine): string => `probe-${e.cluster}`;

/** The cached answer for `node` if the listing (its containers of this cluster) shows the sentinel running. */
export function knownCheckpoint(e: Engine, node: string, containers: readonly { Id: string; State: string }[]): boolean | undefined {
  const have = e.criuCache.get(node);
  if (!have?.sentinel) return have?.known;
  if (containers.some((x) => x.Id === have.sentinel && x.State === 'running')) return have.known;
  e.criuCache.delete(node); // the engine restarted since the probe
  return undefined;
}

export async function supportsCheckpoint(e: Engine, c: Conn): Promise<boolean> {
  const have = e.criuCache.get(c.name);
  if (have && (await stillValid(e, c, have))) return have.result;
  const entry: CriuProbe = { result: probeCheckpoint(e, c, (id) => { entry.sentinel = id; }) };
  entry.result.then((ok) => { entry.known = ok; }, () => e.criuCache.delete(c.name)); // unreachable: ask again next time
  e.criuCache.set(c.name, entry);
  return entry.result;
}

async function stillValid(e: Engine, c: Conn, p: CriuProbe): Promise<boolean> {
  if (!p.sentinel) return true; // still probing
  const s = await e.maybe(c, 'inspect CRIU probe sentinel', (signal) => c.docker.getContainer(p.sentinel!).inspect({ abortSignal: signal }));
  if (s?.State.Running) return true;
  e.criuCache.delete(c.name);
  return false;
}

async function probeCheckpoint(e: Engine, c: Conn, sentinel: (id: string) => void): Promise<boolean> {
  const info = await e.info<{ ExperimentalBuild?: boolean; DockerRootDir?: string }>(c);
  const alive = await createHelper(e, c, probeInstance(e), 'alive', { cmd: SLEEP_LOOP });
  await e.call(c, 'start CRIU probe sentinel', (signal) => alive.start({ abortSignal: signal }), e.startTimeout);
  sentinel(alive.id);
  if (!info.ExperimentalBuild) return false;
  let h: Docker.Container | undefined;
  let dumping = false;
  try {
    h = await createHelper(e, c, probeInstance(e), 'criu', { cmd: SLEEP_LOOP });
    const hc = h;
    await e.call(c, 'start CRIU probe', (signal) => hc.start({ abortSignal: signal }), e.startTimeout);
    dumping = true;
    await e.call(c, 'checkpoint CRIU probe', (signal) => loose<unknown>(hc, 'createCheckpoint', {
      CheckpointID: 'probe', CheckpointDir: `${info.DockerRootDir}/drover-checkpoints/probe-${hc.id}`, Exit: true, abortSignal: signal,
    }), PROBE_MS);
    return true;
  } catch (err) {
    // the engine refused (an error status) or the dump hung: no CRIU here; unreachable: ask again next time
    if (dumping && err instanceof EngineTimeout) { await abortCheckpoint(e, c, h!.id); return false; }
    if (err instanceof DriverError && err.status !== undefined) return false;
    throw err;
  } finally {
    await removeHelper(e, c, h);
  }
}

/**
 * Undo a checkpoint that did not finish in time. The engine keeps the container locked (even `inspect`
 * waits) until runc's checkpoint returns, and aborting the API call does not stop it; so a helper in the
 * host's PID namespace kills what that `runc ... checkpoint ... <id>` waits for (criu). runc then fails
 * the checkpoint and thaws the container it had frozen. Container IDs are unique, so nothing else is
 * touched. Best effort: the caller checks that the container runs afterwards.
 */
export async function abortCheckpoint(e: Engine, c: Conn, containerId: string): Promise<void> {
  const script = [
    'for p in /proc/[0-9]*; do',
    `  case "$(tr '\\0' ' ' 2>/dev/null < $p/cmdline)" in runc\\ *checkpoint*"$1"*|*/runc\\ *checkpoint*"$1"*) r=\${p#/proc/}`,
    `    for q in /proc/[0-9]*; do [ "$(awk '/^PPid:/{print $2}' $q/status 2>/dev/null)" = "$r" ] && kill -9 \${q#/proc/}; done ;;`,
    '  esac',
    'done 2>/dev/null',
    'exit 0',
  ].join('\n');
  try {
    await runHelper(e, c, probeInstance(e), 'rescue', ['sh', '-c', script, 'rescue', containerId], [], 30_000, { host: true });
  } catch { /* the caller checks the result */ }
}
