// Reading a split image (LXD's metadata tarball + rootfs file) once, as
// tarball-read.ts reads a unified one: each file copied into the work
// directory with one sha256 over the metadata's bytes then the rootfs's
// (LXD's fingerprint), the metadata tarball checked entry by entry (no
// rootfs in it), and the rootfs file checked by its kind (split-rootfs.ts).
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import type { MetadataScan } from '../archive/image-scan.ts';
import type { Compression } from '../archive/compression.ts';
import {
  abandonArchiveSource,
  openArchiveSource,
  type ArchiveSource,
} from '../archive/archive-source.ts';
import { scaled, type Progress } from '../operations/progress.ts';
import {
  checkSplitDisk,
  checkSquashfs,
  checkSquashfsSize,
  rootfsFormatOf,
  splitImageType,
  type RootfsFormat,
} from './split-rootfs.ts';
import { readMetadataTarball } from './tarball-read.ts';

/** The two files of a split image: paths or byte streams (uploads). */
export interface SplitImageSource {
  metadata: ArchiveSource;
  rootfs: ArchiveSource;
  /**
   * As the upload named its part (`rootfs`: container, `rootfs.img`: VM);
   * without it the rootfs file tells (a squashfs is a container's).
   */
  type?: 'container' | 'virtual-machine';
}

export interface ReadSplitImage {
  fingerprint: string;
  /** Both files' bytes, as LXD counts a split image's size. */
  size: number;
  metadataPath: string;
  rootfsPath: string;
  scan: MetadataScan;
  metadataCompression: Compression;
  format: RootfsFormat;
  type: 'container' | 'virtual-machine';
}

/** Enough for the squashfs superblock and every magic number. */
const HEAD_BYTES = 96;

export async function readSplitImage(
  source: SplitImageSource,
  work: string,
  progress: Progress,
  signal: AbortSignal,
): Promise<ReadSplitImage> {
  const hash = createHash('sha256');
  let meta: Awaited<ReturnType<typeof readMetadataTarball>>;
  try {
    meta = await readMetadataTarball(
      source.metadata,
      path.join(work, 'metadata'),
      hash,
      work,
      scaled(progress, 0, 20),
      signal,
    );
  } catch (error) {
    // The upload's other part is not read any more: let its stream go too.
    abandonArchiveSource(source.rootfs);
    throw error;
  }
  const rootfsPath = path.join(work, 'rootfs-file');
  const field = source.type === 'virtual-machine' ? 'rootfs.img' : 'rootfs';
  const { chunks, total } = await openArchiveSource(source.rootfs, field, signal);
  const out = await open(rootfsPath, 'wx', 0o600);
  let head = Buffer.alloc(0);
  let size = 0;
  try {
    for await (const chunk of chunks) {
      hash.update(chunk);
      await out.write(chunk);
      size += chunk.length;
      if (head.length < HEAD_BYTES)
        head = Buffer.concat([head, chunk.subarray(0, HEAD_BYTES - head.length)]);
      if (total) await progress(20 + (size / total) * 40, 'Reading image');
    }
  } catch (error) {
    abandonArchiveSource(source.rootfs);
    throw error;
  } finally {
    await out.close();
  }
  if (size === 0) throw EngineError.invalid(field, 'the rootfs file is empty');

  const format = rootfsFormatOf(head);
  const type = splitImageType(format, source.type);
  await progress(60, 'Checking image');
  if (format === 'squashfs') {
    checkSquashfsSize(head, size);
    await checkSquashfs(rootfsPath, signal);
  } else {
    await checkSplitDisk(rootfsPath, signal);
  }
  return {
    fingerprint: hash.digest('hex'),
    size: meta.size + size,
    metadataPath: meta.path,
    rootfsPath,
    scan: meta.scan,
    metadataCompression: meta.compression,
    format,
    type,
  };
}
