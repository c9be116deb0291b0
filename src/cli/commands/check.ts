import { parseArgs } from 'node:util';
import { parseDuration } from '../../model/quantity.ts';
import { CHECK, decideCheck, DEFAULT_THRESHOLDS, unknownCheck, type CheckResult, type CheckThresholds } from '../../monitor/check.ts';
import { monitorStatus } from '../../monitor/snapshot.ts';
import { withLook } from '../context.ts';
import { STORE_OPTIONS, type Io } from '../io.ts';

export const usage = `drover check [PATH...] [--warn-rpo D] [--crit-rpo D] [--timeout D]
  A Nagios/Icinga plugin: one line "DROVER OK - … | perfdata" and the plugin exit code.
  CRITICAL (2): a node is down (not declared offline), or a recovery point is older than
  --crit-rpo (default 1h). WARNING (1): a recovery point older than --warn-rpo (default 15m), a
  degraded replica, a node failing N+1, an instance not in its declared state. OK (0) otherwise. UNKNOWN (3): the check could not look
  (bad manifests or flags, store unreadable, no answer within --timeout, default 50s).
  Durations: 30s, 10m, 1h. Read-only: it changes nothing and takes no lease.`;

export async function run(argv: string[], io: Io): Promise<number> {
  let r: CheckResult;
  try {
    r = await check(argv, io);
  } catch (e) {
    r = unknownCheck((e as Error).message ?? String(e));
  }
  io.out(r.line);
  return r.code;
}

async function check(argv: string[], io: Io): Promise<CheckResult> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    'warn-rpo': { type: 'string' }, 'crit-rpo': { type: 'string' }, timeout: { type: 'string' }, ...STORE_OPTIONS,
  } });
  const t: CheckThresholds = {
    warnRpoMs: duration('--warn-rpo', values['warn-rpo']) ?? DEFAULT_THRESHOLDS.warnRpoMs,
    critRpoMs: duration('--crit-rpo', values['crit-rpo']) ?? DEFAULT_THRESHOLDS.critRpoMs,
  };
  if (t.warnRpoMs > t.critRpoMs) throw new Error('--warn-rpo is longer than --crit-rpo');
  const timeoutMs = duration('--timeout', values.timeout) ?? 50_000;
  const look = withLook(positionals, values, io, async (l) => decideCheck(monitorStatus({ ...l, now: Date.now() }), t, Date.now()));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), timeoutMs); });
  const r = await Promise.race([look, late]).finally(() => clearTimeout(timer));
  if (r === 'late') {
    // A hung engine keeps its socket open: leave once the line is printed.
    setTimeout(() => process.exit(CHECK.unknown), 200).unref();
    return unknownCheck(`no answer within ${values.timeout ?? '50s'}`);
  }
  return r ?? unknownCheck('the manifests have errors (see above)');
}

function duration(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`${flag}: "${text}" is not a duration (30s, 10m, 1h)`);
  return ms;
}
