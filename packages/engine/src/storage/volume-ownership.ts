// Ownership of container root filesystems in backups and published images.
// On disk an unprivileged container's rootfs is shifted to host ids (root =
// 1000000 here); the LXC driver records the map it shifted to in
// `<volume>/.berth-idmap`. Backups and images carry container ids (root =
// 0) so that they restore on any host with any map: a copy is unshifted
// before it is packed, and an imported tree is shifted to the map of the
// volume it joins (the driver's create does that for the instance's own
// rootfs; snapshot trees are shifted here to the same map). An instance copy
// whose map differs from its source's does the same with its snapshots.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { IDMAP_MARKER } from '../drivers/lxc/volume-shift.ts';
import { parseSerializedIdmap, sameIdmap, serializeIdmap } from '../drivers/lxc/instance-idmap.ts';
import { shiftRootfs } from '../drivers/lxc/rootfs-shift.ts';
import type { IdmapSet } from '../validation/index.ts';

/** The map a volume's rootfs is shifted to (`null`: host ids as they are, or no marker). */
export async function volumeShift(volumeDir: string): Promise<IdmapSet | null> {
  try {
    return parseSerializedIdmap(await readFile(path.join(volumeDir, IDMAP_MARKER), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Rewrites a (private) copy from host ids under `from` to container ids. */
export async function unshiftCopy(rootfs: string, from: IdmapSet | null): Promise<void> {
  if (from === null) return;
  await shiftRootfs(rootfs, from, null);
}

/** Shifts a tree that holds container ids to the map `to`. */
export async function shiftImported(rootfs: string, to: IdmapSet | null): Promise<void> {
  if (to === null) return;
  await shiftRootfs(rootfs, null, to);
}

/**
 * Shifts a snapshot folder's rootfs to the map its instance's volume is
 * shifted to, and records it: restoring a snapshot replaces only `rootfs/`,
 * so a snapshot must carry the volume's ids (a copy whose map changed).
 */
export async function matchVolumeShift(snapshotDir: string, volumeDir: string): Promise<void> {
  const from = await volumeShift(snapshotDir);
  const to = await volumeShift(volumeDir);
  if (sameIdmap(from, to)) return;
  await shiftRootfs(path.join(snapshotDir, 'rootfs'), from, to);
  await writeFile(path.join(snapshotDir, IDMAP_MARKER), serializeIdmap(to));
}

export { IDMAP_MARKER };
