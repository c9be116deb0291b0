import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { writeArchive, type Member } from '../../backup/archive.ts';
import { documentAt } from '../../backup/manifest.ts';
import { formatBytes, formatDuration } from '../../model/quantity.ts';
import { onPrimary } from '../instance.ts';
import { EXIT, STORE_OPTIONS, UsageError, type Io } from '../io.ts';

export const usage = `drover backup INSTANCE [PATH...] [--to FILE]
  One tar (FILE, default INSTANCE-<time>.drover-backup.tar) with a consistent copy of the
  instance's disks from its current primary, its manifest document and placement, and a
  SHA256SUMS member that restore verifies. A running instance is made consistent by freezing it
  (docker: paused) only while its volumes are copied on its node, then thawed before the copy
  leaves the node; the line printed says for how long. Read-only otherwise: no lease is taken.`;

/** The archive's description of itself (backup.json). */
export interface BackupInfo {
  readonly format: 1;
  readonly instance: string;
  readonly backend: string;
  readonly node: string;
  readonly takenAt: number;
  readonly disks: readonly { readonly index: number; readonly size: number; readonly mount?: string }[];
  readonly consistency: 'frozen' | 'stopped';
  readonly frozenMs: number;
}

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { to: { type: 'string' }, ...STORE_OPTIONS } });
  const [name, ...paths] = positionals;
  if (!name) throw new UsageError('which instance? drover backup INSTANCE [--to FILE]');
  const file = path.resolve(values.to ?? `${name}-${new Date().toISOString().replace(/[:.]/g, '').slice(0, 15)}.drover-backup.tar`);
  if (!fs.existsSync(path.dirname(file))) throw new UsageError(`--to: the folder ${path.dirname(file)} does not exist`);
  return onPrimary('backup', name, paths, values, io, async ({ driver, node, instance, placement, desired }) => {
    const d = desired.instances.get(instance);
    if (!driver.exportDisks) { io.err(`drover backup: the ${driver.backend} backend cannot back up disks`); return EXIT.error; }
    if (!d) { io.err(`drover backup: ${instance} is no longer in the manifests: there is no manifest to back up with it`); return EXIT.error; }
    const tmp = fs.mkdtempSync(path.join(path.dirname(file), '.drover-backup-'));
    try {
      const exported = await driver.exportDisks(node, instance, (disk) => fs.createWriteStream(path.join(tmp, `d${disk}`)));
      const info: BackupInfo = {
        format: 1, instance, backend: driver.backend, node, takenAt: Date.now(), consistency: exported.consistency, frozenMs: exported.frozenMs,
        disks: exported.disks.map((index) => ({ index, size: d.disks[index]?.size ?? 0, ...(d.disks[index]?.mount && { mount: d.disks[index]!.mount }) })),
      };
      const members: Member[] = [
        { name: 'backup.json', data: Buffer.from(JSON.stringify(info, null, 2)) },
        { name: 'manifest.yaml', data: Buffer.from(documentAt(fs.readFileSync(d.source.file, 'utf8'), d.source.line)) },
        { name: 'placement.json', data: Buffer.from(JSON.stringify(placement, null, 2)) },
        ...exported.disks.map((i) => ({ name: `disks/d${i}`, file: path.join(tmp, `d${i}`) })),
      ];
      await writeArchive(file, members);
      const how = exported.consistency === 'frozen' ? `frozen ${formatDuration(exported.frozenMs)} for a consistent copy` : 'stopped: copied as it is';
      io.out(`Backed up ${instance} from ${node} (${exported.disks.length} disk${exported.disks.length === 1 ? '' : 's'}, ${how}) to ${file} (${formatBytes(fs.statSync(file).size)}).`);
      return EXIT.ok;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
}
