import { parseArgs } from 'node:util';
import { SimWorld } from '../../drivers/sim/world.ts';
import { SimDriver } from '../../drivers/sim/index.ts';
import { Store } from '../../store/store.ts';
import { acquireLease } from '../../store/lease.ts';
import { loadOrReport } from '../context.ts';
import { EXIT, locationOf, STORE_OPTIONS, UsageError, type Io } from '../io.ts';

export const usage = `drover sim fail-node NODE | restore-node NODE | unhealthy INSTANCE | healthy INSTANCE | write INSTANCE [PATH...]
  Fault injection on the simulated backend: make a node unreachable (as if its power or network
  were gone), bring it back (a fenced node comes back powered off), make an instance's health
  check fail or pass again, or write to an instance's disks on its primary (so that a later
  failover shows what the replica had).`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...STORE_OPTIONS } });
  const [verb, name, ...paths] = positionals;
  const location = locationOf(values);
  const stateDir = location.stateDir;
  if (!name) throw new UsageError(usage);
  if (verb === 'fail-node' || verb === 'restore-node') {
    const world = new SimWorld(stateDir, { readOnly: true }); // only the flags file is written: safe beside a running master
    const flags = world.flagsOf(name);
    world.setFlags(name, verb === 'fail-node' ? { ...flags, failed: true } : { failed: false, fenced: false });
    world.close();
    io.out(verb === 'fail-node' ? `${name} is now unreachable.` : `${name} is back${flags.fenced ? ' (it had been fenced: its containers are stopped)' : ''}.`);
    return EXIT.ok;
  }
  if (verb === 'unhealthy' || verb === 'healthy') {
    const world = new SimWorld(stateDir, { readOnly: true }); // only its small health file is written
    world.setUnhealthy(name, verb === 'unhealthy');
    world.close();
    io.out(`${name}: its health check now ${verb === 'unhealthy' ? 'fails' : 'passes'}.`);
    return EXIT.ok;
  }
  if (verb === 'write') {
    const loaded = await loadOrReport(paths, io);
    if (!loaded) return EXIT.error;
    const placement = (await Store.open(location, { readOnly: true })).placements.get(name);
    if (!placement) { io.err(`drover: ${name} is not placed`); return EXIT.error; }
    const lease = await acquireLease(location, 'drover sim write', 30_000); // the world log has one writer at a time: the master's lease
    const driver = new SimDriver({ stateDir, nodes: [...loaded.desired.nodes.values()] });
    const version = await driver.writeData(placement.primary, name);
    await driver.close();
    await lease.release();
    io.out(`${name}: data version ${version} on ${placement.primary}.`);
    return EXIT.ok;
  }
  throw new UsageError(usage);
}
