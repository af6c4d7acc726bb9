// Reads a backup tarball once, in Node, before the host's tar touches it
// (as images/archive-scan.ts does for images): every entry goes through
// BackupEntryChecker, `backup/index.yaml` (and an old-style
// `backup/container/backup.yaml`) is kept, and a corrupt or truncated
// archive is refused naming the entry. node-tar reads plain and gzip
// archives; Berth writes those two (LXD's default is gzip too).
import { Parser } from 'tar';
import { EngineError } from '../errors.ts';
import { detectCompression, type Compression } from '../images/archive-scan.ts';
import { BackupEntryChecker } from './backup-entry-check.ts';
import { BACKUP_YAML_PATH, INDEX_PATH } from './backup-index.ts';

export interface BackupScan {
  entries: number;
  indexYaml: string;
  backupYaml: string | null;
  /** `container`, `snapshots/<name>`: the trees that carry a rootfs/. */
  rootfsTrees: Set<string>;
}

const MAX_YAML_BYTES = 1024 * 1024;

function invalid(message: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', message, { field: 'tarball' });
}

/** gzip or plain tar from the first bytes; anything else is refused. */
export function backupCompressionOf(head: Buffer): Compression {
  const compression = detectCompression(head);
  if (compression === null)
    throw invalid('Not a backup tarball (expected a tar or tar.gz archive)');
  if (compression !== 'gzip' && compression !== 'none')
    throw invalid(
      `Backup tarballs compressed with ${compression} are not supported (use gzip or none)`,
    );
  return compression;
}

/** Feed it the archive's bytes with `write`, then `end`. */
export class BackupScanner {
  readonly #parser: Parser;
  readonly #checker = new BackupEntryChecker();
  readonly #done: Promise<void>;
  #error: EngineError | null = null;
  #captured = new Map<string, Buffer[]>();
  #capturedBytes = new Map<string, number>();
  #lastEntry: string | null = null;
  #entries = 0;

  constructor() {
    this.#parser = new Parser({ strict: true });
    this.#done = new Promise<void>((resolve) => {
      this.#parser.on('end', () => resolve());
      this.#parser.on('error', (error: Error) => {
        this.#fail(this.#describe(error));
        resolve();
      });
    });
    this.#parser.on('ignoredEntry', (entry: { path: string; type: string; resume(): void }) => {
      this.#fail(
        invalid(
          `Backup tarball entry "${entry.path}": entry type ${entry.type} is not supported (or its header is too large)`,
        ),
      );
      entry.resume();
    });
    this.#parser.on('entry', (entry) => {
      this.#lastEntry = entry.path;
      if (this.#error) {
        entry.resume();
        return;
      }
      try {
        const checked = this.#checker.check({
          path: entry.path,
          type: entry.type,
          linkpath: entry.linkpath,
        });
        this.#entries++;
        if (checked.path === INDEX_PATH || checked.path === BACKUP_YAML_PATH) {
          const key = checked.path;
          this.#captured.set(key, []);
          this.#capturedBytes.set(key, 0);
          entry.on('data', (chunk: Buffer) => {
            const bytes = (this.#capturedBytes.get(key) ?? 0) + chunk.length;
            this.#capturedBytes.set(key, bytes);
            if (bytes > MAX_YAML_BYTES)
              this.#fail(invalid(`Backup tarball entry "${key}": larger than 1 MiB`));
            else this.#captured.get(key)?.push(chunk);
          });
          return;
        }
      } catch (error) {
        this.#fail(error instanceof EngineError ? error : invalid(String(error)));
      }
      entry.resume();
    });
  }

  #describe(error: Error): EngineError {
    const where = this.#lastEntry === null ? 'at its start' : `at entry "${this.#lastEntry}"`;
    const text = error.message.replace(/^TAR_\w+: /, '');
    const reason = /unexpected end of file|Truncated input/i.test(error.message)
      ? `truncated (${text})`
      : text;
    return invalid(`Backup tarball is corrupt ${where}: ${reason}`);
  }

  #fail(error: EngineError): void {
    this.#error ??= error;
  }

  /** Throws the first problem found so far, so a caller can stop reading. */
  write(chunk: Buffer): void {
    if (this.#error) throw this.#error;
    this.#parser.write(chunk);
    if (this.#error) throw this.#error;
  }

  async end(): Promise<BackupScan> {
    if (this.#error) throw this.#error;
    this.#parser.end();
    await this.#done;
    if (this.#error) throw this.#error;
    const index = this.#captured.get(INDEX_PATH);
    if (!index) throw invalid(`Backup tarball has no ${INDEX_PATH}`);
    const backupYaml = this.#captured.get(BACKUP_YAML_PATH);
    return {
      entries: this.#entries,
      indexYaml: Buffer.concat(index).toString('utf8'),
      backupYaml: backupYaml ? Buffer.concat(backupYaml).toString('utf8') : null,
      rootfsTrees: new Set(this.#checker.rootfsTrees),
    };
  }
}
