/**
 * A node's facts that only a helper container can measure: the size of its data root (`df`) and the links
 * of the host's network namespace (`ls /sys/class/net`, where dockerd's macvlan and bridge networks find
 * their parents). One helper measures both.
 *
 * They are kept on the node itself, in the labels of an empty volume, so a new process (every `drover plan`
 * in CI, a `status` beside it) reads them with the volume listing the probe makes anyway instead of starting
 * a container: on a busy node of two cores, two helpers per probe took longer than a probe may wait, and the
 * node counted as one that could not be asked. They are measured again once older than FRESH_MS, and at
 * once when a create fails for a missing link (networks.ts). A measurement that outlasts MEASURE_BUDGET_MS
 * leaves the last facts standing however old they are: stale facts are safe (a link they lack refuses a
 * placement until the next measurement; one they still show fails its create, which measures again).
 */
import { randomBytes } from 'node:crypto';
import { DriverError } from '../driver.ts';
import { runHelper } from './helpers.ts';
import type { Conn, Engine } from './engine.ts';
import { LABEL } from './names.ts';

export interface NodeFacts {
  /** when they were measured (ms since the epoch, the measuring master's clock) */
  readonly at: number;
  /** bytes of the data root's filesystem; undefined: no helper could run to measure it */
  readonly diskBytes?: number;
  /** the host's links, sorted; undefined: could not be listed */
  readonly links?: readonly string[];
}

/** Facts younger than this are used as they are. */
export const FRESH_MS = 2 * 60_000;
/** How long a probe waits for a new measurement when it has older facts to fall back on. */
export const MEASURE_BUDGET_MS = 3_000;
/** A facts helper left behind by a killed process is removed after this. */
const LEFTOVER_MS = 5 * 60_000;

const FACTS = 'drover.facts';
const AT = 'drover.facts.at';
const DISK = 'drover.facts.disk';
const LINKS = 'drover.facts.links';
const HELPER_PREFIX = 'facts-';
const SEPARATOR = '--links--';

interface ListedVolume { readonly Name: string; readonly Labels?: Readonly<Record<string, string>> | null }
interface ListedHelper { readonly Id?: string; readonly State: string; readonly Created?: number; readonly Labels?: Readonly<Record<string, string>> | null }

/** The newest facts among a node's volumes of this cluster, and the names of the older facts volumes. */
export function factsOf(cluster: string, volumes: readonly ListedVolume[]): { newest?: NodeFacts & { volume: string }; older: string[] } {
  const all = volumes.flatMap((v) => {
    const l = v.Labels ?? {};
    if (l[FACTS] !== cluster) return [];
    const at = Number(l[AT]);
    if (!Number.isFinite(at)) return [];
    const disk = l[DISK] === undefined ? undefined : Number(l[DISK]);
    return [{
      volume: v.Name, at,
      ...(disk !== undefined && Number.isFinite(disk) && disk > 0 && { diskBytes: disk }),
      ...(l[LINKS] !== undefined && { links: l[LINKS] === '' ? [] : l[LINKS].split(',') }),
    }];
  }).sort((a, b) => b.at - a.at);
  return { ...(all[0] && { newest: all[0] }), older: all.slice(1).map((f) => f.volume) };
}

/** Parse the facts helper's output: `df -k /`, the separator, `ls /sys/class/net`. */
export function parseFacts(stdout: string, at: number): NodeFacts {
  const [dfPart = '', linksPart] = stdout.split(SEPARATOR);
  const [size] = (dfPart.trim().split('\n').pop() ?? '').trim().split(/\s+/).slice(1).map(Number);
  const links = linksPart === undefined ? undefined : linksPart.split(/\s+/).filter(Boolean).sort();
  return { at, ...(size !== undefined && size > 0 && { diskBytes: size * 1024 }), ...(links && { links }) };
}

/**
 * The node's facts for a probe: this process's own when fresh, else the node's volume when fresh, else a
 * new measurement (bounded by MEASURE_BUDGET_MS when older facts exist to fall back on).
 */
export async function nodeFacts(e: Engine, c: Conn, volumes: readonly ListedVolume[], containers: readonly ListedHelper[]): Promise<NodeFacts> {
  const now = Date.now();
  const mine = e.factsCache.get(c.name);
  if (mine && now - mine.at < FRESH_MS) return mine;
  const { newest, older } = factsOf(e.cluster, volumes);
  const known = [mine, newest].filter((f): f is NodeFacts => f !== undefined).sort((a, b) => b.at - a.at)[0];
  if (known && now - known.at < FRESH_MS) {
    e.factsCache.set(c.name, known);
    return known;
  }
  const measuring = refresh(e, c, older.concat(newest ? [newest.volume] : []), containers);
  if (!known) return measuring;
  measuring.catch(() => { /* the stale facts stand; the next probe measures again */ });
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<NodeFacts>((resolve) => { timer = setTimeout(() => resolve(known), MEASURE_BUDGET_MS); });
  try {
    return await Promise.race([measuring.catch(() => known), budget]);
  } finally {
    clearTimeout(timer);
  }
}

/** Measure again now (a create failed for a missing link): kept in this process and on the node. */
export function remeasure(e: Engine, c: Conn): Promise<NodeFacts> {
  return refresh(e, c, [], []);
}

/** One measurement at a time per node in this process; the result replaces the node's facts volume. */
function refresh(e: Engine, c: Conn, replaced: readonly string[], containers: readonly ListedHelper[]): Promise<NodeFacts> {
  const have = e.factsInFlight.get(c.name);
  if (have) return have;
  const p = (async () => {
    await removeLeftovers(e, c, containers);
    const facts = await measure(e, c);
    e.factsCache.set(c.name, facts);
    await keep(e, c, facts, replaced);
    return facts;
  })().finally(() => e.factsInFlight.delete(c.name));
  e.factsInFlight.set(c.name, p);
  return p;
}

async function measure(e: Engine, c: Conn): Promise<NodeFacts> {
  const at = Date.now();
  // a name of its own: two processes probing at once must not remove each other's helper by name
  const what = `${HELPER_PREFIX}${randomBytes(4).toString('hex')}`;
  try {
    const r = await runHelper(e, c, `probe-${e.cluster}`, what, ['sh', '-c', `df -k /; echo ${SEPARATOR}; ls /sys/class/net`], [], 30_000, { network: 'host' });
    const facts = parseFacts(r.stdout, at);
    if (r.exitCode !== 0 && facts.links === undefined) throw new DriverError(`node ${c.name}: measuring its disk and links failed: ${r.stderr.trim()}`, true, c.name);
    return facts;
  } catch (err) {
    if (err instanceof DriverError && err.transient) throw err;
    return { at }; // no helper image anywhere: unknown (set capacity.disk in the Node manifest; a missing link shows at create)
  }
}

/** Write the facts on the node (best effort: this process keeps them either way) and drop the older ones. */
async function keep(e: Engine, c: Conn, f: NodeFacts, replaced: readonly string[]): Promise<void> {
  const Labels: Record<string, string> = {
    [LABEL.cluster]: e.cluster, [FACTS]: e.cluster, [AT]: String(f.at),
    ...(f.diskBytes !== undefined && { [DISK]: String(f.diskBytes) }),
    ...(f.links !== undefined && { [LINKS]: f.links.join(',') }),
  };
  const Name = `drover-facts-${e.cluster}-${f.at.toString(36)}`;
  try {
    await e.call(c, 'keep node facts', (signal) => c.docker.createVolume({ Name, Labels, abortSignal: signal } as Parameters<typeof c.docker.createVolume>[0]));
  } catch { return; }
  await Promise.all(replaced.filter((v) => v !== Name).map((v) =>
    e.maybe(c, `remove old node facts ${v}`, (signal) => c.docker.getVolume(v).remove({ abortSignal: signal })).catch(() => undefined)));
}

/** Facts helpers that a killed process left (exited, or running long past any measurement). */
async function removeLeftovers(e: Engine, c: Conn, containers: readonly ListedHelper[]): Promise<void> {
  const cutoff = (Date.now() - LEFTOVER_MS) / 1000;
  const left = containers.filter((x) => x.Id && (x.Labels?.[LABEL.helper] ?? '').startsWith(HELPER_PREFIX) && (x.Created ?? Infinity) < cutoff);
  await Promise.all(left.map((x) =>
    e.maybe(c, `remove leftover helper ${x.Id!.slice(0, 12)}`, (signal) => c.docker.getContainer(x.Id!).remove({ force: true, abortSignal: signal })).catch(() => undefined)));
}
