// What a container volume's rootfs is shifted to, recorded beside it in
// `<volume>/.berth-idmap`: create and start shift the rootfs to the map the
// container runs with (rootfs-shift.ts) and record it there; files, backups
// and images read the record to know which host ids the tree holds, and the
// volume folder belongs to the host uid of the container's root under it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../../errors.ts';
import { secureVolumeDir } from '../../storage/data-dir-modes.ts';
import type { IdmapSet } from '../../validation/index.ts';
import type { DriverInstance } from '../driver.ts';
import { parseSerializedIdmap, sameIdmap, serializeIdmap } from './instance-idmap.ts';
import { shiftRootfs } from './rootfs-shift.ts';

/** Where create() records what the rootfs is shifted to (in the instance's storage dir). */
export const IDMAP_MARKER = '.berth-idmap';

type Volume = Pick<DriverInstance, 'name' | 'paths'>;

/** The host uid of a container's root under `idmap` (`null`: privileged, host root). */
function rootUidOf(idmap: IdmapSet | null): number {
  return idmap?.toHost('uid', 0) ?? 0;
}

/**
 * The host uid of the root of the container whose volume folder is `dir`,
 * from what its rootfs is shifted to: who must own the folder (see
 * secureVolumeDir). An unreadable record reads as host root, which a start
 * corrects.
 */
export function volumeRootUid(dir: string): number {
  try {
    return rootUidOf(parseSerializedIdmap(readFileSync(path.join(dir, IDMAP_MARKER), 'utf8')));
  } catch {
    return 0;
  }
}

/** What the rootfs is shifted to now (`null`: host ids as they are). */
export function currentShift(volume: Volume): IdmapSet | null {
  try {
    return parseSerializedIdmap(readFileSync(path.join(volume.paths.dir, IDMAP_MARKER), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Records `map` as what the rootfs is shifted to, without touching the tree. */
export function recordShift(volume: Volume, map: IdmapSet | null): void {
  writeFileSync(path.join(volume.paths.dir, IDMAP_MARKER), serializeIdmap(map));
}

export function rootfsMissing(volume: Volume): EngineError {
  return new EngineError(
    'NOT_FOUND',
    `The root filesystem of ${volume.name} is missing (${volume.paths.rootfs})`,
  );
}

/** Shifts the rootfs to `target` unless it is shifted to that already, and records it. */
export async function shiftVolumeTo(volume: Volume, target: IdmapSet | null): Promise<void> {
  const current = currentShift(volume);
  if (sameIdmap(current, target)) return;
  if (!existsSync(volume.paths.rootfs)) throw rootfsMissing(volume);
  await shiftRootfs(volume.paths.rootfs, current, target);
  recordShift(volume, target);
}

/**
 * As LXD at every start: the volume folder belongs to the container's root
 * as the host sees it, mode 0100, so that root (and host root) can reach
 * the rootfs and no other local user can.
 */
export async function secureVolume(volume: Volume, idmap: IdmapSet | null): Promise<void> {
  await secureVolumeDir(volume.paths.dir, rootUidOf(idmap));
}
