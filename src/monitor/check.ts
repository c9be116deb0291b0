/**
 * `drover check`: the Nagios plugin's decision, a pure function of the status snapshot. Nodes down
 * (not declared offline) are CRITICAL; a recovery point older than --crit-rpo is CRITICAL, older
 * than --warn-rpo WARNING; a degraded replica, a node failing N+1 or an instance on a reachable node
 * that does not run as its manifest says (not yet placed, missing, stopped) is WARNING. Thresholds are
 * "alert when above" (Nagios' `N` range), so a value equal to a threshold is still OK.
 */
import { formatDuration } from '../model/quantity.ts';
import type { MonitorStatus } from './snapshot.ts';

export type CheckCode = 0 | 1 | 2 | 3;
export const CHECK = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;
const WORD = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;

export interface CheckThresholds {
  readonly warnRpoMs: number;
  readonly critRpoMs: number;
}

export const DEFAULT_THRESHOLDS: CheckThresholds = { warnRpoMs: 15 * 60_000, critRpoMs: 60 * 60_000 };

export interface CheckResult {
  readonly code: CheckCode;
  /** The one line Nagios reads: `DROVER OK - … | perfdata`. */
  readonly line: string;
}

interface Problem { readonly code: CheckCode; readonly text: string }

export function decideCheck(s: MonitorStatus, t: CheckThresholds, now: number): CheckResult {
  const down = s.nodes.filter((n) => n.health !== 'up' && !n.flags.includes('offline'));
  const degraded = s.instances.filter((i) => i.degraded);
  const failingN1 = s.n1?.failingNodes ?? [];
  // node-down instances are counted with their node; absent ones are meant to be gone
  const astray = s.instances.filter((i) => i.state !== i.desiredState && i.state !== 'node-down' && i.desiredState !== 'absent');
  const ages = s.instances.flatMap((i) => (i.recoveryPoint !== undefined ? [{ name: i.name, ms: Math.max(0, now - i.recoveryPoint) }] : []));
  const oldest = ages.reduce<{ name: string; ms: number } | undefined>((a, b) => (!a || b.ms > a.ms ? b : a), undefined);
  const problems: Problem[] = [
    ...(down.length ? [{ code: CHECK.critical, text: `${down.length} of ${s.nodes.length} nodes down (${names(down.map((n) => n.name))})` }] : []),
    ...(oldest && oldest.ms > t.warnRpoMs ? [{ code: oldest.ms > t.critRpoMs ? CHECK.critical : CHECK.warning, text: `recovery point ${formatDuration(oldest.ms)} old (${oldest.name})` }] : []),
    ...(degraded.length ? [{ code: CHECK.warning, text: `${degraded.length} degraded replica${degraded.length === 1 ? '' : 's'} (${names(degraded.map((i) => i.name))})` }] : []),
    ...(failingN1.length ? [{ code: CHECK.warning, text: `N+1 fails on ${names(failingN1)}` }] : []),
    ...(astray.length ? [{ code: CHECK.warning, text: `${astray.length} instance${astray.length === 1 ? ' is' : 's are'} not as declared (${names(astray.map((i) => `${i.name} ${i.state}`))})` }] : []),
  ];
  const code = problems.reduce<CheckCode>((c, p) => (p.code > c ? p.code : c), CHECK.ok);
  const text = problems.length ? problems.sort((a, b) => b.code - a.code).map((p) => p.text).join('; ')
    : `${s.nodes.length} nodes up, ${s.instances.length} instances, replicas in sync${s.n1 ? ', N+1 holds' : ''}`;
  return { code, line: `DROVER ${WORD[code]} - ${text} | ${perfdata(s, { down: down.length, degraded: degraded.length, n1: failingN1.length, oldestMs: oldest?.ms }, t)}` };
}

/** The one line for a check that could not look (bad flags, store unreadable, a timeout). */
export function unknownCheck(why: string): CheckResult {
  return { code: CHECK.unknown, line: `DROVER UNKNOWN - ${why.split('\n')[0]!.replace(/\|/g, '/')}` };
}

/** At most three names, then how many more: the line must stay one short line. */
function names(list: readonly string[]): string {
  return list.length <= 3 ? list.join(', ') : `${list.slice(0, 3).join(', ')} and ${list.length - 3} more`;
}

/** Nagios perfdata: 'label'=value[UOM];warn;crit;min;max, thresholds as "above N" ranges. */
function perfdata(s: MonitorStatus, v: { down: number; degraded: number; n1: number; oldestMs: number | undefined }, t: CheckThresholds): string {
  const nodes = s.nodes.length;
  const replicated = s.instances.filter((i) => i.diskTemplate === 'replicated').length;
  const items = [
    `'nodes_down'=${v.down};;0;0;${nodes}`,
    `'degraded_replicas'=${v.degraded};0;;0;${replicated}`,
    `'n1_failing_nodes'=${v.n1};0;;0;${nodes}`,
    `'instances'=${s.instances.length};;;0;`,
    ...(v.oldestMs !== undefined ? [`'recovery_point_age'=${Math.round(v.oldestMs / 1000)}s;${Math.round(t.warnRpoMs / 1000)};${Math.round(t.critRpoMs / 1000)};0;`] : []),
  ];
  return items.join(' ');
}
