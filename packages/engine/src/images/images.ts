// The image store: images by SHA-256 fingerprint of the tarball, per-project
// rows and aliases in the database, files shared under `<dataDir>/images`
// (see image-files.ts). Every tarball is read once in Node (hash + entry
// checks + metadata.yaml) before GNU tar extracts it into a temporary
// directory, which is renamed into place only when everything succeeded.
import { createHash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { access, link, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { apiUrl } from '../api-url.ts';
import { EngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import { runCommand } from '../host/run-command.ts';
import type { StartOperation } from '../operations/operations.ts';
import { Reverter } from '../reverter.ts';
import { ImageAliasName, type Image, type ImageAliasesEntry } from '../schemas/image.ts';
import { zeroTime, type InstanceType, type Operation } from '../schemas/index.ts';
import { ArchiveScanner, type ArchiveScan } from '../archive/image-scan.ts';
import { detectCompression, type Compression } from '../archive/compression.ts';
import {
  DEFAULT_BUSYBOX,
  busyboxTemplates,
  probeBusybox,
  writeBusyboxRootfs,
} from './busybox-rootfs.ts';
import { ImageFiles, extractTarball, packTarball } from './image-files.ts';
import type { RootfsPreparation } from '../drivers/driver.ts';
import { copyTree, scanTree, treeHasXattrs } from '../storage/tree-ops.ts';
import { parseImageMetadata, writeImageMetadata, type ImageMetadata } from './image-metadata.ts';
import { KeyedLock } from '../keyed-lock.ts';
import { scaled, throttled, type Progress } from './progress.ts';
import {
  debianReleases,
  debootstrapArgs,
  hostDebianMirror,
  prepareDebianRootfs,
} from './debian-builder.ts';

// ----------------------------------------------------------- what we need

/** The data the store hands back (structurally @berth/db's ImageRecord). */
export interface ImageRecordLike {
  id: number;
  project: string;
  fingerprint: string;
  filename: string;
  size: number;
  public: boolean;
  autoUpdate: boolean;
  cached: boolean;
  architecture: string;
  type: string;
  createdAt: Date | null;
  uploadedAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  properties: Record<string, string>;
  aliases: { name: string; description: string }[];
}

export interface ImageAliasTargetLike {
  name: string;
  description: string;
  fingerprint: string;
  type: string;
}

/** The subset of @berth/db's ImageStore the service uses. */
export interface ImageStoreLike {
  projectId(project: string): Promise<number | null>;
  list(project: string): Promise<ImageRecordLike[]>;
  get(project: string, fingerprint: string): Promise<ImageRecordLike | null>;
  findByPrefix(project: string, prefix: string, limit?: number): Promise<ImageRecordLike[]>;
  countByFingerprint(fingerprint: string): Promise<number>;
  create(
    projectId: number,
    input: {
      fingerprint: string;
      filename: string;
      size: number;
      public?: boolean;
      autoUpdate?: boolean;
      architecture: string;
      type: string;
      createdAt?: Date | null;
      expiresAt?: Date | null;
      properties?: Record<string, string>;
      aliases?: { name: string; description: string }[];
    },
  ): Promise<ImageRecordLike>;
  update(
    id: number,
    change: {
      public?: boolean;
      autoUpdate?: boolean;
      expiresAt?: Date | null;
      properties?: Record<string, string>;
    },
  ): Promise<void>;
  delete(id: number): Promise<void>;
  listAliases(project: string): Promise<ImageAliasTargetLike[]>;
  getAlias(project: string, name: string): Promise<ImageAliasTargetLike | null>;
  createAlias(
    projectId: number,
    imageId: number,
    alias: { name: string; description: string },
  ): Promise<void>;
  updateAlias(
    project: string,
    name: string,
    change: { imageId?: number; description?: string },
  ): Promise<void>;
  renameAlias(project: string, name: string, newName: string): Promise<void>;
  deleteAlias(project: string, name: string): Promise<boolean>;
}

export interface OperationsLike {
  start(spec: StartOperation): Promise<Operation>;
}

export interface ImageServiceOptions {
  dataDir: string;
  store: ImageStoreLike;
  events: EventBus;
  operations: OperationsLike;
  /** The static busybox the built-in builder copies (default /bin/busybox). */
  busybox?: string;
}

// ----------------------------------------------------------------- inputs

export type AliasInput = string | { name: string; description?: string };

export interface ImportOptions {
  aliases?: AliasInput[];
  public?: boolean;
  autoUpdate?: boolean;
  /** Shown as `filename`; defaults to the source file's name. */
  filename?: string;
  /** Merged over the properties of metadata.yaml. */
  properties?: Record<string, string>;
}

/** A tarball to import: a file path or a byte stream (an HTTP upload). */
export type TarballSource = string | Readable | AsyncIterable<Uint8Array>;

export interface DirectoryImage {
  /** The tree that becomes rootfs/ (owned as it should be inside the container). */
  rootfsDir: string;
  /** architecture and creation date default to this host and now. */
  metadata: Partial<ImageMetadata> & { properties: Record<string, string> };
  /** templates/ files by name. */
  templates?: Record<string, string>;
}

export interface ExportedImage {
  fingerprint: string;
  path: string;
  filename: string;
  size: number;
  open(): ReadStream;
}

/** What an import or build operation ends with (its metadata, as LXD's). */
export interface ImportResult extends Record<string, unknown> {
  fingerprint: string;
  size: number;
}

// ------------------------------------------------------------------ helpers

const FINGERPRINT = /^[0-9a-f]{64}$/;
const NEVER_EXPIRES = '1970-01-01T00:00:00Z';

function rfc3339(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

/** The architecture name LXD uses for this host. */
export function hostArchitecture(): string {
  const map: Record<string, string> = {
    x64: 'x86_64',
    arm64: 'aarch64',
    arm: 'armv7l',
    ia32: 'i686',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return map[os.arch()] ?? os.arch();
}

export function toImage(record: ImageRecordLike): Image {
  return {
    fingerprint: record.fingerprint,
    filename: record.filename,
    size: record.size,
    public: record.public,
    auto_update: record.autoUpdate,
    properties: record.properties,
    aliases: record.aliases.map((a) => ({ name: a.name, description: a.description })),
    architecture: record.architecture,
    type: record.type as InstanceType,
    cached: record.cached,
    profiles: ['default'],
    created_at: record.createdAt ? rfc3339(record.createdAt) : zeroTime,
    uploaded_at: rfc3339(record.uploadedAt),
    last_used_at: record.lastUsedAt ? rfc3339(record.lastUsedAt) : zeroTime,
    expires_at: record.expiresAt ? rfc3339(record.expiresAt) : NEVER_EXPIRES,
  };
}

function aliasUrl(project: string, name: string): string {
  const p = `/1.0/images/aliases/${encodeURIComponent(name)}`;
  return project === 'default' ? p : `${p}?project=${encodeURIComponent(project)}`;
}

function normalizeAliases(aliases: AliasInput[] = []): { name: string; description: string }[] {
  const seen = new Set<string>();
  return aliases.map((a, i) => {
    const alias =
      typeof a === 'string'
        ? { name: a, description: '' }
        : { name: a.name, description: a.description ?? '' };
    const parsed = ImageAliasName.safeParse(alias.name);
    if (!parsed.success)
      throw EngineError.invalid(`aliases[${i}].name`, parsed.error.issues[0]?.message ?? 'invalid');
    if (seen.has(alias.name))
      throw EngineError.invalid(`aliases[${i}].name`, `"${alias.name}" is given twice`);
    seen.add(alias.name);
    return alias;
  });
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

const decompressors: Record<Exclude<Compression, 'none' | 'gzip'>, { cmd: string; ext: string }> = {
  xz: { cmd: 'xz', ext: '.xz' },
  bzip2: { cmd: 'bzip2', ext: '.bz2' },
  zstd: { cmd: 'zstd', ext: '.zst' },
};

// ------------------------------------------------------------------ service

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

/** A prepared tree, or `null` when there is none (its manifest is written last, inside the renamed folder). */
async function readPreparedManifest(
  dir: string,
): Promise<{ rootfs: string; plainCopy: boolean } | null> {
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

export class ImageService {
  readonly files: ImageFiles;
  readonly #store: ImageStoreLike;
  readonly #events: EventBus;
  readonly #operations: OperationsLike;
  readonly #busybox: string;
  readonly #locks = new KeyedLock();
  #swept: Promise<void> | null = null;

  constructor(options: ImageServiceOptions) {
    this.files = new ImageFiles(options.dataDir);
    this.#store = options.store;
    this.#events = options.events;
    this.#operations = options.operations;
    this.#busybox = options.busybox ?? DEFAULT_BUSYBOX;
  }

  async list(project: string): Promise<Image[]> {
    return (await this.#store.list(project)).map(toImage);
  }

  /** By full fingerprint or a unique prefix of one, like LXD. */
  async get(project: string, fingerprintOrPrefix: string): Promise<Image> {
    return toImage(await this.#record(project, fingerprintOrPrefix));
  }

  async #record(project: string, fingerprintOrPrefix: string): Promise<ImageRecordLike> {
    const prefix = fingerprintOrPrefix.toLowerCase();
    if (!/^[0-9a-f]{1,64}$/.test(prefix))
      throw EngineError.notFound('Image', { field: 'fingerprint' });
    if (prefix.length === 64) {
      const record = await this.#store.get(project, prefix);
      if (!record) throw EngineError.notFound('Image', { field: 'fingerprint' });
      return record;
    }
    const matches = await this.#store.findByPrefix(project, prefix, 2);
    if (matches.length > 1)
      throw EngineError.invalid('fingerprint', `more than one image matches "${prefix}"`);
    const [record] = matches;
    if (!record) throw EngineError.notFound('Image', { field: 'fingerprint' });
    return record;
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
    const aliases = normalizeAliases(options.aliases);
    return this.#operations.start({
      project,
      description: 'Importing image',
      mayCancel: true,
      run: async (ctx) =>
        this.#importTarball(project, source, { ...options, aliases }, throttled(ctx), ctx.signal),
    });
  }

  /** Packs a directory tree as an image and imports it (publish builds on this). */
  importFromDirectory(
    project: string,
    image: DirectoryImage,
    options: ImportOptions = {},
  ): Promise<Operation> {
    const aliases = normalizeAliases(options.aliases);
    return this.#operations.start({
      project,
      description: 'Creating image',
      mayCancel: true,
      run: async (ctx) =>
        this.#importDirectory(project, image, { ...options, aliases }, throttled(ctx), ctx.signal),
    });
  }

  /** The built-in busybox image from the host's static busybox: seconds. */
  buildBusybox(
    project: string,
    options: { alias?: string; public?: boolean } = {},
  ): Promise<Operation> {
    const aliases = normalizeAliases(options.alias ? [options.alias] : []);
    return this.#operations.start({
      project,
      description: 'Building busybox image',
      mayCancel: true,
      run: async (ctx) => {
        const progress = throttled(ctx);
        await this.#requireProject(project);
        await this.#checkAliasesFree(project, aliases);
        await progress(0, 'Building rootfs');
        const info = await probeBusybox(this.#busybox, ctx.signal);
        const work = await this.#tempDir();
        try {
          const rootfsDir = path.join(work, 'rootfs');
          await mkdir(rootfsDir, { mode: 0o755 });
          await writeBusyboxRootfs(rootfsDir, this.#busybox, info);
          const release = info.version.split('.').slice(0, 2).join('.');
          const architecture = hostArchitecture();
          return await this.#importDirectory(
            project,
            {
              rootfsDir,
              metadata: {
                architecture,
                properties: {
                  architecture,
                  description: `BusyBox v${info.version}`,
                  os: 'busybox',
                  release,
                },
                templates: busyboxTemplates.metadata,
              },
              templates: busyboxTemplates.files,
            },
            { aliases, filename: 'busybox.tar.gz', public: options.public ?? false },
            scaled(progress, 10, 100),
            ctx.signal,
          );
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      },
    });
  }

  /**
   * A Debian image (`debian/12`) debootstrapped from the host's configured
   * archive: minutes. The operation can be cancelled.
   */
  buildDebian(
    project: string,
    options: { release?: string; alias?: string; public?: boolean; mirror?: string } = {},
  ): Promise<Operation> {
    const release = debianReleases[options.release ?? '12'];
    if (!release) {
      return Promise.reject(
        EngineError.invalid(
          'release',
          `unknown Debian release "${options.release}" (known: ${Object.keys(debianReleases).join(', ')})`,
        ),
      );
    }
    const aliases = normalizeAliases(options.alias ? [options.alias] : []);
    return this.#operations.start({
      project,
      description: `Building debian/${release.version} image`,
      mayCancel: true,
      run: async (ctx) => {
        const progress = throttled(ctx);
        await this.#requireProject(project);
        await this.#checkAliasesFree(project, aliases);
        const mirror = options.mirror ?? (await hostDebianMirror());
        const work = await this.#tempDir();
        try {
          const rootfsDir = path.join(work, 'rootfs');
          await progress(0, `Running debootstrap ${release.codename} from ${mirror}`);
          await runCommand('debootstrap', debootstrapArgs(release.codename, rootfsDir, mirror), {
            timeoutMs: 30 * 60_000,
            signal: ctx.signal,
          });
          await progress(70, 'Preparing rootfs');
          await prepareDebianRootfs(rootfsDir, mirror, release.codename);
          // Package caches make the image bigger and are stale at once.
          await rm(path.join(rootfsDir, 'var/cache/apt/archives'), {
            recursive: true,
            force: true,
          });
          await mkdir(path.join(rootfsDir, 'var/cache/apt/archives/partial'), { recursive: true });
          const architecture = hostArchitecture();
          return await this.#importDirectory(
            project,
            {
              rootfsDir,
              metadata: {
                architecture,
                properties: {
                  architecture,
                  description: `Debian ${release.version} (${release.codename})`,
                  os: 'debian',
                  release: release.codename,
                  variant: 'default',
                },
              },
            },
            {
              aliases,
              filename: `debian-${release.version}.tar.gz`,
              public: options.public ?? false,
            },
            scaled(progress, 75, 100),
            ctx.signal,
          );
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      },
    });
  }

  async #importDirectory(
    project: string,
    image: DirectoryImage,
    options: ImportOptions & { aliases: { name: string; description: string }[] },
    progress: Progress,
    signal: AbortSignal,
  ): Promise<ImportResult> {
    await this.#requireProject(project);
    await this.#checkAliasesFree(project, options.aliases);
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
    const work = await this.#tempDir();
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
      await packTarball(tarball, stage, entries, image.rootfsDir, signal);
      await progress(40, 'Packing image');
      return await this.#importTarball(
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

  async #importTarball(
    project: string,
    source: TarballSource,
    options: ImportOptions & { aliases: { name: string; description: string }[]; owned?: boolean },
    progress: Progress,
    signal: AbortSignal,
  ): Promise<ImportResult> {
    const projectId = await this.#requireProject(project);
    await this.#checkAliasesFree(project, options.aliases);
    const work = await this.#tempDir();
    try {
      await progress(0, 'Reading image');
      const read = await this.#readTarball(
        source,
        work,
        options.owned === true,
        scaled(progress, 0, 50),
        signal,
      );
      const metadata = parseImageMetadata(read.scan.metadataYaml);
      const fingerprint = read.fingerprint;
      const filename =
        options.filename ??
        (typeof source === 'string' ? path.basename(source) : `${fingerprint}.tar.gz`);

      const record = await this.#locks.run(fingerprint, async () => {
        if (await this.#store.get(project, fingerprint)) {
          throw new EngineError(
            'ALREADY_EXISTS',
            `Image with fingerprint "${fingerprint}" already exists in project "${project}"`,
            { field: 'fingerprint' },
          );
        }
        return Reverter.run(async (revert) => {
          if (!(await exists(this.files.tarball(fingerprint)))) {
            await progress(55, 'Unpacking image');
            revert.add(() => this.files.removeAll(fingerprint));
            await this.#unpackInto(fingerprint, read.path, work, signal);
            await rename(read.path, this.files.tarball(fingerprint));
          } else if (!(await exists(this.files.rootfs(fingerprint)))) {
            await progress(55, 'Unpacking image');
            await this.#unpackInto(fingerprint, this.files.tarball(fingerprint), work, signal);
          }
          await progress(95, 'Storing image');
          signal.throwIfAborted();
          const created = await this.#store.create(projectId, {
            fingerprint,
            filename,
            size: read.size,
            public: options.public ?? false,
            autoUpdate: options.autoUpdate ?? false,
            architecture: metadata.architecture,
            type: 'container',
            createdAt: metadata.creationDate ? new Date(metadata.creationDate * 1000) : null,
            expiresAt: metadata.expiryDate ? new Date(metadata.expiryDate * 1000) : null,
            properties: { ...metadata.properties, ...options.properties },
            aliases: options.aliases,
          });
          // Files shared with another project's row must stay.
          revert.add(async () => {
            await this.#store.delete(created.id);
          });
          return created;
        });
      });
      this.#events.lifecycle(project, 'image-created', apiUrl.image(project, fingerprint), {
        type: record.type,
      });
      for (const alias of options.aliases) {
        this.#events.lifecycle(project, 'image-alias-created', aliasUrl(project, alias.name), {
          target: fingerprint,
        });
      }
      await progress(100, 'Done');
      return { fingerprint, size: read.size };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /**
   * One pass over the source: sha256, a copy in `work` (unless the file is
   * ours already), and the entry checks for plain/gzip archives. Other
   * compressions are checked after the host tool decompressed the copy.
   */
  async #readTarball(
    source: TarballSource,
    work: string,
    owned: boolean,
    progress: Progress,
    signal: AbortSignal,
  ): Promise<{ fingerprint: string; size: number; path: string; scan: ArchiveScan }> {
    const copyPath = owned && typeof source === 'string' ? source : path.join(work, 'image');
    const total =
      typeof source === 'string'
        ? (
            await stat(source).catch(() => {
              throw EngineError.invalid('tarball', `cannot read ${source}`);
            })
          ).size
        : 0;
    const input: AsyncIterable<Uint8Array> =
      typeof source === 'string'
        ? createReadStream(source, { highWaterMark: 1024 * 1024 })
        : source;
    const out = copyPath === source ? null : await open(copyPath, 'wx', 0o600);
    const hash = createHash('sha256');
    let scanner: ArchiveScanner | null = null;
    let compression: Compression | null | undefined;
    let head = Buffer.alloc(0);
    let size = 0;
    try {
      for await (const raw of input) {
        signal.throwIfAborted();
        const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
        hash.update(chunk);
        if (out) await out.write(chunk);
        size += chunk.length;
        if (compression === undefined) {
          head = Buffer.concat([head, chunk]);
          if (head.length < 512) continue;
          compression = this.#compressionOf(head);
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
        compression = this.#compressionOf(head);
        if (compression === 'gzip' || compression === 'none') {
          scanner = new ArchiveScanner();
          scanner.write(head);
        }
      }
    } catch (error) {
      if (typeof source !== 'string' && 'destroy' in source && typeof source.destroy === 'function')
        source.destroy();
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
      scan = await this.#scanCompressed(
        copyPath,
        compression as keyof typeof decompressors,
        work,
        signal,
      );
    }
    return { fingerprint: hash.digest('hex'), size, path: copyPath, scan };
  }

  #compressionOf(head: Buffer): Compression {
    const compression = detectCompression(head);
    if (!compression)
      throw EngineError.invalid(
        'tarball',
        'not an image tarball (expected tar, tar.gz, tar.xz, tar.bz2 or tar.zst)',
      );
    return compression;
  }

  /** xz/bzip2/zstd: the host tool decompresses a link to the copy, node-tar reads the result. */
  async #scanCompressed(
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

  /** Extracts `tarball` in `work`, then renames its parts into place. */
  async #unpackInto(
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
    await rm(this.files.rootfs(fingerprint), { recursive: true, force: true });
    await rm(this.files.templates(fingerprint), { recursive: true, force: true });
    await rename(path.join(into, 'rootfs'), this.files.rootfs(fingerprint));
    await rename(path.join(into, 'metadata.yaml'), this.files.metadata(fingerprint));
    if (await exists(path.join(into, 'templates')))
      await rename(path.join(into, 'templates'), this.files.templates(fingerprint));
  }

  // ---------------------------------------------------------- the files

  /** The unpacked rootfs of an image, unpacking it into the cache when missing. */
  async rootfsPath(fingerprint: string): Promise<string> {
    if (!FINGERPRINT.test(fingerprint))
      throw EngineError.invalid('fingerprint', 'must be 64 hexadecimal characters');
    const rootfs = this.files.rootfs(fingerprint);
    if (await exists(rootfs)) return rootfs;
    return this.#locks.run(fingerprint, async () => {
      if (await exists(rootfs)) return rootfs;
      const tarball = this.files.tarball(fingerprint);
      if (!(await exists(tarball))) throw EngineError.notFound('Image', { field: 'fingerprint' });
      const work = await this.#tempDir();
      try {
        await this.#unpackInto(fingerprint, tarball, work, new AbortController().signal);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      return rootfs;
    });
  }

  /**
   * The image's rootfs as `preparation` makes it (for the lxc driver:
   * shifted to one id map), built on first use and kept beside the image
   * until the image is deleted: launches copy it and skip the shift walk,
   * as LXD's image volumes do. Built in a work directory and renamed into
   * place whole, under the image's lock, so a half-built copy is never seen
   * and a delete waits for a build. `plainCopy`: the tree is small and has
   * only directories, files and symlinks without xattrs (copyPlainTree can
   * copy it exactly).
   */
  async preparedRootfs(
    fingerprint: string,
    preparation: RootfsPreparation,
  ): Promise<{ rootfs: string; plainCopy: boolean }> {
    const source = await this.rootfsPath(fingerprint);
    // Only as good as the image it came from: a damaged unpack fails the launch as before.
    if (!(await stat(source)).isDirectory())
      throw EngineError.invalid('source', `rootfs ${source} is not a directory`);
    const dir = this.files.prepared(fingerprint, preparation.key);
    const found = await readPreparedManifest(dir);
    if (found) return found;
    return this.#locks.run(fingerprint, async () => {
      const again = await readPreparedManifest(dir);
      if (again) return again;
      if (!(await exists(source))) throw EngineError.notFound('Image', { field: 'fingerprint' });
      const work = await this.#tempDir();
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

  /** The parsed metadata.yaml of an image (templates for the driver). */
  async metadata(fingerprint: string): Promise<ImageMetadata> {
    await this.rootfsPath(fingerprint);
    return parseImageMetadata(await readFile(this.files.metadata(fingerprint), 'utf8'));
  }

  async exportTarball(project: string, fingerprint: string): Promise<ExportedImage> {
    const record = await this.#record(project, fingerprint);
    const file = this.files.tarball(record.fingerprint);
    if (!(await exists(file)))
      throw new EngineError(
        'INTERNAL',
        `The file of image ${record.fingerprint} is missing from ${this.files.dir}`,
      );
    this.#events.lifecycle(project, 'image-retrieved', apiUrl.image(project, record.fingerprint));
    return {
      fingerprint: record.fingerprint,
      path: file,
      filename: record.filename,
      size: record.size,
      open: () => createReadStream(file),
    };
  }

  /** Deletes the project's image and its aliases; the files go with the last project using them. */
  async delete(project: string, fingerprint: string): Promise<void> {
    const record = await this.#record(project, fingerprint);
    await this.#locks.run(record.fingerprint, async () => {
      await this.#store.delete(record.id);
      if ((await this.#store.countByFingerprint(record.fingerprint)) === 0)
        await this.files.removeAll(record.fingerprint);
    });
    this.#events.lifecycle(project, 'image-deleted', apiUrl.image(project, record.fingerprint));
  }

  /** `PUT /1.0/images/<fp>`-style changes. */
  async update(
    project: string,
    fingerprint: string,
    change: {
      public?: boolean;
      auto_update?: boolean;
      properties?: Record<string, string>;
      expires_at?: string | null;
    },
  ): Promise<Image> {
    const record = await this.#record(project, fingerprint);
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
    await this.#store.update(record.id, {
      ...(change.public === undefined ? {} : { public: change.public }),
      ...(change.auto_update === undefined ? {} : { autoUpdate: change.auto_update }),
      ...(change.properties === undefined ? {} : { properties: change.properties }),
      ...(expiresAt === undefined ? {} : { expiresAt }),
    });
    this.#events.lifecycle(project, 'image-updated', apiUrl.image(project, record.fingerprint));
    return this.get(project, record.fingerprint);
  }

  // ------------------------------------------------------------ aliases

  async listAliases(project: string): Promise<ImageAliasesEntry[]> {
    return (await this.#store.listAliases(project)).map((a) => ({
      name: a.name,
      description: a.description,
      target: a.fingerprint,
      type: a.type as InstanceType,
    }));
  }

  async getAlias(project: string, name: string): Promise<ImageAliasesEntry> {
    const alias = await this.#store.getAlias(project, name);
    if (!alias) throw EngineError.notFound('Image alias', { field: 'name' });
    return {
      name: alias.name,
      description: alias.description,
      target: alias.fingerprint,
      type: alias.type as InstanceType,
    };
  }

  /** The fingerprint an alias points at. */
  async resolveAlias(project: string, name: string): Promise<string> {
    return (await this.getAlias(project, name)).target;
  }

  async createAlias(
    project: string,
    alias: { name: string; target: string; description?: string },
  ): Promise<ImageAliasesEntry> {
    const [normalized] = normalizeAliases([
      { name: alias.name, description: alias.description ?? '' },
    ]);
    const projectId = await this.#requireProject(project);
    const record = await this.#record(project, alias.target);
    await this.#checkAliasesFree(project, [normalized as { name: string }]);
    await this.#store.createAlias(
      projectId,
      record.id,
      normalized as { name: string; description: string },
    );
    this.#events.lifecycle(project, 'image-alias-created', aliasUrl(project, alias.name), {
      target: record.fingerprint,
    });
    return this.getAlias(project, alias.name);
  }

  /** Points an alias at another image and/or changes its description. */
  async updateAlias(
    project: string,
    name: string,
    change: { target?: string; description?: string },
  ): Promise<ImageAliasesEntry> {
    await this.getAlias(project, name);
    const record =
      change.target === undefined ? undefined : await this.#record(project, change.target);
    await this.#store.updateAlias(project, name, {
      ...(record ? { imageId: record.id } : {}),
      ...(change.description === undefined ? {} : { description: change.description }),
    });
    this.#events.lifecycle(
      project,
      'image-alias-updated',
      aliasUrl(project, name),
      record ? { target: record.fingerprint } : undefined,
    );
    return this.getAlias(project, name);
  }

  async renameAlias(project: string, name: string, newName: string): Promise<ImageAliasesEntry> {
    await this.getAlias(project, name);
    normalizeAliases([newName]);
    await this.#checkAliasesFree(project, [{ name: newName }]);
    await this.#store.renameAlias(project, name, newName);
    this.#events.lifecycle(project, 'image-alias-renamed', aliasUrl(project, newName), {
      old_name: name,
    });
    return this.getAlias(project, newName);
  }

  async deleteAlias(project: string, name: string): Promise<void> {
    if (!(await this.#store.deleteAlias(project, name)))
      throw EngineError.notFound('Image alias', { field: 'name' });
    this.#events.lifecycle(project, 'image-alias-deleted', aliasUrl(project, name));
  }

  // ------------------------------------------------------------ helpers

  async #requireProject(project: string): Promise<number> {
    const id = await this.#store.projectId(project);
    if (id === null) throw EngineError.notFound('Project', { field: 'project' });
    return id;
  }

  async #checkAliasesFree(project: string, aliases: { name: string }[]): Promise<void> {
    for (const alias of aliases) {
      if (await this.#store.getAlias(project, alias.name)) {
        throw new EngineError('ALREADY_EXISTS', `Image alias "${alias.name}" already exists`, {
          field: 'aliases',
        });
      }
    }
  }

  /** A work directory in the image directory; the first call sweeps leftovers of a previous process. */
  async #tempDir(): Promise<string> {
    this.#swept ??= this.files.sweep();
    await this.#swept;
    return this.files.tempDir();
  }
}
