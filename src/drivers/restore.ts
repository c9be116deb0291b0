/**
 * Restored disks waiting for their instance: `drover restore` stages a backup's disks in the state
 * directory (restores/<instance>/), and the first creation of that instance's primary disks seeds
 * them from there (any backend with seedDisk), before its container exists and before its replica
 * is synced, so the replica gets the restored contents too. A staged restore is whole or absent
 * (written aside, then renamed) and is removed once every disk is seeded; a crash mid-seed seeds
 * again on the resumed step (seeding is idempotent).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriverError, type Driver } from './driver.ts';

export interface StagedRestore {
  readonly instance: string;
  /** The backend whose format the disks are in. */
  readonly backend: string;
  readonly disks: readonly number[];
  /** The instance it was backed up from, and when. */
  readonly from: string;
  readonly takenAt: number;
}

const dirOf = (stateDir: string, instance: string): string => path.join(stateDir, 'restores', instance);
export const diskFile = (dir: string, disk: number): string => path.join(dir, `d${disk}.data`);

export function stagedRestore(stateDir: string, instance: string): StagedRestore | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dirOf(stateDir, instance), 'restore.json'), 'utf8')) as StagedRestore;
  } catch {
    return undefined;
  }
}

/**
 * Stage a restore: `fill(dir)` writes d<N>.data files into a fresh folder, which then becomes the
 * instance's staged restore at once (replacing an earlier one).
 */
export async function stageRestore(stateDir: string, r: StagedRestore, fill: (dir: string) => Promise<void>): Promise<void> {
  const final = dirOf(stateDir, r.instance);
  const tmp = `${final}.partial-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    await fill(tmp);
    fs.writeFileSync(path.join(tmp, 'restore.json'), JSON.stringify(r, null, 2));
    fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(tmp, final);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The driver, with a staged restore seeded when its instance's primary disks are created. */
export function withRestores(driver: Driver, stateDir: string): Driver {
  const createDisks: Driver['createDisks'] = async (node, instance, disks, role, generation) => {
    await driver.createDisks(node, instance, disks, role, generation);
    if (role === 'primary') await seedStaged(driver, stateDir, node, instance);
  };
  return new Proxy(driver, {
    get(target, key) {
      if (key === 'createDisks') return createDisks;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function seedStaged(driver: Driver, stateDir: string, node: string, instance: string): Promise<void> {
  const r = stagedRestore(stateDir, instance);
  if (!r) return;
  if (r.backend !== driver.backend || !driver.seedDisk) {
    throw new DriverError(`${instance}: its staged restore is a ${r.backend} backup; this cluster's ${driver.backend} backend cannot seed it (remove ${dirOf(stateDir, instance)})`, false, node);
  }
  const dir = dirOf(stateDir, instance);
  for (const disk of r.disks) await driver.seedDisk(node, instance, disk, fs.createReadStream(diskFile(dir, disk)));
  fs.rmSync(dir, { recursive: true, force: true });
}
