/**
 * After the rounds: kill the node with the most running replicated primaries and time until all of them
 * run elsewhere (apply started at the kill, as a watch would be), with failover.nodeDownAfter = the grace.
 */
import type { Inst } from './cluster.ts';
import { NODES } from './cluster.ts';
import { check, doubleRun, failoverMs, type DataSeen, type Poll } from './invariants.ts';
import { gather, save, status, type SoakContext } from './round.ts';

export interface FailoverMeasure { readonly ms: number; readonly instances: number; readonly graceS: number }

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function measureFailover(base: SoakContext, insts: readonly Inst[], floors: ReadonlyMap<string, DataSeen>, graceS: number): Promise<{ measure?: FailoverMeasure; violations: string[] }> {
  const failover = { ...(base.backend.clusterSpec.failover as Record<string, unknown>), nodeDownAfter: `${graceS}s` };
  const c: SoakContext = { ...base, backend: { ...base.backend, clusterSpec: { ...base.backend.clusterSpec, failover } } };
  const unpinned = insts.map(({ primary: _, ...i }) => i);
  save(c, unpinned);
  const bad: string[] = [];
  const done = (ms?: number, instances = 0) => ({ ...(ms !== undefined && { measure: { ms, instances, graceS } }), violations: bad.map((b) => `failover measure: ${b}`) });
  let r = await c.masters.start().done;
  if (r.code !== 0) { bad.push(`apply before exited ${r.code}`); return done(); }
  const st = await status(c);
  const moving = (n: string) => st.instances.filter((i) => i.primary === n && i.secondary && unpinned.some((x) => x.name === i.name && x.state === 'running')).map((i) => i.name);
  const victim = [...NODES].sort((a, b) => moving(b).length - moving(a).length)[0]!;
  const names = moving(victim);
  await c.backend.killNode(victim);
  const t = Date.now();
  const apply = c.masters.start();
  const polls: Poll[] = [];
  let ms: number | undefined;
  while (ms === undefined && Date.now() - t < 120_000) {
    const running = await c.backend.running().catch(() => undefined);
    if (running) polls.push({ at: Date.now(), running });
    ms = names.length ? failoverMs(polls, t, victim, names) : Date.now() - t;
    await sleep(100);
  }
  bad.push(...doubleRun({ polls, roundStart: t }).map((x) => x.message));
  r = await apply.done;
  if (r.code !== 0) bad.push(`failover apply exited ${r.code}`);
  if (ms === undefined) bad.push(`${names.join(', ')} not running elsewhere within 120 s`);
  await c.backend.restoreNode(victim);
  r = await c.masters.start().done;
  if (r.code !== 0) bad.push(`apply after the restore exited ${r.code}`);
  else bad.push(...check(await gather(c, unpinned, floors, [], { kills: [], polls: [], roundStart: Date.now() })).map((x) => x.message));
  return done(ms, names.length);
}
