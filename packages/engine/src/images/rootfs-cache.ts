// The unpacked trees beside an image's tarball: its rootfs, unpacked on
// first use when missing, and the prepared copies of it a driver launches
// from (for the lxc driver: shifted to one id map), as LXD's image volumes.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import type { RootfsPreparation } from '../drivers/driver.ts';
import { copyTree, scanTree, treeHasXattrs } from '../storage/tree-ops.ts';
import { FINGERPRINT, exists, type ImageContext } from './image-context.ts';
import { unpackInto } from './tarball-read.ts';

const PREPARED_MANIFEST = 'manifest.json';
/** Up to here a prepared tree is copied in process (a few ms); beyond, `cp -a` is as fast and never blocks. */
const PLAIN_COPY_MAX_ENTRIES = 4096;
const PLAIN_COPY_MAX_BYTES = 64 * 1024 * 1024;

interface PreparedManifest {
  key: string;
  entries: number;
  bytes: number;
  special: number;
  plainCopy: boolean;
}

export interface PreparedRootfs {
  rootfs: string;
  /** The tree copyPlainTree can copy exactly (see preparedRootfs). */
  plainCopy: boolean;
}

/** A prepared tree, or `null` when there is none (its manifest is written last, inside the renamed folder). */
async function readPreparedManifest(dir: string): Promise<PreparedRootfs | null> {
  try {
    const manifest = JSON.parse(
      await readFile(path.join(dir, PREPARED_MANIFEST), 'utf8'),
    ) as PreparedManifest;
    return { rootfs: path.join(dir, 'rootfs'), plainCopy: manifest.plainCopy === true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The unpacked rootfs of an image, unpacking it into the cache when missing. */
export async function rootfsPath(ctx: ImageContext, fingerprint: string): Promise<string> {
  if (!FINGERPRINT.test(fingerprint))
    throw EngineError.invalid('fingerprint', 'must be 64 hexadecimal characters');
  const rootfs = ctx.files.rootfs(fingerprint);
  if (await exists(rootfs)) return rootfs;
  return ctx.locks.run(fingerprint, async () => {
    if (await exists(rootfs)) return rootfs;
    const tarball = ctx.files.tarball(fingerprint);
    if (!(await exists(tarball))) throw EngineError.notFound('Image', { field: 'fingerprint' });
    const work = await ctx.tempDir();
    try {
      await unpackInto(ctx.files, fingerprint, tarball, work, new AbortController().signal);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return rootfs;
  });
}

/**
 * The image's rootfs as `preparation` makes it, built on first use and
 * kept beside the image until the image is deleted: launches copy it and
 * skip the shift walk. Built in a work directory and renamed into place
 * whole, under the image's lock, so a half-built copy is never seen and a
 * delete waits for a build. `plainCopy`: the tree is small and has only
 * directories, files and symlinks without xattrs.
 */
export async function preparedRootfs(
  ctx: ImageContext,
  fingerprint: string,
  preparation: RootfsPreparation,
): Promise<PreparedRootfs> {
  const source = await rootfsPath(ctx, fingerprint);
  // Only as good as the image it came from: a damaged unpack fails the launch as before.
  if (!(await stat(source)).isDirectory())
    throw EngineError.invalid('source', `rootfs ${source} is not a directory`);
  const dir = ctx.files.prepared(fingerprint, preparation.key);
  const found = await readPreparedManifest(dir);
  if (found) return found;
  return ctx.locks.run(fingerprint, async () => {
    const again = await readPreparedManifest(dir);
    if (again) return again;
    if (!(await exists(source))) throw EngineError.notFound('Image', { field: 'fingerprint' });
    const work = await ctx.tempDir();
    try {
      const build = path.join(work, 'prepared');
      await mkdir(build, { mode: 0o711 });
      await copyTree(source, path.join(build, 'rootfs'));
      await preparation.prepare(path.join(build, 'rootfs'));
      const scan = scanTree(path.join(build, 'rootfs'));
      const plainCopy =
        scan.special === 0 &&
        scan.entries <= PLAIN_COPY_MAX_ENTRIES &&
        scan.bytes <= PLAIN_COPY_MAX_BYTES &&
        !(await treeHasXattrs(path.join(build, 'rootfs')));
      const manifest: PreparedManifest = { key: preparation.key, ...scan, plainCopy };
      await writeFile(path.join(build, PREPARED_MANIFEST), `${JSON.stringify(manifest)}\n`);
      await rename(build, dir);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    const built = await readPreparedManifest(dir);
    if (!built) throw new EngineError('INTERNAL', `The prepared rootfs ${dir} is unreadable`);
    return built;
  });
}
