import * as fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatGanetiText } from '../../alloc/ganeti-text.ts';
import { GanetiExportError, manifestsToGaneti, NICS_NOT_CARRIED, type ExportInput } from '../../interop/ganeti.ts';
import type { Desired } from '../../model/desired.ts';
import { loadOrReport, withLook } from '../context.ts';
import { EXIT, STORE_OPTIONS, UsageError, type Io } from '../io.ts';

export const usage = `drover export ganeti [PATH...] [--placement store|manifest] [--cluster NAME] [--out FILE]
  The htools text format (what hbal, hspace, hinfo and hcheck read) from the manifests and Drover's
  placements. --placement store (default): where Drover has placed each instance (its pins until
  then), and nodes that do not answer are offline (Y); manifest: the pins only, no look at the nodes.
  Ganeti's own fields come from the ganeti.drover.io/ labels that drover import ganeti wrote.`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    placement: { type: 'string' }, cluster: { type: 'string' }, out: { type: 'string' }, ...STORE_OPTIONS,
  } });
  const [format, ...paths] = positionals;
  if (format !== 'ganeti') throw new UsageError(`expected: export ganeti [PATH...]\n${usage}`);
  const placement = values.placement ?? 'store';
  if (placement !== 'store' && placement !== 'manifest') throw new UsageError(`--placement must be store or manifest, not "${placement}"`);
  const emit = (desired: Desired, more: Omit<ExportInput, 'desired' | 'cluster'>): Promise<number> =>
    write(io, values.out, { desired, cluster: clusterOf(desired, values.cluster), ...more });
  if (placement === 'manifest') {
    const loaded = await loadOrReport(paths, io);
    return loaded ? emit(loaded.desired, {}) : EXIT.error;
  }
  const code = await withLook(paths, values, io, ({ desired, store, observed }) => emit(desired, {
    placement: (i) => store.placements.get(i),
    unreachable: new Set([...desired.nodes.keys()].filter((n) => observed.nodes.get(n)?.health !== 'up')),
    observedCapacity: (n) => observed.nodes.get(n)?.capacity,
  }));
  return code ?? EXIT.error;
}

function clusterOf(desired: Desired, wanted: string | undefined): string {
  const names = [...desired.clusters.keys()];
  if (wanted !== undefined) return wanted;
  if (names.length !== 1) throw new UsageError(`the manifests hold ${names.length} clusters (${names.join(', ')}); choose one with --cluster`);
  return names[0]!;
}

async function write(io: Io, out: string | undefined, input: ExportInput): Promise<number> {
  let result;
  try {
    result = manifestsToGaneti(input);
  } catch (e) {
    if (!(e instanceof GanetiExportError)) throw e;
    io.err(`drover export: ${e.message}`);
    return EXIT.error;
  }
  if (result.unplaced.length) {
    io.err(`warning: ${result.unplaced.length} instance(s) have no node yet (neither pinned nor placed) and are left out: ${result.unplaced.join(', ')}`);
  }
  if (result.nicsLeftOut.length) {
    const nics = result.nicsLeftOut.reduce((n, x) => n + x.nics, 0);
    io.err(`warning: ${nics} NIC(s) of ${result.nicsLeftOut.length} instance(s) are left out (${result.nicsLeftOut.map((x) => x.instance).join(', ')}): ${NICS_NOT_CARRIED.replace(/; declare.*$/, '')}`);
  }
  const text = formatGanetiText(result.text);
  if (out === undefined) io.out(text);
  else await fs.writeFile(out, text);
  return EXIT.ok;
}
