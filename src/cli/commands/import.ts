import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { GanetiTextError, parseGanetiText } from '../../alloc/ganeti-text.ts';
import { ganetiToManifests, isDroverName, toYaml, type Adopted, type ImportedManifests, type ManifestDoc } from '../../interop/ganeti.ts';
import { BACKEND_NAMES, DEFAULT_BACKEND, isBackendName } from '../../drivers/backends.ts';
import type { StoreLocation } from '../../store/backend.ts';
import { acquireLease } from '../../store/lease.ts';
import { Store } from '../../store/store.ts';
import type { JobRecord, Placement } from '../../store/types.ts';
import { EXIT, STORE_OPTIONS, UsageError, locationOf, type Io } from '../io.ts';

export const usage = `drover import ganeti FILE [--out DIR] [--cluster NAME] [--backend ${BACKEND_NAMES.join('|')}] [--pin] [--state-dir DIR]
  Manifests from an htools text file (as hscan writes it, as in Ganeti's test data): one Cluster
  (with Ganeti's instance policy), one Node per node, one Instance per instance, running or stopped
  as its status says. Drover adopts where Ganeti runs each instance: the placements go into the store
  as Drover's own decisions (journal entry "adopted"), so the cluster runs where it ran and
  drover balance can move it at once; --pin writes primary/secondary pins into the manifests instead.
  What Drover has no field for is kept in ganeti.drover.io/ labels, so that drover export ganeti
  writes the same file back. To stdout, or to DIR/cluster.yaml, nodes.yaml and instances.yaml.
  A file Drover cannot represent: FILE:LINE: error: ..., exit 1, nothing written.`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    out: { type: 'string' }, cluster: { type: 'string' }, backend: { type: 'string' }, pin: { type: 'boolean' }, ...STORE_OPTIONS,
  } });
  const [format, file, ...extra] = positionals;
  if (format !== 'ganeti' || file === undefined || extra.length) throw new UsageError(`expected: import ganeti FILE\n${usage}`);
  const backend = values.backend ?? DEFAULT_BACKEND;
  if (!isBackendName(backend)) throw new UsageError(`--backend must be ${BACKEND_NAMES.join(' or ')}, not "${backend}"`);
  if (values.cluster !== undefined && !isDroverName(values.cluster)) throw new UsageError(`--cluster "${values.cluster}" is not a DNS label or FQDN`);
  const text = await fs.readFile(file, 'utf8').catch((e: Error) => { throw new UsageError(`cannot read ${file}: ${e.message}`); });
  let m: ImportedManifests;
  try {
    m = ganetiToManifests(parseGanetiText(text, file), file, { backend, pin: values.pin === true, ...(values.cluster !== undefined && { cluster: values.cluster }) });
  } catch (e) {
    if (!(e instanceof GanetiTextError)) throw e;
    io.err(`${e.file}:${e.line}: error: ${e.detail}`);
    io.err('nothing was written.');
    return EXIT.error;
  }
  // The store first, the manifests last: a kill between the two leaves placements no manifest wants
  // yet, which plan keeps (never removes without --prune) and a rerun of the same import completes.
  const adopted = m.placements.length ? await adopt(locationOf(values), m.placements, file, io) : '';
  const where = values.out === undefined ? (io.out(toYaml([m.cluster, ...m.nodes, ...m.instances])), '') : await write(values.out, m);
  const replicated = m.instances.filter((i) => i.spec.diskTemplate === 'replicated').length;
  io.err(`Imported ${file}: Cluster ${m.cluster.metadata.name}, ${m.nodes.length} nodes, ${m.instances.length} instances (${replicated} replicated)${where}.${adopted}`);
  for (const what of m.notCarried) io.err(`Not in the file, so not imported: ${what}.`);
  return EXIT.ok;
}

/**
 * Record Ganeti's placements as Drover's, under the lease (apply might be running). Idempotent: a
 * placement the store already has is left as it is — identical after a rerun, or Drover's own later
 * decision (it moved the instance since), which a re-import does not undo.
 */
async function adopt(location: StoreLocation, placements: readonly Adopted[], file: string, io: Io): Promise<string> {
  if (location.kind === 'file') await fs.mkdir(location.stateDir, { recursive: true });
  const lease = await acquireLease(location, 'drover import', 30_000);
  const store = await Store.open(location, { lease });
  let added = 0;
  const differ: string[] = [];
  const writes: Promise<void>[] = [];
  try {
    for (const a of placements) {
      const had = store.placements.get(a.instance);
      if (had) { if (had.primary !== a.primary || had.secondary !== a.secondary) differ.push(a.instance); continue; }
      const now = Date.now();
      const placement: Placement = { instance: a.instance, primary: a.primary, ...(a.secondary && { secondary: a.secondary }), generation: 0 };
      const job: JobRecord = {
        id: store.nextJobId(), type: 'adopted', instance: a.instance, reason: `adopted from ${path.basename(file)}: Ganeti runs it there`,
        start: now, end: now, result: 'succeeded', note: `primary ${a.primary}${a.secondary ? `, secondary ${a.secondary}` : ''}`,
        master: { host: os.hostname(), pid: process.pid },
      };
      // Not awaited one by one: the log commits them in groups. Each record replays harmlessly, so a
      // kill anywhere leaves a prefix of them that a rerun completes.
      writes.push(store.putPlacement(placement), store.putJob(job));
      added++;
    }
    await Promise.all(writes);
  } finally {
    await store.close();
    await lease.release();
  }
  if (differ.length) io.err(`warning: ${differ.length} instance(s) already placed elsewhere by Drover keep their placement: ${differ.slice(0, 10).join(', ')}${differ.length > 10 ? ', …' : ''}`);
  return ` Adopted ${added} placement${added === 1 ? '' : 's'} into the store${placements.length > added ? ` (${placements.length - added} already there)` : ''}.`;
}

/**
 * One file per kind, each written whole (a temporary file renamed over it): a kill leaves every file
 * either old or new. A cluster without instances gets no instances.yaml: an empty manifest file is an error.
 */
async function write(dir: string, m: ImportedManifests): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const files: [string, readonly ManifestDoc[]][] = [['cluster.yaml', [m.cluster]], ['nodes.yaml', m.nodes], ['instances.yaml', m.instances]];
  const written: string[] = [];
  for (const [name, docs] of files) {
    const p = path.join(dir, name);
    // A stale file of an earlier import would mix two clusters' documents.
    if (docs.length === 0) { await fs.rm(p, { force: true }); continue; }
    await fs.writeFile(`${p}.tmp`, toYaml(docs));
    await fs.rename(`${p}.tmp`, p);
    written.push(name);
  }
  return ` → ${path.join(dir, `{${written.join(',')}}`)}`;
}
