// Whole-tree disk operations of the dir driver, through the host runner
// where coreutils does it better than Node (see the figures in the report
// beside each choice).
import { rm, statfs } from 'node:fs/promises';
import { runCommand } from '../host/run-command.ts';

/** A big rootfs copy on a slow disk takes a while; this only bounds a hang. */
const COPY_TIMEOUT_MS = 60 * 60 * 1000;
const DU_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * Copies the tree `from` to `to` (which must not exist): owners, modes,
 * setuid bits, symlinks as symlinks, hard links, timestamps and xattrs
 * (`security.capability`) kept, sharing blocks (reflink) where the
 * filesystem can and copying where it cannot. `cp -a` does all of it in one
 * pass; Node's fs.cp neither keeps owners nor xattrs nor hard links.
 */
export async function copyTree(from: string, to: string, signal?: AbortSignal): Promise<void> {
  await runCommand('cp', ['-a', '--reflink=auto', '--no-target-directory', '--', from, to], {
    timeoutMs: COPY_TIMEOUT_MS,
    ...(signal ? { signal } : {}),
  });
}

/** Removes a tree; no error when it is already gone. Symlinks are removed, never followed. */
export async function removeTree(target: string): Promise<void> {
  await rm(target, { recursive: true, force: true, maxRetries: 2 });
}

/** Bytes used by a tree, hard links counted once (`du -s -B1`: allocated blocks, not apparent size). */
export async function treeUsage(target: string): Promise<number> {
  const out = await runCommand('du', ['-s', '-x', '--block-size=1', '--', target], {
    timeoutMs: DU_TIMEOUT_MS,
  });
  const bytes = Number(out.stdout.split(/\s/)[0]);
  return Number.isFinite(bytes) ? bytes : 0;
}

/** Space and inodes of the filesystem holding `target` (statfs). */
export async function filesystemResources(target: string): Promise<{
  space: { used: number; total: number };
  inodes: { used: number; total: number };
}> {
  const s = await statfs(target);
  return {
    space: { used: (s.blocks - s.bfree) * s.bsize, total: s.blocks * s.bsize },
    inodes: { used: s.files - s.ffree, total: s.files },
  };
}
