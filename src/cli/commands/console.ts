import { parseArgs } from 'node:util';
import { capabilitiesOf } from '../../drivers/backends.ts';
import type { ConsoleEnds } from '../../drivers/driver.ts';
import { onPrimary } from '../instance.ts';
import { EXIT, STORE_OPTIONS, UsageError, type Io } from '../io.ts';

export const usage = `drover console INSTANCE [PATH...]
  An interactive session on the running instance, on its current primary wherever it runs now:
  docker: a shell (sh) inside its container, with a terminal when stdin is one (raw mode, resized
  with yours) and plain pipes otherwise (echo 'ls /data' | drover console web1). Leave with exit or
  Ctrl-D. A VM (hypervisor: kvm): its serial console; Ctrl-] leaves (the guest never closes it). Exit: the shell's exit status; 1, saying why, when the instance is unknown, not running,
  its node unreachable, or the backend has no console.`;

const WHAT = { shell: 'a shell in its container', serial: 'its serial console' } as const;

export async function run(argv: string[], io: Io): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { ...STORE_OPTIONS } });
  const [name, ...paths] = positionals;
  if (!name) throw new UsageError('which instance? drover console INSTANCE');
  return onPrimary('console', name, paths, values, io, async ({ driver, node, instance, container, desired }) => {
    // a VM's console is its serial line, whatever the backend's container console is
    const kind = desired.instances.get(instance)?.hypervisor === 'kvm' ? 'serial' : capabilitiesOf(driver.backend).console;
    if (!kind || !driver.openConsole) { io.err(`drover console: the ${driver.backend} backend has no console`); return EXIT.error; }
    if (container.state !== 'running') { io.err(`drover console: ${instance} is ${container.state} on ${node}: a console needs it running`); return EXIT.error; }
    const tty = io.stdinIsTty && process.stdout.isTTY;
    if (tty) io.err(`Connected to ${instance} on ${node} (${WHAT[kind]}); ${kind === 'serial' ? 'Ctrl-]' : 'exit or Ctrl-D'} leaves.`);
    const ends: ConsoleEnds = { input: process.stdin, output: process.stdout, ...(tty && { tty: terminal() }) };
    if (tty) process.stdin.setRawMode(true);
    try {
      return await driver.openConsole(node, instance, ends);
    } finally {
      if (tty) process.stdin.setRawMode(false);
      process.stdin.pause(); // nothing more to read: let the process end
    }
  });
}

function terminal(): NonNullable<ConsoleEnds['tty']> {
  return {
    size: () => ({ columns: process.stdout.columns || 80, rows: process.stdout.rows || 24 }), // 0 × 0: a terminal never sized
    onResize: (fn) => { process.stdout.on('resize', fn); return () => void process.stdout.off('resize', fn); },
  };
}
