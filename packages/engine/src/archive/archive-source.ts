// Where an archive to import comes from: a file path, or a byte stream (an
// HTTP upload). Image and backup imports read either the same way.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { EngineError } from '../errors.ts';

export type ArchiveSource = string | Readable | AsyncIterable<Uint8Array>;

/**
 * The source's bytes as Buffers, and its size when it is a file (0 for a
 * stream, whose size is unknown: no percentage then). Reading stops at the
 * next chunk once `signal` aborts. `field` names the source in errors.
 */
export async function openArchiveSource(
  source: ArchiveSource,
  field: string,
  signal: AbortSignal,
): Promise<{ chunks: AsyncIterable<Buffer>; total: number }> {
  const total =
    typeof source === 'string'
      ? (
          await stat(source).catch(() => {
            throw EngineError.invalid(field, `cannot read ${source}`);
          })
        ).size
      : 0;
  const input: AsyncIterable<Uint8Array> =
    typeof source === 'string' ? createReadStream(source, { highWaterMark: 1024 * 1024 }) : source;
  return { chunks: buffersOf(input, signal), total };
}

async function* buffersOf(input: AsyncIterable<Uint8Array>, signal: AbortSignal) {
  for await (const raw of input) {
    signal.throwIfAborted();
    yield Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
  }
}

/** A stream the import stopped reading is destroyed, so that an upload ends too. */
export function abandonArchiveSource(source: ArchiveSource): void {
  if (typeof source !== 'string' && 'destroy' in source && typeof source.destroy === 'function')
    source.destroy();
}
