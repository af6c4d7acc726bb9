// The image store: images by SHA-256 fingerprint of the tarball (a split
// image's: of its metadata tarball then its rootfs file), per-project
// rows and aliases in the database, files shared under `<dataDir>/images`
// (see image-files.ts). Every tarball is read once in Node (hash + entry
// checks + metadata.yaml) before GNU tar extracts it into a temporary
// directory, which is renamed into place only when everything succeeded.
//
// This class is the service's one face; the work lives in files by concern
// (image-import + tarball-read, image-builds, rootfs-cache, image-aliases),
// each given the shared context.
import { createReadStream, type ReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ImageStore, ProjectRecord } from '@berth/db';
import { apiUrl } from '../api-url.ts';
import { EngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { RootfsPreparation } from '../drivers/driver.ts';
import { KeyedLock } from '../keyed-lock.ts';
import { throttled, type Progress } from '../operations/progress.ts';
import type { Image, ImageAliasesEntry } from '../schemas/image.ts';
import { zeroTime, type Operation } from '../schemas/index.ts';
import { DEFAULT_BUSYBOX } from './busybox-rootfs.ts';
import { NEVER_EXPIRES, toImage } from './image-api.ts';
import {
  createAlias,
  deleteAlias,
  getAlias,
  listAliases,
  normalizeAliases,
  renameAlias,
  updateAlias,
} from './image-aliases.ts';
import { buildBusybox, buildBusyboxVm, buildDebian } from './image-builds.ts';
import { exists, imageRecord, type ImageContext, type OperationsLike } from './image-context.ts';
import { ImageFiles } from './image-files.ts';
import {
  importDirectory,
  importSplit,
  importTarball,
  type CheckedImport,
  type DirectoryImage,
  type ImportOptions,
  type ImportResult,
} from './image-import.ts';
import { parseImageMetadata, type ImageMetadata } from './image-metadata.ts';
import { defaultProjectName, imageProjectOf } from '../projects/projects.ts';
import { preparedRootfs, rootfsPath, type PreparedRootfs } from './rootfs-cache.ts';
import { splitExport } from './split-export.ts';
import type { SplitImageSource } from './split-read.ts';
import type { TarballSource } from './tarball-read.ts';

export type { AliasInput } from './image-aliases.ts';
export type { OperationsLike } from './image-context.ts';
export type { DirectoryImage, ImportOptions, ImportResult } from './image-import.ts';
export type { SplitImageSource } from './split-read.ts';
export type { TarballSource } from './tarball-read.ts';

export interface ImageServiceOptions {
  dataDir: string;
  store: ImageStore;
  events: EventBus;
  operations: OperationsLike;
  /** The static busybox the built-in builder copies (default /bin/busybox). */
  busybox?: string;
  /** Where builders keep downloads between builds; default `<dataDir>/cache`. */
  cacheDir?: string;
  /**
   * Project configs, for `features.images`: a project without it uses the
   * `default` project's images, as in LXD. Without this every project
   * keeps its own (tests of the store alone).
   */
  projects?: { get(name: string): Promise<Pick<ProjectRecord, 'config'> | null> };
}

export interface ExportedFile {
  path: string;
  size: number;
  /** As LXD names it in an export: `<fp>.tar.xz`, `meta-<fp>.tar.xz`, `<fp>.squashfs`, ... */
  filename: string;
  open(): ReadStream;
}

export interface ExportedImage {
  fingerprint: string;
  /** The unified tarball (a split image: its metadata tarball). */
  path: string;
  filename: string;
  /** The image's size: both files' for a split image. */
  size: number;
  open(): ReadStream;
  /**
   * A split image's two files, exactly as imported, which LXD sends as the
   * multipart parts `metadata` and `rootfs` (container) or `rootfs.img` (VM);
   * null for a unified image.
   */
  split: {
    metadata: ExportedFile;
    rootfs: ExportedFile & { part: 'rootfs' | 'rootfs.img' };
  } | null;
}

export class ImageService {
  readonly files: ImageFiles;
  readonly #ctx: ImageContext;
  readonly #projects: ImageServiceOptions['projects'];

  constructor(options: ImageServiceOptions) {
    const files = new ImageFiles(options.dataDir, options.cacheDir);
    let swept: Promise<void> | null = null;
    this.files = files;
    this.#projects = options.projects;
    this.#ctx = {
      files,
      store: options.store,
      events: options.events,
      operations: options.operations,
      locks: new KeyedLock(),
      busybox: options.busybox ?? DEFAULT_BUSYBOX,
      tempDir: async () => {
        swept ??= files.sweep();
        await swept;
        return files.tempDir();
      },
    };
  }

  /**
   * The project whose images `project` sees and adds to: itself, or
   * `default` when its `features.images` is off (LXD's ImageProject). A
   * project that does not exist is left to the lookup to report.
   */
  async imageProject(project: string): Promise<string> {
    if (!this.#projects || project === defaultProjectName) return project;
    const record = await this.#projects.get(project);
    return record ? imageProjectOf(project, record.config) : project;
  }

  async list(project: string): Promise<Image[]> {
    return (await this.#ctx.store.list(await this.imageProject(project))).map(toImage);
  }

  /** By full fingerprint or a unique prefix of one, like LXD. */
  async get(project: string, fingerprintOrPrefix: string): Promise<Image> {
    return toImage(
      await imageRecord(this.#ctx, await this.imageProject(project), fingerprintOrPrefix),
    );
  }

  // ------------------------------------------------------------- import

  /**
   * Imports a unified image tarball (gzip, xz, bzip2, zstd or plain) as an
   * operation; it ends with `{ fingerprint, size }` as its metadata.
   */
  importTarball(
    project: string,
    source: TarballSource,
    options: ImportOptions = {},
  ): Promise<Operation> {
    return this.#startImport(
      project,
      'Importing image',
      options,
      (home, checked, progress, signal) =>
        importTarball(this.#ctx, home, source, checked, progress, signal),
    );
  }

  /**
   * Imports a split image, LXD's metadata tarball (metadata.yaml and
   * templates/, any compression) with its rootfs file (a container's
   * squashfs, a VM's qcow2 or raw disk), as an operation ending with
   * `{ fingerprint, size }`; the fingerprint is the sha256 of both files.
   */
  importSplit(
    project: string,
    source: SplitImageSource,
    options: ImportOptions = {},
  ): Promise<Operation> {
    return this.#startImport(
      project,
      'Importing image',
      options,
      (home, checked, progress, signal) =>
        importSplit(this.#ctx, home, source, checked, progress, signal),
    );
  }

  /** Packs a directory tree as an image and imports it (publish builds on this). */
  importFromDirectory(
    project: string,
    image: DirectoryImage,
    options: ImportOptions = {},
  ): Promise<Operation> {
    return this.#startImport(
      project,
      'Creating image',
      options,
      (home, checked, progress, signal) =>
        importDirectory(this.#ctx, home, image, checked, progress, signal),
    );
  }

  /** The aliases are checked before the operation starts: a bad one fails the call itself. */
  async #startImport(
    requested: string,
    description: string,
    options: ImportOptions,
    run: (
      project: string,
      options: CheckedImport,
      progress: Progress,
      signal: AbortSignal,
    ) => Promise<ImportResult>,
  ): Promise<Operation> {
    const aliases = normalizeAliases(options.aliases);
    // The operation stays in the project asked for, where the client waits on it.
    const home = await this.imageProject(requested);
    return this.#ctx.operations.start({
      project: requested,
      description,
      mayCancel: true,
      run: async (op) => run(home, { ...options, aliases }, throttled(op), op.signal),
    });
  }

  /** The built-in busybox image from the host's static busybox: seconds. */
  async buildBusybox(
    project: string,
    options: { alias?: string; public?: boolean } = {},
  ): Promise<Operation> {
    return buildBusybox(this.#ctx, await this.imageProject(project), options);
  }

  /**
   * The built-in busybox virtual machine image (`busybox-vm`): the archive's
   * Debian kernel booted directly, a busybox initramfs and root disk, and
   * qemu-guest-agent. The first build downloads the kernel and agent
   * packages (kept in `<dataDir>/cache`); later ones take seconds.
   */
  async buildBusyboxVm(
    project: string,
    options: { alias?: string; public?: boolean } = {},
  ): Promise<Operation> {
    return buildBusyboxVm(this.#ctx, await this.imageProject(project), options);
  }

  /**
   * A Debian image (`debian/12`) debootstrapped from the host's configured
   * archive: minutes. `vm: true` makes the virtual machine variant. The
   * operation can be cancelled.
   */
  async buildDebian(
    project: string,
    options: {
      release?: string;
      alias?: string;
      public?: boolean;
      mirror?: string;
      vm?: boolean;
    } = {},
  ): Promise<Operation> {
    return buildDebian(this.#ctx, await this.imageProject(project), options);
  }

  // ---------------------------------------------------------- the files

  /** The unpacked rootfs of an image, unpacking it into the cache when missing. */
  rootfsPath(fingerprint: string): Promise<string> {
    return rootfsPath(this.#ctx, fingerprint);
  }

  /**
   * The image's rootfs as `preparation` makes it (for the lxc driver:
   * shifted to one id map), built once and kept beside the image (see
   * rootfs-cache.ts).
   */
  preparedRootfs(fingerprint: string, preparation: RootfsPreparation): Promise<PreparedRootfs> {
    return preparedRootfs(this.#ctx, fingerprint, preparation);
  }

  /** The parsed metadata.yaml of an image (templates for the driver). */
  async metadata(fingerprint: string): Promise<ImageMetadata> {
    await this.rootfsPath(fingerprint);
    return parseImageMetadata(await readFile(this.files.metadata(fingerprint), 'utf8'));
  }

  async exportTarball(requested: string, fingerprint: string): Promise<ExportedImage> {
    const project = await this.imageProject(requested);
    const record = await imageRecord(this.#ctx, project, fingerprint);
    const fp = record.fingerprint;
    const file = this.files.tarball(fp);
    if (!(await exists(file)))
      throw new EngineError(
        'INTERNAL',
        `The file of image ${fp} is missing from ${this.files.dir}`,
      );
    const split = (await exists(this.files.rootfsFile(fp)))
      ? await splitExport(this.files.tarball(fp), this.files.rootfsFile(fp), fp, record.type)
      : null;
    this.#ctx.events.lifecycle(project, 'image-retrieved', apiUrl.image(project, fp));
    return {
      fingerprint: fp,
      path: file,
      filename: record.filename,
      size: record.size,
      open: () => createReadStream(file),
      split,
    };
  }

  /** Deletes the project's image and its aliases; the files go with the last project using them. */
  async delete(requested: string, fingerprint: string): Promise<void> {
    const project = await this.imageProject(requested);
    const record = await imageRecord(this.#ctx, project, fingerprint);
    await this.#ctx.locks.run(record.fingerprint, async () => {
      await this.#ctx.store.delete(record.id);
      if ((await this.#ctx.store.countByFingerprint(record.fingerprint)) === 0)
        await this.files.removeAll(record.fingerprint);
    });
    this.#ctx.events.lifecycle(project, 'image-deleted', apiUrl.image(project, record.fingerprint));
  }

  /**
   * `delete` as an operation, as LXD answers it: the image is looked up at
   * once (an unknown fingerprint is a 404, not a failed operation).
   */
  async startDelete(requested: string, fingerprint: string): Promise<Operation> {
    const project = await this.imageProject(requested);
    const { fingerprint: fp } = await imageRecord(this.#ctx, project, fingerprint);
    return this.#ctx.operations.start({
      project: requested,
      description: 'Deleting image',
      resources: { images: [apiUrl.image(requested, fp)] },
      run: async () => {
        await this.delete(requested, fp);
      },
    });
  }

  /** `PUT /1.0/images/<fp>`-style changes. */
  async update(
    requested: string,
    fingerprint: string,
    change: {
      public?: boolean;
      auto_update?: boolean;
      properties?: Record<string, string>;
      expires_at?: string | null;
    },
  ): Promise<Image> {
    const project = await this.imageProject(requested);
    const record = await imageRecord(this.#ctx, project, fingerprint);
    let expiresAt: Date | null | undefined;
    if (change.expires_at !== undefined) {
      expiresAt =
        change.expires_at === null ||
        change.expires_at === NEVER_EXPIRES ||
        change.expires_at === zeroTime
          ? null
          : new Date(change.expires_at);
      if (expiresAt && Number.isNaN(expiresAt.getTime()))
        throw EngineError.invalid('expires_at', 'invalid timestamp');
    }
    await this.#ctx.store.update(record.id, {
      ...(change.public === undefined ? {} : { public: change.public }),
      ...(change.auto_update === undefined ? {} : { autoUpdate: change.auto_update }),
      ...(change.properties === undefined ? {} : { properties: change.properties }),
      ...(expiresAt === undefined ? {} : { expiresAt }),
    });
    this.#ctx.events.lifecycle(project, 'image-updated', apiUrl.image(project, record.fingerprint));
    return this.get(project, record.fingerprint);
  }

  // ------------------------------------------------------------ aliases

  async listAliases(project: string): Promise<ImageAliasesEntry[]> {
    return listAliases(this.#ctx, await this.imageProject(project));
  }

  async getAlias(project: string, name: string): Promise<ImageAliasesEntry> {
    return getAlias(this.#ctx, await this.imageProject(project), name);
  }

  /** The fingerprint an alias points at. */
  async resolveAlias(project: string, name: string): Promise<string> {
    return (await this.getAlias(project, name)).target;
  }

  async createAlias(
    project: string,
    alias: { name: string; target: string; description?: string },
  ): Promise<ImageAliasesEntry> {
    return createAlias(this.#ctx, await this.imageProject(project), alias);
  }

  /** Points an alias at another image and/or changes its description. */
  async updateAlias(
    project: string,
    name: string,
    change: { target?: string; description?: string },
  ): Promise<ImageAliasesEntry> {
    return updateAlias(this.#ctx, await this.imageProject(project), name, change);
  }

  async renameAlias(project: string, name: string, newName: string): Promise<ImageAliasesEntry> {
    return renameAlias(this.#ctx, await this.imageProject(project), name, newName);
  }

  async deleteAlias(project: string, name: string): Promise<void> {
    return deleteAlias(this.#ctx, await this.imageProject(project), name);
  }
}
