import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { GanetiTextError, parseGanetiText } from '../../alloc/ganeti-text.ts';
import { ganetiToManifests, isDroverName, toYaml, type ImportedManifests, type ManifestDoc } from '../../interop/ganeti.ts';
import { BACKEND_NAMES, DEFAULT_BACKEND, isBackendName } from '../../drivers/backends.ts';
import { EXIT, UsageError, type Io } from '../io.ts';

export const usage = `drover import ganeti FILE [--out DIR] [--cluster NAME] [--backend ${BACKEND_NAMES.join('|')}]
  Manifests from an htools text file (as hscan writes it, as in Ganeti's test data): one Cluster,
  one Node per node, one Instance per instance, pinned where it is, running or stopped as its status
  says. What Drover has no field for is kept in ganeti.drover.io/ labels, so that
  drover export ganeti writes the same file back. To stdout, or to DIR/cluster.yaml, nodes.yaml and
  instances.yaml. A file Drover cannot represent: FILE:LINE: error: ..., exit 1, nothing written.`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    out: { type: 'string' }, cluster: { type: 'string' }, backend: { type: 'string' },
  } });
  const [format, file, ...extra] = positionals;
  if (format !== 'ganeti' || file === undefined || extra.length) throw new UsageError(`expected: import ganeti FILE\n${usage}`);
  const backend = values.backend ?? DEFAULT_BACKEND;
  if (!isBackendName(backend)) throw new UsageError(`--backend must be ${BACKEND_NAMES.join(' or ')}, not "${backend}"`);
  if (values.cluster !== undefined && !isDroverName(values.cluster)) throw new UsageError(`--cluster "${values.cluster}" is not a DNS label or FQDN`);
  const text = await fs.readFile(file, 'utf8').catch((e: Error) => { throw new UsageError(`cannot read ${file}: ${e.message}`); });
  let m: ImportedManifests;
  try {
    m = ganetiToManifests(parseGanetiText(text, file), file, { backend, ...(values.cluster !== undefined && { cluster: values.cluster }) });
  } catch (e) {
    if (!(e instanceof GanetiTextError)) throw e;
    io.err(`${e.file}:${e.line}: error: ${e.detail}`);
    io.err('nothing was written.');
    return EXIT.error;
  }
  const where = values.out === undefined ? (io.out(toYaml([m.cluster, ...m.nodes, ...m.instances])), '') : await write(values.out, m);
  const replicated = m.instances.filter((i) => i.spec.diskTemplate === 'replicated').length;
  io.err(`Imported ${file}: Cluster ${m.cluster.metadata.name}, ${m.nodes.length} nodes, ${m.instances.length} instances (${replicated} replicated)${where}.`);
  for (const what of m.notCarried) io.err(`Not in the file, so not imported: ${what}.`);
  return EXIT.ok;
}

/** One file per kind. A cluster without instances gets no instances.yaml: an empty manifest file is an error. */
async function write(dir: string, m: ImportedManifests): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const files: [string, readonly ManifestDoc[]][] = [['cluster.yaml', [m.cluster]], ['nodes.yaml', m.nodes], ['instances.yaml', m.instances]];
  const written: string[] = [];
  for (const [name, docs] of files) {
    const p = path.join(dir, name);
    // A stale file of an earlier import would mix two clusters' documents.
    if (docs.length === 0) await fs.rm(p, { force: true });
    else { await fs.writeFile(p, toYaml(docs)); written.push(name); }
  }
  return ` → ${path.join(dir, `{${written.join(',')}}`)}`;
}
