// Importing an image: a tarball is read and checked once (tarball-read.ts),
// unpacked in a work directory and renamed into place, and only then stored
// as the project's row; a directory tree is packed into a tarball first. A
// split image (metadata tarball + rootfs file, split-read.ts) takes the same
// path with its two files.
// A failure undoes what was done, but files another project's row shares
// stay.
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { apiUrl } from '../api-url.ts';
import { EngineError } from '../errors.ts';
import { scaled, type Progress } from '../operations/progress.ts';
import { Reverter } from '../reverter.ts';
import { hostArchitecture } from './image-api.ts';
import { aliasUrl, type AliasInput } from './image-aliases.ts';
import { checkAliasesFree, exists, requireProject, type ImageContext } from './image-context.ts';
import { packTarball } from './image-files.ts';
import { parseImageMetadata, writeImageMetadata, type ImageMetadata } from './image-metadata.ts';
import { readSplitImage, type SplitImageSource } from './split-read.ts';
import { readTarball, unpackInto, type TarballSource } from './tarball-read.ts';

export interface ImportOptions {
  aliases?: AliasInput[];
  public?: boolean;
  autoUpdate?: boolean;
  /** Shown as `filename`; defaults to the source file's name. */
  filename?: string;
  /** Merged over the properties of metadata.yaml. */
  properties?: Record<string, string>;
}

/** Import options once the aliases are checked (see normalizeAliases). */
export type CheckedImport = ImportOptions & { aliases: { name: string; description: string }[] };

export interface DirectoryImage {
  /**
   * A container's tree that becomes rootfs/ (owned as it should be inside
   * the container), or a VM's folder holding rootfs.img (and boot/).
   */
  rootfsDir: string;
  /** Default: container. */
  type?: 'container' | 'virtual-machine';
  /** architecture and creation date default to this host and now. */
  metadata: Partial<ImageMetadata> & { properties: Record<string, string> };
  /** templates/ files by name. */
  templates?: Record<string, string>;
}

/** What an import or build operation ends with (its metadata, as LXD's). */
export interface ImportResult extends Record<string, unknown> {
  fingerprint: string;
  size: number;
}

/** Packs a directory tree with its metadata.yaml and templates, and imports the tarball. */
export async function importDirectory(
  ctx: ImageContext,
  project: string,
  image: DirectoryImage,
  options: CheckedImport,
  progress: Progress,
  signal: AbortSignal,
): Promise<ImportResult> {
  await requireProject(ctx, project);
  await checkAliasesFree(ctx, project, options.aliases);
  const info = await stat(image.rootfsDir).catch(() => null);
  if (!info?.isDirectory())
    throw EngineError.invalid('rootfsDir', `${image.rootfsDir} is not a directory`);
  const metadata: ImageMetadata = {
    architecture: image.metadata.architecture ?? hostArchitecture(),
    creationDate: image.metadata.creationDate ?? Math.floor(Date.now() / 1000),
    expiryDate: image.metadata.expiryDate ?? 0,
    properties: image.metadata.properties,
    templates: image.metadata.templates ?? {},
  };
  const work = await ctx.tempDir();
  try {
    await progress(0, 'Packing image');
    const stage = path.join(work, 'stage');
    await mkdir(stage, { mode: 0o755 });
    await writeFile(path.join(stage, 'metadata.yaml'), writeImageMetadata(metadata), {
      mode: 0o644,
    });
    const entries = ['metadata.yaml'];
    if (image.templates && Object.keys(image.templates).length) {
      await mkdir(path.join(stage, 'templates'), { mode: 0o755 });
      for (const [name, content] of Object.entries(image.templates)) {
        if (name.includes('/') || name.startsWith('.'))
          throw EngineError.invalid(`templates["${name}"]`, 'must be a plain file name');
        await writeFile(path.join(stage, 'templates', name), content, { mode: 0o644 });
      }
      entries.push('templates');
    }
    const tarball = path.join(work, 'image.tar.gz');
    await packTarball(tarball, stage, entries, image.rootfsDir, image.type ?? 'container', signal);
    await progress(40, 'Packing image');
    return await importTarball(
      ctx,
      project,
      tarball,
      { ...options, owned: true },
      scaled(progress, 40, 100),
      signal,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** `owned`: the tarball is a file of ours that may be renamed into place rather than copied. */
export async function importTarball(
  ctx: ImageContext,
  project: string,
  source: TarballSource,
  options: CheckedImport & { owned?: boolean },
  progress: Progress,
  signal: AbortSignal,
): Promise<ImportResult> {
  const projectId = await requireProject(ctx, project);
  await checkAliasesFree(ctx, project, options.aliases);
  const work = await ctx.tempDir();
  try {
    await progress(0, 'Reading image');
    const read = await readTarball(
      source,
      work,
      options.owned === true,
      scaled(progress, 0, 50),
      signal,
    );
    const fingerprint = read.fingerprint;
    return await storeImage(
      ctx,
      { project, projectId, options, progress, signal },
      {
        fingerprint,
        size: read.size,
        type: read.scan.type,
        metadata: parseImageMetadata(read.scan.metadataYaml),
        filename:
          options.filename ??
          (typeof source === 'string' ? path.basename(source) : `${fingerprint}.tar.gz`),
      },
      async () => {
        await unpackInto(ctx.files, fingerprint, read.path, work, signal);
        await rename(read.path, ctx.files.tarball(fingerprint));
      },
      work,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Imports a split image (LXD's metadata tarball + rootfs file). Both files
 * are stored as they came (`<fp>`, `<fp>.rootfs-file`), so that an export
 * gives back the same bytes and fingerprint; the rootfs is unpacked as a
 * unified image's would be.
 */
export async function importSplit(
  ctx: ImageContext,
  project: string,
  source: SplitImageSource,
  options: CheckedImport,
  progress: Progress,
  signal: AbortSignal,
): Promise<ImportResult> {
  const projectId = await requireProject(ctx, project);
  await checkAliasesFree(ctx, project, options.aliases);
  const work = await ctx.tempDir();
  try {
    await progress(0, 'Reading image');
    const read = await readSplitImage(source, work, scaled(progress, 0, 50), signal);
    const fingerprint = read.fingerprint;
    return await storeImage(
      ctx,
      { project, projectId, options, progress, signal },
      {
        fingerprint,
        size: read.size,
        type: read.type,
        metadata: parseImageMetadata(read.scan.metadataYaml),
        // LXD names a split image after its rootfs file.
        filename:
          options.filename ??
          (typeof source.rootfs === 'string' ? path.basename(source.rootfs) : ''),
      },
      async () => {
        await unpackInto(ctx.files, fingerprint, read.metadataPath, work, signal, read.rootfsPath);
        // The metadata tarball last: without it the image counts as absent.
        await rename(read.rootfsPath, ctx.files.rootfsFile(fingerprint));
        await rename(read.metadataPath, ctx.files.tarball(fingerprint));
      },
      work,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface ImportTarget {
  project: string;
  projectId: number;
  options: CheckedImport;
  progress: Progress;
  signal: AbortSignal;
}

interface ReadImage {
  fingerprint: string;
  size: number;
  type: 'container' | 'virtual-machine';
  metadata: ImageMetadata;
  filename: string;
}

/**
 * Under the fingerprint's lock: places the files (`placeFiles`, when no
 * other project's row has them yet; a missing unpacked tree is unpacked
 * again), then stores the project's row and announces it.
 */
async function storeImage(
  ctx: ImageContext,
  target: ImportTarget,
  image: ReadImage,
  placeFiles: () => Promise<void>,
  work: string,
): Promise<ImportResult> {
  const { project, projectId, options, progress, signal } = target;
  const { fingerprint, metadata } = image;
  const record = await ctx.locks.run(fingerprint, async () => {
    if (await ctx.store.get(project, fingerprint)) {
      throw new EngineError(
        'ALREADY_EXISTS',
        `Image with fingerprint "${fingerprint}" already exists in project "${project}"`,
        { field: 'fingerprint' },
      );
    }
    return Reverter.run(async (revert) => {
      if (!(await exists(ctx.files.tarball(fingerprint)))) {
        await progress(55, 'Unpacking image');
        revert.add(() => ctx.files.removeAll(fingerprint));
        await placeFiles();
      } else if (!(await exists(ctx.files.rootfs(fingerprint)))) {
        await progress(55, 'Unpacking image');
        await unpackInto(ctx.files, fingerprint, ctx.files.tarball(fingerprint), work, signal);
      }
      await progress(95, 'Storing image');
      signal.throwIfAborted();
      const created = await ctx.store.create(projectId, {
        fingerprint,
        filename: image.filename,
        size: image.size,
        public: options.public ?? false,
        autoUpdate: options.autoUpdate ?? false,
        architecture: metadata.architecture,
        type: image.type,
        createdAt: metadata.creationDate ? new Date(metadata.creationDate * 1000) : null,
        expiresAt: metadata.expiryDate ? new Date(metadata.expiryDate * 1000) : null,
        properties: { ...metadata.properties, ...options.properties },
        aliases: options.aliases,
      });
      // Files shared with another project's row must stay.
      revert.add(async () => {
        await ctx.store.delete(created.id);
      });
      return created;
    });
  });
  ctx.events.lifecycle(project, 'image-created', apiUrl.image(project, fingerprint), {
    type: record.type,
  });
  for (const alias of options.aliases) {
    ctx.events.lifecycle(project, 'image-alias-created', aliasUrl(project, alias.name), {
      target: fingerprint,
    });
  }
  await progress(100, 'Done');
  return { fingerprint, size: image.size };
}
