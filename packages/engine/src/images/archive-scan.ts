// Reads an image tarball once, in Node, before the host's tar touches it:
// every entry goes through ArchiveEntryChecker, `metadata.yaml` is kept, and
// a corrupt or truncated archive is refused naming the entry. node-tar reads
// plain and gzip archives itself; xz/bzip2/zstd are decompressed by the host
// tool first (see detectCompression).
import { Parser } from 'tar';
import { EngineError } from '../errors.ts';
import { ArchiveEntryChecker } from './archive-entry-check.ts';

export type Compression = 'none' | 'gzip' | 'xz' | 'bzip2' | 'zstd';

/** From the first bytes of the file; null when it is no archive we know. */
export function detectCompression(head: Buffer): Compression | null {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (
    head.length >= 6 &&
    head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))
  )
    return 'xz';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'none';
  return null;
}

export interface ArchiveScan {
  /** Entries other than pax/long-name headers. */
  entries: number;
  metadataYaml: string;
  hasTemplates: boolean;
  hasRootfs: boolean;
  /** Template file names found under templates/. */
  templateFiles: string[];
}

const MAX_METADATA_BYTES = 1024 * 1024;

function invalid(message: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', message, { field: 'tarball' });
}

/** Feed it the archive's bytes (plain or gzip) with `write`, then `end`. */
export class ArchiveScanner {
  readonly #parser: Parser;
  readonly #checker = new ArchiveEntryChecker();
  readonly #done: Promise<void>;
  readonly #templateFiles: string[] = [];
  #error: EngineError | null = null;
  #metadata: Buffer[] | null = null;
  #metadataBytes = 0;
  #lastEntry: string | null = null;
  #entries = 0;
  #hasTemplates = false;
  #hasRootfs = false;

  constructor() {
    this.#parser = new Parser({ strict: true });
    this.#done = new Promise<void>((resolve) => {
      this.#parser.on('end', () => resolve());
      this.#parser.on('error', (error: Error & { code?: string }) => {
        this.#fail(this.#describe(error));
        resolve();
      });
    });
    // Entries node-tar would skip (unknown types, oversized pax headers)
    // might mean something to GNU tar: refuse them rather than guess.
    this.#parser.on('ignoredEntry', (entry: { path: string; type: string; resume(): void }) => {
      this.#fail(
        invalid(
          `Image tarball entry "${entry.path}": entry type ${entry.type} is not supported (or its header is too large)`,
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
        if (checked.section === 'rootfs') this.#hasRootfs = true;
        if (checked.section === 'templates') {
          this.#hasTemplates = true;
          if (checked.kind === 'file')
            this.#templateFiles.push(checked.path.slice('templates/'.length));
        }
        if (checked.section === 'metadata') {
          this.#metadata = [];
          this.#metadataBytes = 0;
          entry.on('data', (chunk: Buffer) => {
            this.#metadataBytes += chunk.length;
            if (this.#metadataBytes > MAX_METADATA_BYTES)
              this.#fail(invalid('Image tarball entry "metadata.yaml": larger than 1 MiB'));
            else this.#metadata?.push(chunk);
          });
          return;
        }
      } catch (error) {
        this.#fail(error instanceof EngineError ? error : invalid(String(error)));
      }
      entry.resume();
    });
  }

  #describe(error: Error & { code?: string; tarCode?: string }): EngineError {
    const where = this.#lastEntry === null ? 'at its start' : `at entry "${this.#lastEntry}"`;
    const reason = /unexpected end of file|Truncated input/i.test(error.message)
      ? `truncated (${error.message.replace(/^TAR_\w+: /, '')})`
      : error.message.replace(/^TAR_\w+: /, '');
    return invalid(`Image tarball is corrupt ${where}: ${reason}`);
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

  async end(): Promise<ArchiveScan> {
    if (this.#error) throw this.#error;
    this.#parser.end();
    await this.#done;
    if (this.#error) throw this.#error;
    if (this.#metadata === null) throw invalid('Image tarball has no metadata.yaml');
    if (!this.#hasRootfs)
      throw invalid('Image tarball has no rootfs/ (split images are not supported)');
    return {
      entries: this.#entries,
      metadataYaml: Buffer.concat(this.#metadata).toString('utf8'),
      hasTemplates: this.#hasTemplates,
      hasRootfs: true,
      templateFiles: this.#templateFiles,
    };
  }
}
