// Reads a tarball once, in Node, before the host's tar touches it: every
// entry goes through a layout's checker (image or backup), the few small
// files the engine reads itself (metadata.yaml, index.yaml) are kept, and a
// corrupt or truncated archive is refused naming the entry. One scanner for
// images and backups, so a hardening of one guards both. A budget (the
// space free where the archive is unpacked) refuses an archive whose
// entries add up to more, at the header that passes it: a decompression
// bomb is refused before anything of it is written.
import { statfs } from 'node:fs/promises';
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

export interface TarScanOptions {
  /** At most this many bytes of file contents (the entries' declared sizes, added up). */
  maxBytes?: number;
}

/** What may be unpacked into `dir`: the bytes free to unprivileged writers on its filesystem. */
export async function unpackBudget(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** Bytes as people read them: 1.5 GiB, 300 MiB, 12 KiB. */
export function readableBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${Number(value.toFixed(1))} ${units[unit]}`;
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
  #declaredBytes = 0;
  /** The end-of-archive blocks were read: what follows is nothing tar unpacks. */
  #sawEnd = false;

  constructor(layout: ArchiveLayout, options: TarScanOptions = {}) {
    this.#layout = layout;
    this.#parser = new Parser({ strict: true });
    // node-tar keeps every byte written after the end in one buffer it grows
    // by copying (a stream of zeros after a tiny archive stalls it): such
    // bytes are not given to it.
    this.#parser.on('eof', () => (this.#sawEnd = true));
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
          mode: entry.mode,
        });
        this.#entries++;
        this.#declaredBytes += typeof entry.size === 'number' && entry.size > 0 ? entry.size : 0;
        if (options.maxBytes !== undefined && this.#declaredBytes > options.maxBytes)
          throw invalidTarball(
            `${layout.label} tarball entry "${checked.path}": its contents unpack to more than the ${readableBytes(options.maxBytes)} free where they would go`,
          );
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
    if (this.#sawEnd) return;
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
