// Path safety for image tarballs, checked entry by entry before anything is
// written to disk. A unified image holds `metadata.yaml`, `templates/...`
// and either `rootfs/...` (a container's tree) or `rootfs.img` (a VM's disk,
// LXD's name) with, for a VM that boots its kernel directly, Berth's
// `boot/` (vmlinuz, initrd.img, cmdline: plain files). Everything else is
// refused, as are:
// * absolute paths and `..` components;
// * entries that pass through a symlink (or a non-directory) declared
//   earlier in the archive: `rootfs/etc -> /etc` then `rootfs/etc/passwd`;
// * hard links whose target is not an earlier non-directory entry of the
//   same archive (so a link can never name a host file);
// * relative symlinks that climb out of rootfs/ (absolute ones are resolved
//   by the container against its own root, so they stay inside);
// * links, devices and FIFOs outside rootfs/ (metadata, templates, the disk
//   and boot files are read by the engine or QEMU, so they must be plain files);
// * entry types GNU tar would treat differently from us (sparse, multi-volume,
//   dump directories, unknown ones).
//
// The same rules read the two files of a split image (LXD's metadata
// tarball + rootfs file): `metadata` mode takes metadata.yaml and
// templates/ only (the rootfs is the other file), and `rootfs` mode takes
// only rootfs/..., for a squashfs listing put under rootfs/.
import { EngineError } from '../errors.ts';

export type EntryKind = 'file' | 'directory' | 'symlink' | 'hardlink' | 'device' | 'fifo';

/** Which parts of an image the archive may hold (see the header). */
export type ImageArchiveMode = 'unified' | 'metadata' | 'rootfs';

/** How refusals name the archive and the input field: `Image tarball`, `tarball`. */
export interface ArchiveWhere {
  label: string;
  field: string;
}

const UNIFIED_IMAGE: ArchiveWhere = { label: 'Image tarball', field: 'tarball' };

export interface ArchiveEntry {
  /** As stored (after pax/GNU long-name headers were applied). */
  path: string;
  /** node-tar's type names: File, Directory, SymbolicLink, Link, ... */
  type: string;
  linkpath?: string | undefined;
  /** The permission bits as stored (setuid, setgid and sticky included). */
  mode?: number | undefined;
}

export interface CheckedEntry {
  /** Normalised: no `./`, no trailing `/`; `''` for the archive root. */
  path: string;
  kind: EntryKind;
  section: 'root' | 'metadata' | 'rootfs' | 'templates' | 'disk' | 'boot';
}

const kindOfType: Record<string, EntryKind> = {
  File: 'file',
  OldFile: 'file',
  ContiguousFile: 'file',
  Directory: 'directory',
  SymbolicLink: 'symlink',
  Link: 'hardlink',
  CharacterDevice: 'device',
  BlockDevice: 'device',
  FIFO: 'fifo',
  // A squashfs can hold sockets (tar cannot): special files, allowed where FIFOs are.
  Socket: 'fifo',
};

function refuse(path: string, reason: string, where: ArchiveWhere = UNIFIED_IMAGE): EngineError {
  return new EngineError('INVALID_ARGUMENT', `${where.label} entry "${path}": ${reason}`, {
    field: where.field,
  });
}

/**
 * setuid, setgid and sticky bits belong to a root filesystem (an image's
 * /usr/bin/su keeps its bit): on anything else (metadata, templates, a
 * disk, boot files, a config volume) they can only be meant to be found on
 * the host, and are refused.
 */
export function checkSpecialBits(
  entry: ArchiveEntry,
  inRootfs: boolean,
  where: ArchiveWhere = UNIFIED_IMAGE,
): void {
  if (inRootfs || entry.mode === undefined || (entry.mode & 0o7000) === 0) return;
  throw refuse(
    entry.path,
    `setuid, setgid and sticky bits (mode ${(entry.mode & 0o7777).toString(8)}) are only allowed in a root filesystem`,
    where,
  );
}

/** `./a//b/./c/` → `a/b/c`; refuses absolute paths, `..` and NUL. */
export function normalizeEntryPath(raw: string, where: ArchiveWhere = UNIFIED_IMAGE): string {
  if (raw.includes('\0')) throw refuse(raw, 'the path contains a NUL byte', where);
  if (raw.startsWith('/')) throw refuse(raw, 'absolute paths are not allowed', where);
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw refuse(raw, '".." path components are not allowed', where);
    parts.push(part);
  }
  return parts.join('/');
}

/**
 * Where a relative symlink at `linkPath` (inside rootfs/) points, relative
 * to rootfs/; null when it climbs above rootfs/.
 */
export function resolveRelativeLink(linkPath: string, target: string): string | null {
  const parts = linkPath.split('/').slice(1, -1); // drop `rootfs` and the link's own name
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(part);
  }
  return parts.join('/');
}

function sectionOf(path: string): CheckedEntry['section'] | null {
  if (path === '') return 'root';
  if (path === 'metadata.yaml') return 'metadata';
  if (path === 'rootfs.img') return 'disk';
  const top = path.split('/', 1)[0];
  if (top === 'rootfs') return 'rootfs';
  if (top === 'templates') return 'templates';
  if (top === 'boot') return 'boot';
  return null;
}

const ALLOWED: Record<ImageArchiveMode, ReadonlySet<CheckedEntry['section']>> = {
  unified: new Set(['root', 'metadata', 'rootfs', 'templates', 'disk', 'boot']),
  metadata: new Set(['root', 'metadata', 'templates']),
  rootfs: new Set(['rootfs']),
};

const ALLOWED_TEXT: Record<ImageArchiveMode, string> = {
  unified:
    'only metadata.yaml, rootfs/ (or rootfs.img and boot/), and templates/ may be in an image',
  metadata:
    "only metadata.yaml and templates/ may be in a metadata tarball (the rootfs is the split image's other file)",
  rootfs: 'only the rootfs tree may be in a rootfs file',
};

/** Checks the entries of one archive in order; keeps what it has seen. */
export class ArchiveEntryChecker {
  readonly #seen = new Map<string, EntryKind>();
  readonly #mode: ImageArchiveMode;
  readonly #where: ArchiveWhere;

  constructor(options: { mode?: ImageArchiveMode; where?: ArchiveWhere } = {}) {
    this.#mode = options.mode ?? 'unified';
    this.#where = options.where ?? UNIFIED_IMAGE;
  }

  get count(): number {
    return this.#seen.size;
  }

  check(entry: ArchiveEntry): CheckedEntry {
    const path = normalizeEntryPath(entry.path, this.#where);
    const kind = kindOfType[entry.type];
    if (!kind) throw this.#refuse(entry.path, `entry type ${entry.type} is not supported`);
    const section = sectionOf(path);
    if (!section || !ALLOWED[this.#mode].has(section))
      throw this.#refuse(entry.path, ALLOWED_TEXT[this.#mode]);
    if (section === 'root' || path === 'rootfs' || path === 'templates' || path === 'boot') {
      if (kind !== 'directory') throw this.#refuse(entry.path, 'must be a directory');
    } else if ((section === 'metadata' || section === 'disk') && kind !== 'file') {
      throw this.#refuse(entry.path, 'must be a regular file');
    } else if (section === 'templates' && kind !== 'file' && kind !== 'directory') {
      throw this.#refuse(entry.path, 'only files and directories are allowed in templates/');
    } else if (section === 'boot' && kind !== 'file') {
      throw this.#refuse(entry.path, 'only regular files are allowed in boot/');
    }

    this.#checkParents(entry.path, path);
    checkSpecialBits(entry, section === 'rootfs', this.#where);

    if (kind === 'symlink') {
      const target = entry.linkpath ?? '';
      if (target === '' || target.includes('\0'))
        throw this.#refuse(entry.path, 'the symlink has no valid target');
      if (!target.startsWith('/') && resolveRelativeLink(path, target) === null) {
        throw this.#refuse(entry.path, `the symlink target "${target}" escapes rootfs/`);
      }
    } else if (kind === 'hardlink') {
      const raw = entry.linkpath ?? '';
      if (raw.startsWith('/'))
        throw this.#refuse(entry.path, `the hard link target "${raw}" is an absolute path`);
      const target = normalizeEntryPath(raw, this.#where);
      const targetKind = this.#seen.get(target);
      if (targetKind === undefined)
        throw this.#refuse(
          entry.path,
          `the hard link target "${raw}" is not an earlier entry of the archive`,
        );
      if (targetKind === 'directory')
        throw this.#refuse(entry.path, `the hard link target "${raw}" is a directory`);
      if (sectionOf(target) !== section)
        throw this.#refuse(
          entry.path,
          `the hard link target "${raw}" is in another part of the image`,
        );
      this.#checkParents(raw, target);
    }

    const previous = this.#seen.get(path);
    if (
      previous !== undefined &&
      previous !== kind &&
      (previous !== 'file' || kind !== 'hardlink')
    ) {
      throw this.#refuse(entry.path, `declared twice, first as a ${previous} then as a ${kind}`);
    }
    this.#seen.set(
      path,
      kind === 'hardlink'
        ? (this.#seen.get(normalizeEntryPath(entry.linkpath ?? '', this.#where)) ?? 'file')
        : kind,
    );
    return { path, kind, section };
  }

  #refuse(path: string, reason: string): EngineError {
    return refuse(path, reason, this.#where);
  }

  /** No parent of `path` may be a symlink or a non-directory seen earlier. */
  #checkParents(raw: string, path: string): void {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const kind = this.#seen.get(parent);
      if (kind === 'symlink')
        throw this.#refuse(raw, `the path passes through the symlink "${parent}"`);
      if (kind !== undefined && kind !== 'directory')
        throw this.#refuse(raw, `the parent "${parent}" is not a directory`);
    }
  }
}
