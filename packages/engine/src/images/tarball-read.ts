// Reading an image tarball once in Node (sha256, a private copy, the entry
// checks and metadata.yaml) and unpacking a checked one into the image
// directory. Plain and gzip archives are scanned as they stream in; xz,
// bzip2 and zstd ones as the host tool decompresses the copy to a pipe.
// What an archive unpacks to must fit in the space free where it goes. A split
// image's metadata tarball is read the same way (readMetadataTarball), and
// unpacked with its rootfs file.
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import { spawnStreamed } from '../host/command-sidecar.ts';
import type { Progress } from '../operations/progress.ts';
import {
  abandonArchiveSource,
  openArchiveSource,
  type ArchiveSource,
} from '../archive/archive-source.ts';
import {
  ArchiveScanner,
  MetadataScanner,
  type ArchiveScan,
  type MetadataScan,
} from '../archive/image-scan.ts';
import { readableBytes, unpackBudget, type TarScanOptions } from '../archive/tar-scanner.ts';
import { detectCompression, type Compression } from '../archive/compression.ts';
import { exists } from './image-context.ts';
import { extractTarball, type ImageFiles } from './image-files.ts';
import { rootfsFormatOf, unpackRootfsFile } from './split-rootfs.ts';
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

/** A tarball's scanner: the unified image rules, or a split image's metadata tarball's. */
interface TarballScanner<T> {
  write(chunk: Buffer): void;
  end(): Promise<T>;
}

/** How one kind of tarball is read: its scanner, and how errors name it. */
interface TarballKind<T> {
  scanner: (options: TarScanOptions) => TarballScanner<T>;
  /** The input field: `tarball`, `metadata`. */
  field: string;
  /** `Image tarball`, `Metadata tarball`. */
  label: string;
}

const UNIFIED: TarballKind<ArchiveScan> = {
  scanner: (options) => new ArchiveScanner(options),
  field: 'tarball',
  label: 'Image tarball',
};

const METADATA: TarballKind<MetadataScan> = {
  scanner: (options) => new MetadataScanner(options),
  field: 'metadata',
  label: 'Metadata tarball',
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
  const hash = createHash('sha256');
  const read = await readScanned(source, copyPath, hash, UNIFIED, work, progress, signal);
  return { fingerprint: hash.digest('hex'), ...read };
}

/**
 * A split image's metadata tarball, copied to `copyPath` and checked as
 * readTarball checks a unified one (no rootfs allowed in it). Its bytes go
 * into `hash`, which the rootfs file's follow (the split fingerprint).
 */
export async function readMetadataTarball(
  source: TarballSource,
  copyPath: string,
  hash: Hash,
  work: string,
  progress: Progress,
  signal: AbortSignal,
): Promise<{ size: number; path: string; scan: MetadataScan; compression: Compression }> {
  return readScanned(source, copyPath, hash, METADATA, work, progress, signal);
}

async function readScanned<T>(
  source: TarballSource,
  copyPath: string,
  hash: Hash,
  kind: TarballKind<T>,
  work: string,
  progress: Progress,
  signal: AbortSignal,
): Promise<{ size: number; path: string; scan: T; compression: Compression }> {
  const { chunks, total } = await openArchiveSource(source, kind.field, signal);
  // What it unpacks to must fit where it is unpacked (the work folder, beside the store).
  const maxBytes = await unpackBudget(work);
  const out = copyPath === source ? null : await open(copyPath, 'wx', 0o600);
  // Told by the first 512 bytes; the scanner runs as the bytes stream in for plain and gzip.
  const state: { compression: Compression | null; scanner: TarballScanner<T> | null } = {
    compression: null,
    scanner: null,
  };
  let head = Buffer.alloc(0);
  let size = 0;
  const startScan = (): void => {
    state.compression = compressionOf(head, kind);
    if (state.compression === 'gzip' || state.compression === 'none') {
      state.scanner = kind.scanner({ maxBytes });
      state.scanner.write(head);
    }
  };
  try {
    for await (const chunk of chunks) {
      hash.update(chunk);
      if (out) await out.write(chunk);
      size += chunk.length;
      if (state.compression === null) {
        head = Buffer.concat([head, chunk]);
        if (head.length < 512) continue;
        startScan();
      } else {
        state.scanner?.write(chunk);
      }
      if (total) await progress((size / total) * (state.scanner ? 100 : 60), 'Reading image');
    }
    if (state.compression === null && size > 0) startScan();
  } catch (error) {
    abandonArchiveSource(source);
    throw error;
  } finally {
    await out?.close();
  }
  const { compression, scanner } = state;
  if (compression === null)
    throw EngineError.invalid(kind.field, `the ${kind.label.toLowerCase()} is empty`);

  let scan: T;
  if (scanner) {
    scan = await scanner.end();
  } else {
    await progress(60, 'Decompressing image');
    scan = await scanCompressed(
      copyPath,
      compression as keyof typeof decompressors,
      kind,
      maxBytes,
      signal,
    );
  }
  return { size, path: copyPath, scan, compression };
}

function compressionOf(head: Buffer, kind: TarballKind<unknown>): Compression {
  const compression = detectCompression(head);
  if (!compression)
    throw EngineError.invalid(
      kind.field,
      `not ${kind === UNIFIED ? 'an image tarball' : 'a metadata tarball'} (expected tar, tar.gz, tar.xz, tar.bz2 or tar.zst)`,
    );
  return compression;
}

/**
 * xz/bzip2/zstd: the host tool decompresses the copy to its stdout, which
 * node-tar reads as it comes; nothing decompressed is written. More
 * decompressed bytes than `maxBytes` (a bomb) stop the tool and refuse the
 * archive, as the scanner refuses entries that add up to more.
 */
async function scanCompressed<T>(
  file: string,
  compression: keyof typeof decompressors,
  kind: TarballKind<T>,
  maxBytes: number,
  signal: AbortSignal,
): Promise<T> {
  const { cmd } = decompressors[compression];
  const child = spawnStreamed(cmd, ['-d', '-c', file], {
    env: { PATH: process.env['PATH'], LC_ALL: 'C' },
    cwd: '/',
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  });
  const stderrDone = new Promise<void>((resolve) => {
    child.stderr.once('end', resolve);
    child.stderr.once('close', resolve);
  });
  const stop = () => {
    if (child.pid > 0) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  };
  const scanner = kind.scanner({ maxBytes });
  let bytes = 0;
  try {
    for await (const chunk of child.stdout) {
      signal.throwIfAborted();
      bytes += (chunk as Buffer).length;
      if (bytes > maxBytes)
        throw new EngineError(
          'INVALID_ARGUMENT',
          `${kind.label} decompresses to more than the ${readableBytes(maxBytes)} free where it would be unpacked`,
          { field: kind.field },
        );
      scanner.write(chunk as Buffer);
    }
  } catch (error) {
    stop();
    await child.exited.catch(() => {});
    throw error;
  }
  const status = await child.exited.catch(() => -1);
  if (status !== 0) {
    await Promise.race([stderrDone, new Promise((resolve) => setTimeout(resolve, 1_000))]);
    // The tool's first word (bzip2 follows it with advice), without the path of our private copy.
    const base = path.basename(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const said = stderr
      .split(/[\r\n]/)
      .map((line) =>
        line
          .replaceAll(file, 'the archive')
          .replace(new RegExp(`\\S*/${base}\\b`, 'g'), 'the archive')
          .trim(),
      )
      .find((line) => line !== '');
    throw new EngineError(
      'INVALID_ARGUMENT',
      `${kind.label} is corrupt: ${cmd} could not decompress it: ${said ?? `exit status ${status}`}`,
      { field: kind.field },
    );
  }
  return scanner.end();
}

/**
 * Extracts `tarball` in `work`, then renames its parts into place. A VM
 * image's `rootfs.img` and `boot/` go into `<fp>.rootfs/`, the layout a VM's
 * volume has (drivers/qemu/qemu-paths.ts), after its disk was checked. A
 * split image's tarball holds the metadata only: its rootfs comes from
 * `rootfsFile` (default: the stored `<fp>.rootfs-file`, when there is one),
 * unpacked where a unified tarball's would be.
 */
export async function unpackInto(
  files: ImageFiles,
  fingerprint: string,
  tarball: string,
  work: string,
  signal: AbortSignal,
  rootfsFile?: string,
): Promise<void> {
  const into = path.join(work, 'unpacked');
  await rm(into, { recursive: true, force: true });
  await mkdir(into, { mode: 0o700 });
  await extractTarball(tarball, into, signal);
  const splitRootfs =
    rootfsFile ??
    ((await exists(files.rootfsFile(fingerprint))) ? files.rootfsFile(fingerprint) : null);
  if (splitRootfs) {
    const format = rootfsFormatOf(await readHead(splitRootfs));
    await unpackRootfsFile(splitRootfs, format, into, signal);
  }
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

/** The first bytes of a file, enough for its magic number. */
export async function readHead(file: string, bytes = 512): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
