// An image tarball read through the one tar scanner with the image rules
// (image-entry-check.ts): metadata.yaml kept, template file names listed,
// and the image's type told by what it carries, as LXD tells it: rootfs/
// is a container's, rootfs.img a virtual machine's (boot/ only beside it).
// A split image's metadata tarball is read by the same rules with no rootfs
// at all (MetadataScanner): its type comes from the other file.
import {
  ArchiveEntryChecker,
  type ArchiveEntry,
  type ArchiveWhere,
  type ImageArchiveMode,
} from './image-entry-check.ts';
import { EngineError } from '../errors.ts';
import {
  TarScanner,
  invalidTarball,
  type ArchiveLayout,
  type TarScanOptions,
} from './tar-scanner.ts';

export interface ArchiveScan {
  /** Entries other than pax/long-name headers. */
  entries: number;
  metadataYaml: string;
  hasTemplates: boolean;
  type: 'container' | 'virtual-machine';
  /** Template file names found under templates/. */
  templateFiles: string[];
}

/** What a split image's metadata tarball holds: the same, without a type. */
export type MetadataScan = Omit<ArchiveScan, 'type'>;

/** How a metadata tarball's refusals read. */
export const METADATA_TARBALL: ArchiveWhere = { label: 'Metadata tarball', field: 'metadata' };

class ImageLayout implements ArchiveLayout {
  readonly label: string;
  readonly #checker: ArchiveEntryChecker;
  readonly templateFiles: string[] = [];
  hasTemplates = false;
  hasRootfs = false;
  hasDisk = false;
  hasBoot = false;

  constructor(mode: Exclude<ImageArchiveMode, 'rootfs'>) {
    this.label = mode === 'metadata' ? 'Metadata' : 'Image';
    this.#checker = new ArchiveEntryChecker(
      mode === 'metadata' ? { mode, where: METADATA_TARBALL } : { mode },
    );
  }

  check(entry: ArchiveEntry): { path: string; capture: boolean } {
    const checked = this.#checker.check(entry);
    if (checked.section === 'rootfs') this.hasRootfs = true;
    if (checked.section === 'disk') this.hasDisk = true;
    if (checked.section === 'boot') this.hasBoot = true;
    if (checked.section === 'templates') {
      this.hasTemplates = true;
      if (checked.kind === 'file') this.templateFiles.push(checked.path.slice('templates/'.length));
    }
    return { path: checked.path, capture: checked.section === 'metadata' };
  }
}

/** Feed it the archive's bytes (plain or gzip) with `write`, then `end`. */
export class ArchiveScanner {
  readonly #layout = new ImageLayout('unified');
  readonly #scanner: TarScanner;

  constructor(options: TarScanOptions = {}) {
    this.#scanner = new TarScanner(this.#layout, options);
  }

  /** Throws the first problem found so far, so a caller can stop reading. */
  write(chunk: Buffer): void {
    this.#scanner.write(chunk);
  }

  async end(): Promise<ArchiveScan> {
    const { entries, captured } = await this.#scanner.end();
    const metadataYaml = captured.get('metadata.yaml');
    if (metadataYaml === undefined) throw invalidTarball('Image tarball has no metadata.yaml');
    const { hasRootfs, hasDisk, hasBoot } = this.#layout;
    if (hasRootfs && (hasDisk || hasBoot))
      throw invalidTarball(
        "Image tarball has both rootfs/ (a container's) and rootfs.img or boot/ (a virtual machine's)",
      );
    if (hasBoot && !hasDisk)
      throw invalidTarball('Image tarball has boot/ but no rootfs.img (the disk it boots)');
    if (!hasRootfs && !hasDisk)
      throw invalidTarball(
        'Image tarball has neither rootfs/ (a container) nor rootfs.img (a virtual machine)',
      );
    return {
      entries,
      metadataYaml,
      hasTemplates: this.#layout.hasTemplates,
      type: hasDisk ? 'virtual-machine' : 'container',
      templateFiles: this.#layout.templateFiles,
    };
  }
}

/**
 * A split image's metadata tarball (plain or gzip bytes, as ArchiveScanner):
 * metadata.yaml and templates/ only. Refusals name the `metadata` field.
 */
export class MetadataScanner {
  readonly #layout = new ImageLayout('metadata');
  readonly #scanner: TarScanner;

  constructor(options: TarScanOptions = {}) {
    this.#scanner = new TarScanner(this.#layout, options);
  }

  write(chunk: Buffer): void {
    rewrapped(() => this.#scanner.write(chunk));
  }

  async end(): Promise<MetadataScan> {
    const { entries, captured } = await rewrappedAsync(() => this.#scanner.end());
    const metadataYaml = captured.get('metadata.yaml');
    if (metadataYaml === undefined)
      throw EngineError.invalid('metadata', 'the metadata tarball has no metadata.yaml');
    return {
      entries,
      metadataYaml,
      hasTemplates: this.#layout.hasTemplates,
      templateFiles: this.#layout.templateFiles,
    };
  }
}

/** The tar scanner's own refusals (corrupt, truncated) name `tarball`: this file is `metadata`. */
function asMetadataError(error: unknown): unknown {
  if (error instanceof EngineError && error.field === 'tarball')
    return new EngineError(error.code, error.message, { field: 'metadata', cause: error });
  return error;
}

function rewrapped(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    throw asMetadataError(error);
  }
}

async function rewrappedAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw asMetadataError(error);
  }
}
