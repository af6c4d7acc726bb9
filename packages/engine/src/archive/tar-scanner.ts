// Reads a tarball once, in Node, before the host's tar touches it: every
// entry goes through a layout's checker (image or backup), the few small
// files the engine reads itself (metadata.yaml, index.yaml) are kept, and a
// corrupt or truncated archive is refused naming the entry. One scanner for
// images and backups, so a hardening of one guards both.
import { Parser } from 'tar';
import { EngineError } from '../errors.ts';
import type { ArchiveEntry } from './image-entry-check.ts';

/** What the engine keeps of one tarball file it reads itself. */
const MAX_CAPTURED_BYTES = 1024 * 1024;

/** The rules of one kind of tarball. */
export interface ArchiveLayout {
  /** `Image`, `Backup`: how messages name the tarball. */
  readonly label: string;
  /**
   * Throws (an EngineError naming the entry) when the entry is refused;
   * returns the normalised path and whether its content is kept.
   */
  check(entry: ArchiveEntry): { path: string; capture: boolean };
}

export function invalidTarball(message: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', message, { field: 'tarball' });
}

/** Feed it the archive's bytes (plain or gzip) with `write`, then `end`. */
export class TarScanner {
  readonly #parser: Parser;
  readonly #layout: ArchiveLayout;
  readonly #done: Promise<void>;
  readonly #captured = new Map<string, Buffer[]>();
  #error: EngineError | null = null;
  #lastEntry: string | null = null;
  #entries = 0;

  constructor(layout: ArchiveLayout) {
    this.#layout = layout;
    this.#parser = new Parser({ strict: true });
    this.#done = new Promise<void>((resolve) => {
      this.#parser.on('end', () => resolve());
      this.#parser.on('error', (error: Error) => {
        this.#fail(this.#describe(error));
        resolve();
      });
    });
    // Entries node-tar would skip (unknown types, oversized pax headers)
    // might mean something to GNU tar: refuse them rather than guess.
    this.#parser.on('ignoredEntry', (entry: { path: string; type: string; resume(): void }) => {
      this.#fail(
        invalidTarball(
          `${layout.label} tarball entry "${entry.path}": entry type ${entry.type} is not supported (or its header is too large)`,
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
        const checked = layout.check({
          path: entry.path,
          type: entry.type,
          linkpath: entry.linkpath,
        });
        this.#entries++;
        if (checked.capture) {
          // A file declared twice: the later copy is the one tar leaves behind.
          const chunks: Buffer[] = [];
          this.#captured.set(checked.path, chunks);
          let bytes = 0;
          entry.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > MAX_CAPTURED_BYTES)
              this.#fail(
                invalidTarball(
                  `${layout.label} tarball entry "${checked.path}": larger than 1 MiB`,
                ),
              );
            else chunks.push(chunk);
          });
          return;
        }
      } catch (error) {
        this.#fail(error instanceof EngineError ? error : invalidTarball(String(error)));
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
    return invalidTarball(`${this.#layout.label} tarball is corrupt ${where}: ${reason}`);
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

  /**
   * Reads to the end; throws the first problem. `captured` holds the kept
   * files by normalised path; `entries` counts entries other than pax and
   * long-name headers.
   */
  async end(): Promise<{ entries: number; captured: ReadonlyMap<string, string> }> {
    if (this.#error) throw this.#error;
    this.#parser.end();
    await this.#done;
    if (this.#error) throw this.#error;
    const captured = new Map<string, string>();
    for (const [path, chunks] of this.#captured)
      captured.set(path, Buffer.concat(chunks).toString('utf8'));
    return { entries: this.#entries, captured };
  }
}
