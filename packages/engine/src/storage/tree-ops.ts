// Whole-tree disk operations of the dir driver, through the host runner
// where coreutils does it better than Node (see the figures in the report
// beside each choice).
import {
  chmodSync,
  constants as fsConstants,
  copyFileSync,
  linkSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  type BigIntStats,
} from 'node:fs';
import { rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { EngineError } from '../errors.ts';
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

/**
 * What a plain copy can reproduce: directories, regular files (hard links
 * within the tree kept) and symlinks, with owners, modes (setuid, setgid,
 * sticky) and timestamps. Node has no xattr, mknod or ACL calls, so a tree
 * with extended attributes or device nodes, fifos or sockets is not plain
 * and goes through `cp -a` (see `scanTree` and the image cache's manifest).
 */
export interface TreeScan {
  entries: number;
  /** Apparent bytes of regular files, each inode once. */
  bytes: number;
  /** Entries other than directories, regular files and symlinks. */
  special: number;
}

/** Counts a tree (`lstat` only, never following symlinks). */
export function scanTree(root: string): TreeScan {
  const scan: TreeScan = { entries: 0, bytes: 0, special: 0 };
  const seen = new Set<number>();
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    scan.entries++;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        stack.push(file);
        continue;
      }
      scan.entries++;
      if (entry.isFile()) {
        const stats = lstatSync(file);
        if (stats.nlink > 1) {
          if (seen.has(stats.ino)) continue;
          seen.add(stats.ino);
        }
        scan.bytes += stats.size;
      } else if (!entry.isSymbolicLink()) scan.special++;
    }
  }
  return scan;
}

/** Whether any entry of the tree carries an extended attribute (any namespace, ACLs included). */
export async function treeHasXattrs(root: string): Promise<boolean> {
  // Not installed, or unable to read: say yes, so the caller takes the full copy.
  try {
    const result = await runCommand(
      'getfattr',
      [
        '--recursive',
        '--physical',
        '--no-dereference',
        '--absolute-names',
        '--dump',
        '--match=-',
        root,
      ],
      { timeoutMs: COPY_TIMEOUT_MS, allowFailure: true },
    );
    if (result.exitCode !== 0 && result.stdout.trim() === '') return result.stderr.trim() !== '';
    return result.stdout.trim() !== '';
  } catch {
    return true;
  }
}

const PLAIN_COPY_YIELD_EVERY = 256;

function copyTimes(target: string, stats: BigIntStats): void {
  lutimesSync(target, seconds(stats.atimeNs), seconds(stats.mtimeNs));
}

/**
 * A time for libuv, which takes seconds as a double (about 0.24 µs apart in
 * this century) and truncates to nanoseconds: the middle of the original's
 * microsecond, so the copy keeps that microsecond exactly (`cp -a` keeps
 * nanoseconds; images from tarballs have whole seconds).
 */
function seconds(ns: bigint): number {
  return Number((ns / 1000n) * 1000n + 500n) / 1e9;
}

function copyOwnerAndMode(target: string, stats: BigIntStats, symlink: boolean): void {
  lchownSync(target, Number(stats.uid), Number(stats.gid));
  // After the chown, which clears setuid/setgid; symlinks have no mode of their own.
  if (!symlink) chmodSync(target, Number(stats.mode) & 0o7777);
}

/**
 * Copies a plain tree (see `TreeScan`) `from` to `to` (which must not exist)
 * inside this process: the same result as `cp -a` on such a tree (times to
 * the microsecond), without
 * spawning it. Spawning from the engine costs ≈ 15 ms of its main thread
 * (fork of a large process), several times what copying a small rootfs
 * costs, so small image trees take this path. Synchronous system calls, the
 * event loop given back every few hundred entries. Every entry is a new
 * inode: nothing is shared with the source.
 */
export async function copyPlainTree(from: string, to: string): Promise<void> {
  const linked = new Map<bigint, string>();
  const dirs: [string, BigIntStats][] = [];
  const stack: [string, string][] = [[from, to]];
  let sinceYield = 0;
  const rootStats = lstatSync(from, { bigint: true });
  if (!rootStats.isDirectory())
    throw new EngineError('INTERNAL', `copyPlainTree: ${from} is not a directory`);
  mkdirSync(to, { mode: 0o700 });
  dirs.push([to, rootStats]);
  while (stack.length > 0) {
    const [source, target] = stack.pop() as [string, string];
    for (const name of readdirSync(source)) {
      const src = path.join(source, name);
      const dst = path.join(target, name);
      const stats = lstatSync(src, { bigint: true });
      if (stats.isDirectory()) {
        mkdirSync(dst, { mode: 0o700 });
        dirs.push([dst, stats]);
        stack.push([src, dst]);
      } else if (stats.isSymbolicLink()) {
        symlinkSync(readlinkSync(src), dst);
        copyOwnerAndMode(dst, stats, true);
        copyTimes(dst, stats);
      } else if (stats.isFile()) {
        const first = stats.nlink > 1n ? linked.get(stats.ino) : undefined;
        if (first !== undefined) {
          linkSync(first, dst);
          continue;
        }
        copyFileSync(src, dst, fsConstants.COPYFILE_FICLONE);
        copyOwnerAndMode(dst, stats, false);
        copyTimes(dst, stats);
        if (stats.nlink > 1n) linked.set(stats.ino, dst);
      } else {
        throw new EngineError(
          'INTERNAL',
          `copyPlainTree: ${src} is not a directory, file or symlink (use copyTree)`,
        );
      }
      if (++sinceYield >= PLAIN_COPY_YIELD_EVERY) {
        sinceYield = 0;
        await yieldToLoop();
      }
    }
  }
  // Directories last, deepest first: creating their entries changed their times.
  for (const [dir, stats] of dirs.reverse()) {
    copyOwnerAndMode(dir, stats, false);
    copyTimes(dir, stats);
  }
}

/**
 * Marks `dir` as the top of unrelated hierarchies for ext2/3/4's Orlov
 * allocator (`chattr +T`), so each folder made in it starts in a block group
 * of its own instead of its parent's. It matters here: on ext4 without a
 * journal the inode allocator skips every recently freed inode of a group
 * one by one, so in a group where volumes were just deleted each new inode
 * costs up to a millisecond, and a 300-entry rootfs copy 150-300 ms instead
 * of 5 ms. A hint only: other filesystems refuse it, which is fine.
 */
export async function markTopOfHierarchies(dir: string): Promise<void> {
  await runCommand('chattr', ['+T', '--', dir], { timeoutMs: 10_000, allowFailure: true }).catch(
    () => undefined,
  );
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
