// A backup tarball read through the one tar scanner with the backup rules
// (backup-entry-check.ts): `backup/index.yaml` (and an old-style
// `backup/container/backup.yaml`, or a virtual machine's
// `backup/virtual-machine/backup.yaml`) kept, and the trees that carry a
// rootfs and the disks listed. Berth writes plain and gzip backups (LXD's
// default is gzip too).
import { detectCompression, type Compression } from './compression.ts';
import {
  BACKUP_INDEX_PATH,
  BACKUP_YAML_PATH,
  BackupEntryChecker,
  VM_BACKUP_YAML_PATH,
} from './backup-entry-check.ts';
import type { ArchiveEntry } from './image-entry-check.ts';
import {
  TarScanner,
  invalidTarball,
  type ArchiveLayout,
  type TarScanOptions,
} from './tar-scanner.ts';

export interface BackupScan {
  entries: number;
  indexYaml: string;
  /** The container's old-style description. */
  backupYaml: string | null;
  /** The virtual machine's, in its config volume. */
  vmBackupYaml: string | null;
  /** `container`, `snapshots/<name>`: the trees that carry a rootfs/. */
  rootfsTrees: Set<string>;
  /** `virtual-machine`, `virtual-machine-snapshots/<name>`: the VM trees whose disk (`.img`) is there. */
  disks: Set<string>;
}

/** gzip or plain tar from the first bytes; anything else is refused. */
export function backupCompressionOf(head: Buffer): Compression {
  const compression = detectCompression(head);
  if (compression === null)
    throw invalidTarball('Not a backup tarball (expected a tar or tar.gz archive)');
  if (compression !== 'gzip' && compression !== 'none')
    throw invalidTarball(
      `Backup tarballs compressed with ${compression} are not supported (use gzip or none)`,
    );
  return compression;
}

class BackupLayout implements ArchiveLayout {
  readonly label = 'Backup';
  readonly checker = new BackupEntryChecker();

  check(entry: ArchiveEntry): { path: string; capture: boolean } {
    const { path } = this.checker.check(entry);
    return {
      path,
      capture:
        path === BACKUP_INDEX_PATH || path === BACKUP_YAML_PATH || path === VM_BACKUP_YAML_PATH,
    };
  }
}

/** Feed it the archive's bytes with `write`, then `end`. */
export class BackupScanner {
  readonly #layout = new BackupLayout();
  readonly #scanner: TarScanner;

  constructor(options: TarScanOptions = {}) {
    this.#scanner = new TarScanner(this.#layout, options);
  }

  /** Throws the first problem found so far, so a caller can stop reading. */
  write(chunk: Buffer): void {
    this.#scanner.write(chunk);
  }

  async end(): Promise<BackupScan> {
    const { entries, captured } = await this.#scanner.end();
    const indexYaml = captured.get(BACKUP_INDEX_PATH);
    if (indexYaml === undefined) throw invalidTarball(`Backup tarball has no ${BACKUP_INDEX_PATH}`);
    return {
      entries,
      indexYaml,
      backupYaml: captured.get(BACKUP_YAML_PATH) ?? null,
      vmBackupYaml: captured.get(VM_BACKUP_YAML_PATH) ?? null,
      rootfsTrees: new Set(this.#layout.checker.rootfsTrees),
      disks: new Set(this.#layout.checker.disks),
    };
  }
}
