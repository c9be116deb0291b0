import { parseArgs } from 'node:util';
import type { Driver } from '../../drivers/driver.ts';
import type { Desired } from '../../model/desired.ts';
import type { Observed } from '../../model/observed.ts';
import { verify, type ImagesByNode } from '../../plan/verify.ts';
import { pools } from '../../plan/verify-nics.ts';
import { withLook } from '../context.ts';
import { EXIT, type Io } from '../io.ts';
import { table } from '../render/table.ts';
import { poolTable } from '../render/networks.ts';

export const usage = `drover verify [PATH...] [--json]
  The checks of gnt-cluster verify that apply here: N+1 memory (Ganeti's rule), policy limits,
  exclusion-tag (antiAffinity) conflicts, primary and secondary in different groups, nodes
  unreachable, instances down that should run or running where they should not (wrong node, two
  copies), degraded or missing replicas, orphan containers and volumes; with networks, one address or
  MAC on several instances (EDUPADDRESS, EDUPMAC), NICs other than the assigned ones (ENICMISMATCH), pools
  90% used or more (ENETPOOL), and each network's pool usage.
  Exit 0 when there is no error (warnings allowed), 1 otherwise.`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, 'state-dir': { type: 'string' }, store: { type: 'string' } } });
  const code = await withLook(positionals, values, io, async ({ desired, store, observed, driver }) => {
    const input = { desired, observed, store, now: Date.now() };
    const findings = verify(input, await imagesByNode(driver, desired, observed));
    const errors = findings.filter((f) => f.severity === 'error').length;
    const networks = desired.networks?.size ? pools(input) : undefined;
    if (values.json) io.out(JSON.stringify({ findings, errors, warnings: findings.length - errors, ...(networks && { networks }) }));
    else {
      if (!findings.length) io.out('Cluster verified: no findings.');
      else {
        io.out(table(['Severity', 'Code', 'Node', 'Instance', 'Message'], findings.map((f) => [f.severity.toUpperCase(), f.code, f.node ?? '-', f.instance ?? '-', f.message])));
        io.out(`\n${errors} error${errors === 1 ? '' : 's'}, ${findings.length - errors} warning${findings.length - errors === 1 ? '' : 's'}.`);
      }
      if (networks) io.out(`\nPool usage:\n${poolTable(networks)}`);
    }
    return errors ? EXIT.error : EXIT.ok;
  });
  return code ?? EXIT.error;
}

/** Ask every reachable node which of the manifests' images it holds (backends with images only). */
async function imagesByNode(driver: Driver, desired: Desired, observed: Observed): Promise<ImagesByNode | undefined> {
  if (!driver.imagesPresent) return undefined;
  const images = [...new Set([...desired.instances.values()].map((i) => i.image))];
  const up = [...observed.nodes.values()].filter((n) => n.health === 'up').map((n) => n.name);
  const found = await Promise.all(up.map(async (n) => [n, await driver.imagesPresent!(n, images).catch(() => undefined)] as const));
  return new Map(found.filter((x): x is readonly [string, readonly string[]] => x[1] !== undefined));
}
