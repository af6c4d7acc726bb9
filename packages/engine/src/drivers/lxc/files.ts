// File push/pull/remove on a container's rootfs, from the host, safe against
// a hostile container (running or not). Paths are resolved the way the
// kernel would resolve them with the rootfs as `/` (openat2's
// RESOLVE_IN_ROOT, which Node lacks), one component at a time:
// * every directory is held open as a file descriptor and the next
//   component is looked up *through that descriptor*
//   (`/proc/self/fd/<fd>/<name>`), so renaming or replacing a directory
//   half-way cannot redirect us;
// * `..` is handled by us (a stack of descriptors; at the root it stays at
//   the root), never by the kernel;
// * symlinks are read and expanded by us: absolute targets restart at the
//   rootfs, relative ones continue where they are;
// * the last component is opened with O_NOFOLLOW | O_NONBLOCK and checked
//   with fstat, so a symlink or FIFO swapped in at the last moment is
//   refused instead of followed (or blocking the engine);
// * a push to a file with several names (hard links) replaces that name
//   with a file of its own rather than writing through: another name could
//   be a host file linked into the rootfs.
// Ids are translated through the container's map: a push as container root
// lands as the map's host id (1000000), a pull reports container ids.
//
// Limitation: what a running container mounted inside itself (tmpfs on /run,
// bind-mounted disks) is not visible from the host's view of the rootfs.
import {
  closeSync,
  constants as fsConstants,
  fchmodSync,
  fchownSync,
  fstatSync,
  ftruncateSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { EngineError } from '../../errors.ts';
import type { IdmapSet } from '../../validation/index.ts';
import type { FileEntry, FileStat, FileWrite } from '../driver.ts';

// Node opens every descriptor close-on-exec already.
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = fsConstants;
const MAX_SYMLINKS = 40;
const OVERFLOW_ID = 65534;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

/** Splits a container path into its components (empty and `.` dropped). */
export function splitContainerPath(value: string): string[] {
  if (value.includes('\0')) throw EngineError.invalid('path', 'must not contain a NUL byte');
  return value.split('/').filter((part) => part !== '' && part !== '.');
}

function through(fd: number, name: string): string {
  return `/proc/self/fd/${fd}/${name}`;
}

function fsError(error: unknown, what: string): EngineError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return EngineError.notFound(`${what}`, { field: 'path', cause: error });
  if (code === 'ELOOP')
    return EngineError.invalid('path', `${what}: too many levels of symbolic links`);
  if (code === 'ENOTDIR')
    return EngineError.invalid('path', `${what}: a component is not a directory`);
  if (code === 'EISDIR') return EngineError.invalid('path', `${what} is a directory`);
  // O_NONBLOCK | O_WRONLY on a FIFO without a reader.
  if (code === 'ENXIO') return EngineError.invalid('path', `${what} is not a regular file`);
  if (code === 'ENOTEMPTY' || code === 'EEXIST')
    return new EngineError('CONFLICT', `${what}: directory not empty`, { cause: error });
  if (error instanceof EngineError) return error;
  return new EngineError('INTERNAL', `${what}: ${(error as Error).message}`, { cause: error });
}

interface Resolved {
  /** The directory holding the last component (an open descriptor). */
  parent: number;
  /** The last component; `.` for the rootfs itself. */
  name: string;
  /** lstat of the last component, when it exists. */
  stats: Stats | undefined;
}

export interface ResolveOptions {
  /** Expand a symlink in the last component too (push), or return it (pull, remove). */
  followLast: boolean;
  /** Make missing directories on the way (push with createParents). */
  mkdirParents?: (parent: number, name: string) => void;
}

/**
 * Walks `containerPath` inside the rootfs held open as `rootFd`. The
 * descriptors it opens are pushed onto `opened` for the caller to close.
 */
export function resolveInRoot(
  rootFd: number,
  containerPath: string,
  options: ResolveOptions,
  opened: number[],
): Resolved {
  const queue = splitContainerPath(containerPath);
  const stack = [rootFd];
  let links = 0;
  const top = () => stack[stack.length - 1] as number;
  if (queue.length === 0) return { parent: rootFd, name: '.', stats: fstatSync(rootFd) };

  while (queue.length > 0) {
    const name = queue.shift() as string;
    const last = queue.length === 0;
    if (name === '..') {
      if (stack.length > 1) stack.pop();
      if (last) return { parent: top(), name: '.', stats: fstatSync(top()) };
      continue;
    }
    let stats: Stats | undefined;
    try {
      stats = lstatSync(through(top(), name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (stats === undefined) {
      if (last) return { parent: top(), name, stats: undefined };
      if (!options.mkdirParents)
        throw Object.assign(new Error('missing directory'), { code: 'ENOENT' });
      options.mkdirParents(top(), name);
      stats = lstatSync(through(top(), name));
    }
    if (stats.isSymbolicLink() && (!last || options.followLast)) {
      if (++links > MAX_SYMLINKS) throw Object.assign(new Error('symlink loop'), { code: 'ELOOP' });
      const target = readlinkSync(through(top(), name));
      if (target.startsWith('/')) stack.length = 1;
      queue.unshift(...splitContainerPath(target));
      if (queue.length === 0) return { parent: top(), name: '.', stats: fstatSync(top()) };
      continue;
    }
    if (last) return { parent: top(), name, stats };
    if (!stats.isDirectory())
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    const fd = openSync(through(top(), name), DIR_FLAGS);
    opened.push(fd);
    stack.push(fd);
  }
  throw new EngineError('INTERNAL', 'unreachable');
}

function typeOf(stats: Stats): FileEntry['type'] | undefined {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  return undefined;
}

export class RootfsFiles {
  readonly #rootfs: string;
  readonly #idmap: IdmapSet | null;

  constructor(rootfs: string, idmap: IdmapSet | null) {
    this.#rootfs = rootfs;
    this.#idmap = idmap;
  }

  #hostId(kind: 'uid' | 'gid', id: number): number {
    if (!Number.isSafeInteger(id) || id < 0)
      throw EngineError.invalid(kind, `must be a non-negative integer, got ${id}`);
    if (this.#idmap === null) return id;
    const host = this.#idmap.toHost(kind, id);
    if (host === undefined)
      throw EngineError.invalid(kind, `${kind} ${id} is not mapped in the container`);
    return host;
  }

  #containerId(kind: 'uid' | 'gid', id: number): number {
    if (this.#idmap === null) return id;
    return this.#idmap.toNs(kind, id) ?? OVERFLOW_ID;
  }

  #entry(name: string, stats: Stats, target?: string): FileEntry {
    const entry: FileEntry = {
      name,
      type: typeOf(stats) ?? 'file',
      mode: stats.mode & 0o7777,
      uid: this.#containerId('uid', stats.uid),
      gid: this.#containerId('gid', stats.gid),
      size: stats.size,
    };
    if (target !== undefined) entry.target = target;
    return entry;
  }

  #stat(name: string, stats: Stats, target?: string): FileStat {
    const entry: FileStat = this.#entry(name, stats, target);
    if (typeOf(stats) === undefined) entry.type = 'other';
    return entry;
  }

  #withRoot<T>(work: (rootFd: number, opened: number[]) => T, what: string): T {
    const opened: number[] = [];
    try {
      const rootFd = openSync(this.#rootfs, O_RDONLY | O_DIRECTORY);
      opened.push(rootFd);
      return work(rootFd, opened);
    } catch (error) {
      throw fsError(error, what);
    } finally {
      for (const fd of opened.reverse()) closeSync(fd);
    }
  }

  /** An existing path (ENOENT otherwise), and the name a listing shows for it. */
  #existing(rootFd: number, containerPath: string, followLast: boolean, opened: number[]) {
    const { parent, name, stats } = resolveInRoot(rootFd, containerPath, { followLast }, opened);
    if (stats === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    return { parent, name, stats, shownName: splitContainerPath(containerPath).pop() ?? '/' };
  }

  pull(containerPath: string): { entry: FileEntry; content?: Buffer; entries?: string[] } {
    return this.#withRoot((rootFd, opened) => {
      const { parent, name, stats, shownName } = this.#existing(
        rootFd,
        containerPath,
        false,
        opened,
      );
      if (stats.isSymbolicLink()) {
        return { entry: this.#entry(shownName, stats, readlinkSync(through(parent, name))) };
      }
      const fd = openSync(through(parent, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      opened.push(fd);
      const opened_ = fstatSync(fd);
      if (opened_.isDirectory()) {
        return {
          entry: this.#entry(shownName, opened_),
          entries: readdirSync(`/proc/self/fd/${fd}`).sort(),
        };
      }
      // Device nodes, FIFOs and sockets are never read: a privileged container could point one at the host.
      if (!opened_.isFile())
        throw EngineError.invalid(
          'path',
          `${containerPath} is not a regular file, directory or symlink`,
        );
      return { entry: this.#entry(shownName, opened_), content: readFileSync(fd) };
    }, containerPath);
  }

  /** The path itself, a symlink not followed (as `pull` returns it), nothing opened. */
  stat(containerPath: string): FileStat {
    return this.#withRoot((rootFd, opened) => {
      const { parent, name, stats, shownName } = this.#existing(
        rootFd,
        containerPath,
        false,
        opened,
      );
      const target = stats.isSymbolicLink() ? readlinkSync(through(parent, name)) : undefined;
      return this.#stat(shownName, stats, target);
    }, containerPath);
  }

  /**
   * A directory's entries, sorted by name. `containerPath` is resolved
   * inside the rootfs, its own last symlink included; each entry is lstat'ed
   * through the directory's descriptor, so entries are never followed or opened.
   */
  list(containerPath: string): FileStat[] {
    return this.#withRoot((rootFd, opened) => {
      const { parent, name, stats } = this.#existing(rootFd, containerPath, true, opened);
      if (!stats.isDirectory())
        throw EngineError.invalid('path', `${containerPath} is not a directory`);
      const fd = openSync(through(parent, name), DIR_FLAGS);
      opened.push(fd);
      const entries: FileStat[] = [];
      for (const child of readdirSync(`/proc/self/fd/${fd}`).sort()) {
        let childStats: Stats;
        let target: string | undefined;
        try {
          childStats = lstatSync(through(fd, child));
          if (childStats.isSymbolicLink()) target = readlinkSync(through(fd, child));
        } catch (error) {
          // Removed (or replaced) while we listed: a running container changes its files.
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
          if ((error as NodeJS.ErrnoException).code === 'EINVAL') continue;
          throw error;
        }
        entries.push(this.#stat(child, childStats, target));
      }
      return entries;
    }, containerPath);
  }

  push(containerPath: string, file: FileWrite): void {
    const uid = file.uid === undefined ? undefined : this.#hostId('uid', file.uid);
    const gid = file.gid === undefined ? undefined : this.#hostId('gid', file.gid);
    const rootUid = this.#hostId('uid', 0);
    const rootGid = this.#hostId('gid', 0);
    const mode = file.mode;
    if (mode !== undefined && (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)) {
      throw EngineError.invalid('mode', `must be a permission mode (0-07777), got ${mode}`);
    }
    this.#withRoot((rootFd, opened) => {
      const mkdirParents = file.createParents
        ? (parent: number, name: string) => {
            mkdirSync(through(parent, name), 0o755);
            const fd = openSync(through(parent, name), DIR_FLAGS);
            try {
              fchownSync(fd, rootUid, rootGid);
            } finally {
              closeSync(fd);
            }
          }
        : undefined;
      const type = file.type ?? 'file';
      const resolved = resolveInRoot(
        rootFd,
        containerPath,
        { followLast: type === 'file', ...(mkdirParents ? { mkdirParents } : {}) },
        opened,
      );
      if (resolved.name === '.')
        throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      const existed = resolved.stats !== undefined;
      const at = through(resolved.parent, resolved.name);
      if (type === 'symlink') {
        if (!file.target) throw EngineError.invalid('target', 'a symlink needs a target');
        if (existed) {
          if (!resolved.stats?.isSymbolicLink())
            throw new EngineError('ALREADY_EXISTS', `${containerPath} exists and is not a symlink`);
          unlinkSync(at);
        }
        // The link itself is created here; what it points at is only ever
        // followed by the container (or by resolveInRoot, inside the root).
        symlinkSync(file.target, at);
        lchownSync(at, uid ?? rootUid, gid ?? rootGid);
        return;
      }
      if (type === 'directory') {
        if (!existed) mkdirSync(at, mode ?? 0o755);
        const dirFd = openSync(at, DIR_FLAGS);
        opened.push(dirFd);
        fchownSync(
          dirFd,
          uid ?? (existed ? fstatSync(dirFd).uid : rootUid),
          gid ?? (existed ? fstatSync(dirFd).gid : rootGid),
        );
        fchmodSync(dirFd, mode ?? (existed ? fstatSync(dirFd).mode & 0o7777 : 0o755));
        return;
      }
      const content = file.content ?? Buffer.alloc(0);
      const target = through(resolved.parent, resolved.name);
      let fd = openSync(target, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK, mode ?? 0o644);
      opened.push(fd);
      const stats = fstatSync(fd);
      if (!stats.isFile())
        throw EngineError.invalid('path', `${containerPath} is not a regular file`);
      if (stats.nlink > 1) {
        // One of several names of a file: its other names may be anywhere on
        // this filesystem (a host file linked in), so the name gets a file of
        // its own (owner and mode kept, below) instead of writing through.
        unlinkSync(target);
        fd = openSync(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o600);
        opened.push(fd);
      }
      ftruncateSync(fd, 0);
      let written = 0;
      while (written < content.length) {
        written += writeSync(fd, content, written, content.length - written);
      }
      // A new file belongs to container root unless told otherwise; an existing one keeps its owner.
      fchownSync(
        fd,
        uid ?? (existed ? stats.uid : rootUid),
        gid ?? (existed ? stats.gid : rootGid),
      );
      // After chown, which clears setuid/setgid.
      fchmodSync(fd, mode ?? (existed ? stats.mode & 0o7777 : 0o644));
    }, containerPath);
  }

  remove(containerPath: string): void {
    this.#withRoot((rootFd, opened) => {
      const { parent, name, stats } = this.#existing(rootFd, containerPath, false, opened);
      if (name === '.') throw EngineError.invalid('path', 'cannot remove the root directory');
      if (stats.isDirectory()) rmdirSync(through(parent, name));
      else unlinkSync(through(parent, name));
    }, containerPath);
  }
}
