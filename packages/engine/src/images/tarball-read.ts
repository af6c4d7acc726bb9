// Reading an image tarball once in Node (sha256, a private copy, the entry
// checks and metadata.yaml) and unpacking a checked one into the image
// directory. Plain and gzip archives are scanned as they stream in; xz,
// bzip2 and zstd ones after the host tool decompressed the copy.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';
import type { Progress } from '../operations/progress.ts';
import {
  abandonArchiveSource,
  openArchiveSource,
  type ArchiveSource,
} from '../archive/archive-source.ts';
import { ArchiveScanner, type ArchiveScan } from '../archive/image-scan.ts';
import { detectCompression, type Compression } from '../archive/compression.ts';
import { exists } from './image-context.ts';
import { extractTarball, type ImageFiles } from './image-files.ts';
import { inspectImageDisk } from './vm-disk.ts';

/** A tarball to import: a file path or a byte stream (an HTTP upload). */
export type TarballSource = ArchiveSource;

export interface ReadTarball {
  fingerprint: string;
  size: number;
  /** The tarball's bytes on disk: the copy in the work directory, or the source when it is ours. */
  path: string;
  scan: ArchiveScan;
}

const decompressors: Record<Exclude<Compression, 'none' | 'gzip'>, { cmd: string; ext: string }> = {
  xz: { cmd: 'xz', ext: '.xz' },
  bzip2: { cmd: 'bzip2', ext: '.bz2' },
  zstd: { cmd: 'zstd', ext: '.zst' },
};

/**
 * One pass over the source: sha256, a copy in `work` (unless the file is
 * ours already), and the entry checks for plain/gzip archives. Other
 * compressions are checked after the host tool decompressed the copy.
 */
export async function readTarball(
  source: TarballSource,
  work: string,
  owned: boolean,
  progress: Progress,
  signal: AbortSignal,
): Promise<ReadTarball> {
  const copyPath = owned && typeof source === 'string' ? source : path.join(work, 'image');
  const { chunks, total } = await openArchiveSource(source, 'tarball', signal);
  const out = copyPath === source ? null : await open(copyPath, 'wx', 0o600);
  const hash = createHash('sha256');
  let scanner: ArchiveScanner | null = null;
  let compression: Compression | null | undefined;
  let head = Buffer.alloc(0);
  let size = 0;
  try {
    for await (const chunk of chunks) {
      hash.update(chunk);
      if (out) await out.write(chunk);
      size += chunk.length;
      if (compression === undefined) {
        head = Buffer.concat([head, chunk]);
        if (head.length < 512) continue;
        compression = compressionOf(head);
        if (compression === 'gzip' || compression === 'none') {
          scanner = new ArchiveScanner();
          scanner.write(head);
        }
      } else {
        scanner?.write(chunk);
      }
      if (total) await progress((size / total) * (scanner ? 100 : 60), 'Reading image');
    }
    if (compression === undefined) {
      compression = compressionOf(head);
      if (compression === 'gzip' || compression === 'none') {
        scanner = new ArchiveScanner();
        scanner.write(head);
      }
    }
  } catch (error) {
    abandonArchiveSource(source);
    throw error;
  } finally {
    await out?.close();
  }
  if (size === 0) throw EngineError.invalid('tarball', 'the image file is empty');

  let scan: ArchiveScan;
  if (scanner) {
    scan = await scanner.end();
  } else {
    await progress(60, 'Decompressing image');
    scan = await scanCompressed(copyPath, compression as keyof typeof decompressors, work, signal);
  }
  return { fingerprint: hash.digest('hex'), size, path: copyPath, scan };
}

function compressionOf(head: Buffer): Compression {
  const compression = detectCompression(head);
  if (!compression)
    throw EngineError.invalid(
      'tarball',
      'not an image tarball (expected tar, tar.gz, tar.xz, tar.bz2 or tar.zst)',
    );
  return compression;
}

/** xz/bzip2/zstd: the host tool decompresses a link to the copy, node-tar reads the result. */
async function scanCompressed(
  file: string,
  compression: keyof typeof decompressors,
  work: string,
  signal: AbortSignal,
): Promise<ArchiveScan> {
  const { cmd, ext } = decompressors[compression];
  const plain = path.join(work, 'scan.tar');
  await link(file, `${plain}${ext}`);
  try {
    await runCommand(cmd, ['-d', '-k', '-q', `${plain}${ext}`], {
      timeoutMs: 60 * 60_000,
      signal,
    }).catch((error: unknown) => {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `Image tarball is corrupt: ${cmd} could not decompress it: ${(error as Error).message.split('\n').pop() ?? ''}`,
        { field: 'tarball', cause: error },
      );
    });
    const scanner = new ArchiveScanner();
    for await (const chunk of createReadStream(plain, { highWaterMark: 1024 * 1024 })) {
      signal.throwIfAborted();
      scanner.write(chunk as Buffer);
    }
    return await scanner.end();
  } finally {
    await rm(`${plain}${ext}`, { force: true });
    await rm(plain, { force: true });
  }
}

/**
 * Extracts `tarball` in `work`, then renames its parts into place. A VM
 * image's `rootfs.img` and `boot/` go into `<fp>.rootfs/`, the layout a VM's
 * volume has (drivers/qemu/qemu-paths.ts), after its disk was checked.
 */
export async function unpackInto(
  files: ImageFiles,
  fingerprint: string,
  tarball: string,
  work: string,
  signal: AbortSignal,
): Promise<void> {
  const into = path.join(work, 'unpacked');
  await rm(into, { recursive: true, force: true });
  await mkdir(into, { mode: 0o700 });
  await extractTarball(tarball, into, signal);
  // A crash may have left parts of an earlier unpack: replace them.
  await rm(files.rootfs(fingerprint), { recursive: true, force: true });
  await rm(files.templates(fingerprint), { recursive: true, force: true });
  if (await exists(path.join(into, 'rootfs'))) {
    await rename(path.join(into, 'rootfs'), files.rootfs(fingerprint));
  } else {
    await inspectImageDisk(path.join(into, 'rootfs.img'), signal);
    const disk = path.join(into, 'disk');
    await mkdir(disk, { mode: 0o755 });
    await rename(path.join(into, 'rootfs.img'), path.join(disk, 'rootfs.img'));
    if (await exists(path.join(into, 'boot')))
      await rename(path.join(into, 'boot'), path.join(disk, 'boot'));
    await rename(disk, files.rootfs(fingerprint));
  }
  await rename(path.join(into, 'metadata.yaml'), files.metadata(fingerprint));
  if (await exists(path.join(into, 'templates')))
    await rename(path.join(into, 'templates'), files.templates(fingerprint));
}
