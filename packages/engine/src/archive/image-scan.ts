// An image tarball read through the one tar scanner with the image rules
// (image-entry-check.ts): metadata.yaml kept, rootfs/ required (split
// images are not supported), template file names listed.
import { ArchiveEntryChecker, type ArchiveEntry } from './image-entry-check.ts';
import { TarScanner, invalidTarball, type ArchiveLayout } from './tar-scanner.ts';

export interface ArchiveScan {
  /** Entries other than pax/long-name headers. */
  entries: number;
  metadataYaml: string;
  hasTemplates: boolean;
  hasRootfs: boolean;
  /** Template file names found under templates/. */
  templateFiles: string[];
}

class ImageLayout implements ArchiveLayout {
  readonly label = 'Image';
  readonly #checker = new ArchiveEntryChecker();
  readonly templateFiles: string[] = [];
  hasTemplates = false;
  hasRootfs = false;

  check(entry: ArchiveEntry): { path: string; capture: boolean } {
    const checked = this.#checker.check(entry);
    if (checked.section === 'rootfs') this.hasRootfs = true;
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
    if (!this.#layout.hasRootfs)
      throw invalidTarball('Image tarball has no rootfs/ (split images are not supported)');
    return {
      entries,
      metadataYaml,
      hasTemplates: this.#layout.hasTemplates,
      hasRootfs: true,
      templateFiles: this.#layout.templateFiles,
    };
  }
}
