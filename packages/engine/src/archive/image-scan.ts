// An image tarball read through the one tar scanner with the image rules
// (image-entry-check.ts): metadata.yaml kept, template file names listed,
// and the image's type told by what it carries, as LXD tells it: rootfs/
// is a container's, rootfs.img a virtual machine's (boot/ only beside it).
import { ArchiveEntryChecker, type ArchiveEntry } from './image-entry-check.ts';
import { TarScanner, invalidTarball, type ArchiveLayout } from './tar-scanner.ts';

export interface ArchiveScan {
  /** Entries other than pax/long-name headers. */
  entries: number;
  metadataYaml: string;
  hasTemplates: boolean;
  type: 'container' | 'virtual-machine';
  /** Template file names found under templates/. */
  templateFiles: string[];
}

class ImageLayout implements ArchiveLayout {
  readonly label = 'Image';
  readonly #checker = new ArchiveEntryChecker();
  readonly templateFiles: string[] = [];
  hasTemplates = false;
  hasRootfs = false;
  hasDisk = false;
  hasBoot = false;

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
  readonly #layout = new ImageLayout();
  readonly #scanner = new TarScanner(this.#layout);

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
