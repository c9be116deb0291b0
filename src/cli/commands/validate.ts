import { parseArgs } from 'node:util';
import { loadOrReport } from '../context.ts';
import { EXIT, type Io } from '../io.ts';

export const usage = `drover validate [PATH...] [--offline]
  Check the manifests (syntax, schema, references, capacity) and the TLS files nodes name (ca, cert,
  key: present, parsable, cert and key a pair) without touching any node.
  --offline   skip the files manifests name (a CI machine that does not hold the certificates)`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { offline: { type: 'boolean' } } });
  const loaded = await loadOrReport(positionals, io, { checkFiles: values.offline !== true });
  if (!loaded) return EXIT.error;
  const d = loaded.desired;
  io.out(`${loaded.files.length} file${loaded.files.length === 1 ? '' : 's'} OK: ${d.clusters.size} cluster(s), ${d.nodes.size} node(s), ${d.instances.size} instance(s)${d.networks?.size ? `, ${d.networks.size} network(s)` : ''}.`);
  return EXIT.ok;
}
