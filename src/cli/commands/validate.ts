import { parseArgs } from 'node:util';
import { loadOrReport } from '../context.ts';
import { EXIT, type Io } from '../io.ts';

export const usage = `drover validate [PATH...]
  Check the manifests (syntax, schema, references, capacity) without touching any node.`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  const loaded = await loadOrReport(positionals, io);
  if (!loaded) return EXIT.error;
  const d = loaded.desired;
  io.out(`${loaded.files.length} file${loaded.files.length === 1 ? '' : 's'} OK: ${d.clusters.size} cluster(s), ${d.nodes.size} node(s), ${d.instances.size} instance(s).`);
  return EXIT.ok;
}
