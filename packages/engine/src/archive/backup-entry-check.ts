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
import { EngineError } from '../errors.ts';
import {
  ArchiveEntryChecker,
  normalizeEntryPath,
  type ArchiveEntry,
  type EntryKind,
} from './image-entry-check.ts';

export interface CheckedBackupEntry {
  /** Normalised archive path. */
  path: string;
  kind: EntryKind;
  /** `container` or `snapshots/<name>`; null for `backup/`, `backup/index.yaml`, `backup/snapshots/`. */
  tree: string | null;
  /** The path inside its tree (`rootfs/etc`, `backup.yaml`), or the archive path. */
  inner: string;
}

/** The backup's own description, read by the import. */
export const BACKUP_INDEX_PATH = 'backup/index.yaml';
/** The older per-instance description (LXD before index.yaml carried the config). */
export const BACKUP_YAML_PATH = 'backup/container/backup.yaml';

const TREE_FILES = new Set(['backup.yaml', 'metadata.yaml']);

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
function treeOf(path: string): { tree: string; inner: string } | null {
  const parts = path.split('/');
  if (parts[0] !== 'backup') return null;
  if (parts[1] === 'container' && parts.length > 2)
    return { tree: 'container', inner: parts.slice(2).join('/') };
  if (parts[1] === 'snapshots' && parts.length > 3)
    return { tree: `snapshots/${parts[2]}`, inner: parts.slice(3).join('/') };
  return null;
}

/** Checks the entries of one backup archive in order. */
export class BackupEntryChecker {
  readonly #trees = new Map<string, ArchiveEntryChecker>();
  readonly #rootfsTrees = new Set<string>();
  readonly #top = new Map<string, EntryKind>();

  /** Trees (`container`, `snapshots/<name>`) that have a `rootfs/`. */
  get rootfsTrees(): ReadonlySet<string> {
    return this.#rootfsTrees;
  }

  check(entry: ArchiveEntry): CheckedBackupEntry {
    let path: string;
    try {
      path = normalizeEntryPath(entry.path);
    } catch (error) {
      throw rewrap(error, entry.path, null);
    }
    const split = treeOf(path);
    if (split === null) return this.#checkTop(entry, path);

    const { tree, inner } = split;
    const prefix = `backup/${tree}/`;
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
      const checked = checker.check({ path: mapped, type: entry.type, linkpath });
      if (checked.section === 'rootfs') this.#rootfsTrees.add(tree);
      return { path, kind: checked.kind, tree, inner };
    } catch (error) {
      throw rewrap(error, entry.path, prefix);
    }
  }

  /** `backup/`, `backup/index.yaml`, `backup/container/`, `backup/snapshots/`, `backup/snapshots/<name>/`. */
  #checkTop(entry: ArchiveEntry, path: string): CheckedBackupEntry {
    const kind = entry.type === 'Directory' ? 'directory' : entry.type === 'File' ? 'file' : null;
    const isDirSlot =
      path === '' ||
      path === 'backup' ||
      path === 'backup/container' ||
      path === 'backup/snapshots' ||
      /^backup\/snapshots\/[^/]+$/.test(path);
    if (path === BACKUP_INDEX_PATH) {
      if (kind !== 'file') throw refuseEntry(entry.path, 'must be a regular file');
    } else if (isDirSlot) {
      if (kind !== 'directory') throw refuseEntry(entry.path, 'must be a directory');
    } else {
      throw refuseEntry(
        entry.path,
        'only backup/index.yaml, backup/container/ and backup/snapshots/ may be in a backup',
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
