import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ArchiveError, readArchive } from '../../backup/archive.ts';
import { renamed } from '../../backup/manifest.ts';
import { diskFile, stageRestore } from '../../drivers/restore.ts';
import { Store } from '../../store/store.ts';
import { DEFAULT_MANIFEST_PATH, loadManifests } from '../../manifest/index.ts';
import type { Desired } from '../../model/desired.ts';
import { EXIT, locationOf, STORE_OPTIONS, UsageError, type Io } from '../io.ts';
import type { BackupInfo } from './backup.ts';

export const usage = `drover restore FILE [PATH...] [--as NAME]
  Verify a backup (every member against its SHA256SUMS; a bad one changes nothing), print its
  instance's manifest (named NAME with --as) for you to commit, and stage its disks in the state
  directory: the next apply that creates that instance fills its disks from the backup before its
  container first starts (and its replica gets them by the first sync). The name must not be
  placed already: restore as a new name, or remove the old instance first.`;

const MEMBER = /^(backup\.json|manifest\.yaml|placement\.json|disks\/d\d+)$/;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { as: { type: 'string' }, ...STORE_OPTIONS } });
  const [file, ...paths] = positionals;
  if (!file) throw new UsageError('which backup? drover restore FILE [--as NAME]');
  if (!fs.existsSync(file)) { io.err(`drover restore: ${file}: no such file`); return EXIT.error; }
  // The manifests are read for their backend only: the file the manifest is about to be written
  // into (drover restore F --as x > manifests/x.yaml) is still empty, and that is no error here.
  const loaded = await loadManifests(paths.length ? paths : [DEFAULT_MANIFEST_PATH]);
  const desired = loaded.ok ? loaded.desired : undefined;
  const location = locationOf(values);
  const restores = path.join(location.stateDir, 'restores');
  fs.mkdirSync(restores, { recursive: true });
  const incoming = fs.mkdtempSync(path.join(restores, '.incoming-'));
  try {
    try {
      // only the members restore reads are written (each is verified all the same)
      await readArchive(file, (member) => (MEMBER.test(member) ? fs.createWriteStream(path.join(incoming, member.replace('/', '_'))) : undefined));
    } catch (e) {
      if (e instanceof ArchiveError) { io.err(`drover restore: ${e.message}; nothing was changed`); return EXIT.error; }
      throw e;
    }
    const missing = ['backup.json', 'manifest.yaml'].filter((m) => !fs.existsSync(path.join(incoming, m)));
    if (missing.length) { io.err(`drover restore: ${file}: no ${missing.join(' or ')}: not a Drover backup; nothing was changed`); return EXIT.error; }
    const info = JSON.parse(fs.readFileSync(path.join(incoming, 'backup.json'), 'utf8')) as BackupInfo;
    const absent = info.disks.filter((d) => !fs.existsSync(path.join(incoming, `disks_d${d.index}`)));
    if (absent.length) { io.err(`drover restore: ${file}: disk ${absent[0]!.index} is missing from the archive; nothing was changed`); return EXIT.error; }
    const name = values.as ?? info.instance;
    const refusal = await refuse(name, info, desired, location, values.as !== undefined);
    if (refusal) { io.err(`drover restore: ${refusal}; nothing was changed`); return EXIT.error; }
    const manifest = fs.readFileSync(path.join(incoming, 'manifest.yaml'), 'utf8');
    await stageRestore(location.stateDir, { instance: name, backend: info.backend, disks: info.disks.map((d) => d.index), from: info.instance, takenAt: info.takenAt }, async (dir) => {
      for (const d of info.disks) fs.renameSync(path.join(incoming, `disks_d${d.index}`), diskFile(dir, d.index));
    });
    io.out(name === info.instance ? manifest.trimEnd() : renamed(manifest, info.instance, name).trimEnd());
    io.err(`Verified ${file}: ${info.instance} as backed up from ${info.node} at ${new Date(info.takenAt).toISOString()}. Its disks are staged for ${name}: ` +
      `commit the manifest above${desired?.instances.has(name) ? ' (the manifests already declare it)' : ''}, and the apply that creates ${name} fills its disks from the backup.`);
    return EXIT.ok;
  } finally {
    fs.rmSync(incoming, { recursive: true, force: true });
  }
}

/** Why the backup cannot be staged under `name`, or undefined. */
async function refuse(name: string, info: BackupInfo, desired: Desired | undefined, location: ReturnType<typeof locationOf>, renamedTo: boolean): Promise<string | undefined> {
  const backends = new Set<string>([...(desired?.clusters.values() ?? [])].map((c) => c.backend));
  if (backends.size && !backends.has(info.backend)) return `the backup holds ${info.backend} disks; these manifests use the ${[...backends].join(', ')} backend`;
  const store = await Store.open(location, { readOnly: true });
  try {
    if (store.placements.has(name)) {
      return `${name} exists (placed on ${store.placements.get(name)!.primary}): ${renamedTo ? 'choose another name' : `restore it as a new name with --as NAME, or remove ${name} first`}`;
    }
  } finally {
    await store.close();
  }
  return undefined;
}
