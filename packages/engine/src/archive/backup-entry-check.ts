// Path safety for backup tarballs, entry by entry, before anything is
// written: the image archive rules (image-entry-check.ts) applied
// to each root filesystem a backup carries. A backup holds
//   backup/index.yaml
//   backup/container/{backup.yaml,metadata.yaml,rootfs/…,templates/…}
//   backup/snapshots/<name>/{backup.yaml,metadata.yaml,rootfs/…,templates/…}
// and each of those trees is one image-shaped archive to its own checker:
// `backup/container/rootfs/etc` is checked as `rootfs/etc`, so absolute
// paths, `..`, paths through symlinks, links climbing out of rootfs/ and
// non-file metadata are refused by the same code that guards image imports.
// Hard links must stay inside their tree.
//
// A virtual machine's backup is LXD's block-volume layout
// (lxd/storage/drivers/generic_vfs.go, genericVFSBackupVolume):
//   backup/virtual-machine.img                    the disk
//   backup/virtual-machine/{backup.yaml,…}        its config volume
//   backup/virtual-machine-snapshots/<name>.img   each snapshot's disk
//   backup/virtual-machine-snapshots/<name>/…     and its config volume
// The disks must be regular files (QEMU reads them; the import checks what
// they hold). Berth keeps a direct-kernel-boot VM's boot files in the
// config volume's `boot/` (plain files) and a UEFI VM's variable store in
// `qemu.nvram`, which the import takes (backups/backup-import-vm.ts); what
// else LXD keeps there (the agent's certificates, `config/`) may only be
// plain files and directories, and the import leaves it out.
import { EngineError } from '../errors.ts';
import {
  ArchiveEntryChecker,
  checkSpecialBits,
  normalizeEntryPath,
  type ArchiveEntry,
  type EntryKind,
} from './image-entry-check.ts';

export interface CheckedBackupEntry {
  /** Normalised archive path. */
  path: string;
  kind: EntryKind;
  /**
   * `container`, `snapshots/<name>`, `virtual-machine` or
   * `virtual-machine-snapshots/<name>`; null for the top entries (`backup/`,
   * `backup/index.yaml`, the disks, the snapshot folders).
   */
  tree: string | null;
  /** The path inside its tree (`rootfs/etc`, `backup.yaml`), or the archive path. */
  inner: string;
}

/** The backup's own description, read by the import. */
export const BACKUP_INDEX_PATH = 'backup/index.yaml';
/** The older per-instance description (LXD before index.yaml carried the config). */
export const BACKUP_YAML_PATH = 'backup/container/backup.yaml';
/** The same for a virtual machine, in its config volume. */
export const VM_BACKUP_YAML_PATH = 'backup/virtual-machine/backup.yaml';
/** The VM's disk (a snapshot's is `backup/virtual-machine-snapshots/<name>.img`). */
export const VM_DISK_PATH = 'backup/virtual-machine.img';

/** Where a VM backup keeps the disk of `tree` (`virtual-machine`, `virtual-machine-snapshots/<name>`). */
export function vmDiskPath(tree: string): string {
  return `backup/${tree}.img`;
}

const TREE_FILES = new Set(['backup.yaml', 'metadata.yaml']);

const BACKUP_WHERE = { label: 'Backup tarball', field: 'tarball' };

export function refuseEntry(path: string, reason: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', `Backup tarball entry "${path}": ${reason}`, {
    field: 'tarball',
  });
}

/**
 * The image checker names the path it was given (`rootfs/etc`); say the
 * backup's (`backup/container/rootfs/etc`) and keep the reason.
 */
function rewrap(error: unknown, entryPath: string, treePrefix: string | null): EngineError {
  if (!(error instanceof EngineError)) return refuseEntry(entryPath, String(error));
  const match = /^Image tarball entry "(?:[^"\\]|\\.)*": ([\s\S]*)$/.exec(error.message);
  let reason = match?.[1] ?? error.message;
  if (treePrefix) reason = reason.replace(/"(rootfs|templates)(?=[/"])/g, `"${treePrefix}$1`);
  return refuseEntry(entryPath, reason);
}

/** Splits a normalised path into its tree and the path inside it. */
function treeOf(path: string): { tree: string; inner: string; vm: boolean } | null {
  const parts = path.split('/');
  if (parts[0] !== 'backup') return null;
  if (parts[1] === 'container' && parts.length > 2)
    return { tree: 'container', inner: parts.slice(2).join('/'), vm: false };
  if (parts[1] === 'snapshots' && parts.length > 3)
    return { tree: `snapshots/${parts[2]}`, inner: parts.slice(3).join('/'), vm: false };
  if (parts[1] === 'virtual-machine' && parts.length > 2)
    return { tree: 'virtual-machine', inner: parts.slice(2).join('/'), vm: true };
  if (parts[1] === 'virtual-machine-snapshots' && parts.length > 3)
    return {
      tree: `virtual-machine-snapshots/${parts[2]}`,
      inner: parts.slice(3).join('/'),
      vm: true,
    };
  return null;
}

const VM_SNAPSHOT_SLOT = /^backup\/virtual-machine-snapshots\/([^/]+)$/;

/**
 * One VM config volume: only regular files and directories (nothing in it
 * can point elsewhere), `boot/` holding plain files only, and no entry
 * below one declared as a file.
 */
class VmTreeChecker {
  readonly #seen = new Map<string, EntryKind>();

  check(entry: ArchiveEntry, inner: string, prefix: string): EntryKind {
    const kind = entry.type === 'Directory' ? 'directory' : entry.type === 'File' ? 'file' : null;
    const parts = inner.split('/');
    if (inner === 'backup.yaml' || inner === 'metadata.yaml') {
      if (kind !== 'file') throw refuseEntry(entry.path, 'must be a regular file');
    } else if (inner === 'boot' || inner === 'templates') {
      if (kind !== 'directory') throw refuseEntry(entry.path, 'must be a directory');
    } else if (parts[0] === 'boot') {
      if (kind !== 'file' || parts.length !== 2)
        throw refuseEntry(entry.path, `only regular files are allowed in ${prefix}boot/`);
    } else if (kind === null) {
      throw refuseEntry(
        entry.path,
        `only regular files and directories may be in ${prefix} (a ${entry.type} is not)`,
      );
    }
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const parentKind = this.#seen.get(parent);
      if (parentKind !== undefined && parentKind !== 'directory')
        throw refuseEntry(entry.path, `the parent "${prefix}${parent}" is not a directory`);
    }
    const previous = this.#seen.get(inner);
    if (previous !== undefined && previous !== kind)
      throw refuseEntry(entry.path, `declared twice, first as a ${previous} then as a ${kind}`);
    this.#seen.set(inner, kind as EntryKind);
    return kind as EntryKind;
  }
}

/** Checks the entries of one backup archive in order. */
export class BackupEntryChecker {
  readonly #trees = new Map<string, ArchiveEntryChecker>();
  readonly #vmTrees = new Map<string, VmTreeChecker>();
  readonly #rootfsTrees = new Set<string>();
  readonly #disks = new Set<string>();
  readonly #top = new Map<string, EntryKind>();

  /** Trees (`container`, `snapshots/<name>`) that have a `rootfs/`. */
  get rootfsTrees(): ReadonlySet<string> {
    return this.#rootfsTrees;
  }

  /** VM trees (`virtual-machine`, `virtual-machine-snapshots/<name>`) whose disk is in the archive. */
  get disks(): ReadonlySet<string> {
    return this.#disks;
  }

  check(entry: ArchiveEntry): CheckedBackupEntry {
    let path: string;
    try {
      path = normalizeEntryPath(entry.path);
    } catch (error) {
      throw rewrap(error, entry.path, null);
    }
    const split = treeOf(path);
    // A VM's config volume and the top entries are no root filesystem (a container tree's rootfs/ is checked below).
    if (split === null || split.vm) checkSpecialBits(entry, false, BACKUP_WHERE);
    if (split === null) return this.#checkTop(entry, path);

    const { tree, inner } = split;
    const prefix = `backup/${tree}/`;
    if (split.vm) {
      let checker = this.#vmTrees.get(tree);
      if (!checker) {
        this.#checkTopParents(entry.path, prefix.slice(0, -1));
        checker = new VmTreeChecker();
        this.#vmTrees.set(tree, checker);
      }
      return { path, kind: checker.check(entry, inner, prefix), tree, inner };
    }
    const top = inner.split('/', 1)[0] ?? '';
    let mapped: string;
    if (TREE_FILES.has(inner)) mapped = 'metadata.yaml';
    else if (top === 'rootfs' || top === 'templates') mapped = inner;
    else
      throw refuseEntry(
        entry.path,
        `only backup.yaml, metadata.yaml, rootfs/ and templates/ may be in backup/${tree}/`,
      );
    let linkpath = entry.linkpath;
    if (entry.type === 'Link') {
      const raw = entry.linkpath ?? '';
      let target: string;
      try {
        target = normalizeEntryPath(raw);
      } catch (error) {
        throw rewrap(error, entry.path, null);
      }
      if (!target.startsWith(prefix))
        throw refuseEntry(
          entry.path,
          `the hard link target "${raw}" is outside backup/${tree}/ (another part of the backup)`,
        );
      linkpath = target.slice(prefix.length);
    }
    let checker = this.#trees.get(tree);
    if (!checker) {
      this.#checkTopParents(entry.path, prefix.slice(0, -1));
      checker = new ArchiveEntryChecker();
      // The tree's own folder, as the image root `./`.
      checker.check({ path: '', type: 'Directory' });
      this.#trees.set(tree, checker);
    }
    try {
      const checked = checker.check({ path: mapped, type: entry.type, linkpath, mode: entry.mode });
      if (checked.section === 'rootfs') this.#rootfsTrees.add(tree);
      return { path, kind: checked.kind, tree, inner };
    } catch (error) {
      throw rewrap(error, entry.path, prefix);
    }
  }

  /**
   * `backup/`, `backup/index.yaml`, `backup/container/`, `backup/snapshots/`,
   * `backup/snapshots/<name>/`, and a VM's: `backup/virtual-machine/`,
   * `backup/virtual-machine-snapshots/` and `…/<name>/`, and the disks.
   */
  #checkTop(entry: ArchiveEntry, path: string): CheckedBackupEntry {
    const kind = entry.type === 'Directory' ? 'directory' : entry.type === 'File' ? 'file' : null;
    const isDirSlot =
      path === '' ||
      path === 'backup' ||
      path === 'backup/container' ||
      path === 'backup/snapshots' ||
      /^backup\/snapshots\/[^/]+$/.test(path) ||
      path === 'backup/virtual-machine' ||
      path === 'backup/virtual-machine-snapshots';
    // `…-snapshots/x.img` is snapshot x's disk or snapshot "x.img"'s folder: its type says which.
    const snapshotSlot = VM_SNAPSHOT_SLOT.exec(path);
    if (path === BACKUP_INDEX_PATH) {
      if (kind !== 'file') throw refuseEntry(entry.path, 'must be a regular file');
    } else if (path === VM_DISK_PATH) {
      if (kind !== 'file') throw refuseEntry(entry.path, 'the disk must be a regular file');
      this.#disks.add('virtual-machine');
    } else if (snapshotSlot && kind === 'file' && path.endsWith('.img')) {
      this.#disks.add(path.slice('backup/'.length, -'.img'.length));
    } else if (isDirSlot || snapshotSlot) {
      if (kind !== 'directory')
        throw refuseEntry(
          entry.path,
          snapshotSlot && path.endsWith('.img')
            ? 'a snapshot disk must be a regular file'
            : 'must be a directory',
        );
    } else {
      throw refuseEntry(
        entry.path,
        'only backup/index.yaml, backup/container/ and backup/snapshots/ (a virtual machine: backup/virtual-machine.img, backup/virtual-machine/ and backup/virtual-machine-snapshots/) may be in a backup',
      );
    }
    const previous = this.#top.get(path);
    if (previous !== undefined && previous !== kind)
      throw refuseEntry(entry.path, `declared twice, first as a ${previous} then as a ${kind}`);
    this.#top.set(path, kind);
    return { path, kind, tree: null, inner: path };
  }

  /** A tree's parents may only have been declared as directories (never as files). */
  #checkTopParents(raw: string, treeDir: string): void {
    const parts = treeDir.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const kind = this.#top.get(parent);
      if (kind !== undefined && kind !== 'directory')
        throw refuseEntry(raw, `the parent "${parent}" is not a directory`);
    }
  }
}
