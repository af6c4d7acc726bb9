// What a custom volume is on a `dir` pool (LXD's driver_dir_volumes.go): a
// filesystem volume is the folder `<pool>/custom/<project>_<name>/` itself
// (mounted as it is into instances); a block volume is that folder holding
// a sparse raw disk `root.img`. Snapshots are copies under
// `<pool>/custom-snapshots/<project>_<name>/<snapshot>/`.
//
// As storage-pools.ts does for instance volumes, every change is staged in
// a hidden sibling (same filesystem, so the final rename is atomic) and
// undone step by step when a later step fails; a crash leaves only hidden
// temporaries, which the pool's start-up sweep removes.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import { Reverter } from '../reverter.ts';
import { ensureMode } from './data-dir-modes.ts';
import { removeIfEmpty } from './pool-layout.ts';
import { tempSiblingOf } from './pool-paths.ts';
import { copyTree, markTopOfHierarchies, removeTree } from './tree-ops.ts';

/** The raw disk of a block volume, as LXD's dir driver names it. */
export const BLOCK_FILE = 'root.img';

/**
 * 0711 as LXD's dir driver makes a volume's mount path: an instance's
 * mapped root reaches it, other local users cannot list it. Its owner is
 * who the volume is shifted to (host root until an unprivileged container
 * first attaches it).
 */
export const CUSTOM_VOLUME_MODE = 0o711;

function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}

export async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Makes the volume folder at `dir` (which must not exist), with a sparse `root.img` of `blockBytes` for a block volume. */
export async function createVolumeDir(dir: string, blockBytes?: number): Promise<void> {
  if (await exists(dir)) {
    throw new EngineError(
      'CONFLICT',
      `Volume folder ${dir} already exists on disk without a database record`,
    );
  }
  const tmp = tempSiblingOf(dir, 'create', randomSuffix());
  await Reverter.run(async (revert) => {
    revert.add(() => removeTree(tmp));
    await mkdir(tmp, { mode: CUSTOM_VOLUME_MODE });
    await ensureMode(tmp, CUSTOM_VOLUME_MODE);
    if (blockBytes !== undefined) await resizeBlockFile(path.join(tmp, BLOCK_FILE), blockBytes);
    await rename(tmp, dir);
  });
}

/** Creates or grows (never shrinks, as LXD refuses) a sparse raw disk. */
export async function resizeBlockFile(file: string, bytes: number): Promise<void> {
  const current = await stat(file).then(
    (s) => s.size,
    () => -1,
  );
  if (current > bytes) {
    throw new EngineError('INVALID_ARGUMENT', 'Block volumes cannot be shrunk', {
      field: 'config["size"]',
    });
  }
  const handle = await open(file, current < 0 ? 'wx' : 'r+', 0o600);
  try {
    await handle.truncate(bytes);
  } finally {
    await handle.close();
  }
}

/** Copies a volume folder (or a snapshot's) to `to`, which must not exist: owners and ids kept, new inodes. */
export async function copyVolumeDir(from: string, to: string, signal?: AbortSignal): Promise<void> {
  if (await exists(to)) {
    throw new EngineError('CONFLICT', `Volume folder ${to} already exists on disk`);
  }
  await mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
  const tmp = tempSiblingOf(to, 'create', randomSuffix());
  await Reverter.run(async (revert) => {
    revert.add(() => removeTree(tmp));
    await copyTree(from, tmp, signal);
    await rename(tmp, to);
  });
}

/** Takes a snapshot folder `snapDir` of `dir`; its parent is made root-only when new. */
export async function snapshotVolumeDir(dir: string, snapDir: string): Promise<void> {
  const parent = path.dirname(snapDir);
  await Reverter.run(async (revert) => {
    if (!(await exists(parent))) {
      await mkdir(parent, { recursive: true, mode: 0o700 });
      revert.add(() => removeIfEmpty(parent));
      await markTopOfHierarchies(parent);
    }
    await copyVolumeDir(dir, snapDir);
  });
}

/**
 * Replaces the volume's content with the snapshot's: a copy made beside it,
 * then two renames, so the volume is wholly the old one or wholly the
 * snapshot's. No running instance may have it mounted (the caller checks).
 */
export async function restoreVolumeDir(snapDir: string, dir: string): Promise<void> {
  const random = randomSuffix();
  const incoming = tempSiblingOf(dir, 'restore', random);
  const outgoing = tempSiblingOf(dir, 'replaced', random);
  await Reverter.run(async (revert) => {
    revert.add(() => removeTree(incoming));
    await copyTree(snapDir, incoming);
    await rename(dir, outgoing);
    revert.add(() => rename(outgoing, dir));
    await rename(incoming, dir);
  });
  await removeTree(outgoing);
}

/**
 * Moves folders aside (hidden), runs `commit` (the database change), then
 * removes them; if `commit` fails they are put back.
 */
export async function removeDirsAfter(dirs: string[], commit: () => Promise<void>): Promise<void> {
  const random = randomSuffix();
  const trash: string[] = [];
  await Reverter.run(async (revert) => {
    for (const dir of dirs) {
      if (!(await exists(dir))) continue;
      const hidden = tempSiblingOf(dir, 'delete', random);
      await rename(dir, hidden);
      revert.add(() => rename(hidden, dir));
      trash.push(hidden);
    }
    await commit();
  });
  for (const dir of trash) await removeTree(dir);
}

/** Renames folder pairs `[from, to]` (those that exist), then runs `commit`; everything is put back if a step fails. */
export async function renameDirsThen(
  pairs: [from: string, to: string][],
  commit: () => Promise<void>,
): Promise<void> {
  for (const [, to] of pairs) {
    if (await exists(to))
      throw new EngineError('CONFLICT', `Volume folder ${to} already exists on disk`);
  }
  await Reverter.run(async (revert) => {
    for (const [from, to] of pairs) {
      if (!(await exists(from))) continue;
      await rename(from, to);
      revert.add(() => rename(to, from));
    }
    await commit();
  });
}
