import { parseArgs } from 'node:util';
import { capabilitiesOf } from '../../drivers/backends.ts';
import { parseDuration } from '../../model/quantity.ts';
import { onPrimary } from '../instance.ts';
import { EXIT, STORE_OPTIONS, UsageError, type Io } from '../io.ts';

export const usage = `drover logs INSTANCE [PATH...] [-f] [--since D]
  The instance's output on its current primary, wherever it runs now (docker: the container's
  stdout and stderr; sim: its journal of what happened to the instance). -f follows until Ctrl-C;
  --since 10m shows only the last ten minutes. Exit 1, saying why, when the instance is unknown,
  not placed, has no container, or its node is unreachable.`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    follow: { type: 'boolean', short: 'f' }, since: { type: 'string' }, ...STORE_OPTIONS,
  } });
  const [name, ...paths] = positionals;
  if (!name) throw new UsageError('which instance? drover logs INSTANCE');
  const sinceMs = values.since === undefined ? undefined : parseDuration(values.since);
  if (values.since !== undefined && sinceMs === undefined) throw new UsageError(`--since: "${values.since}" is not a duration (30s, 10m, 1h)`);
  return onPrimary('logs', name, paths, values, io, async ({ driver, node, instance }) => {
    if (!driver.instanceLogs || !capabilitiesOf(driver.backend).logs) { io.err(`drover logs: the ${driver.backend} backend keeps no logs`); return EXIT.error; }
    const stop = new AbortController();
    const onInt = () => stop.abort();
    process.once('SIGINT', onInt).once('SIGTERM', onInt);
    try {
      await driver.instanceLogs(node, instance, { follow: !!values.follow, signal: stop.signal, ...(sinceMs !== undefined && { since: Date.now() - sinceMs }) },
        (chunk, stream) => { (stream === 'stderr' ? process.stderr : process.stdout).write(chunk); });
    } finally {
      process.off('SIGINT', onInt).off('SIGTERM', onInt);
    }
    return EXIT.ok;
  });
}
