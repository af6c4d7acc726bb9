// The image directory, `<dataDir>/images`:
//   <fingerprint>                the image tarball exactly as imported (its sha256 is the name);
//                                for a split image, its metadata tarball
//   <fingerprint>.rootfs-file    a split image's rootfs file exactly as imported (a container's
//                                squashfs, a VM's qcow2 or raw disk); the fingerprint is the
//                                sha256 of <fingerprint> then this file, as LXD's. Its presence
//                                is what makes the image split (LXD keeps it as `<fp>.rootfs`,
//                                the name Berth gives the unpacked tree)
//   <fingerprint>.rootfs/        unpacked rootfs/, owned as in the tarball (a VM image: its
//                                rootfs.img and boot/); read-only by convention:
//                                instances copy it, nothing writes into it
//   <fingerprint>.metadata.yaml  the tarball's metadata.yaml
//   <fingerprint>.templates/     the tarball's templates/, when it has some
//   <fingerprint>.prepared-<key>/  rootfs/ as a driver prepares it (shifted to one id map) and
//                                manifest.json; built once, renamed into place whole, removed
//                                with the image; read-only by convention like the rootfs
//   .tmp-<uuid>/                 work in progress; renamed into place at the end, swept at start
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';

const TMP_PREFIX = '.tmp-';

export class ImageFiles {
  readonly dir: string;
  readonly #cacheDir: string;

  constructor(dataDir: string, cacheDir = path.join(dataDir, 'cache')) {
    this.dir = path.join(dataDir, 'images');
    this.#cacheDir = cacheDir;
  }

  /** Downloads a builder keeps between builds (`<cacheDir>/<name>`), e.g. kernel packages. */
  cache(name: string): string {
    return path.join(this.#cacheDir, name);
  }

  tarball(fingerprint: string): string {
    return path.join(this.dir, fingerprint);
  }

  rootfs(fingerprint: string): string {
    return path.join(this.dir, `${fingerprint}.rootfs`);
  }

  /** A split image's rootfs file, as imported (see the header). */
  rootfsFile(fingerprint: string): string {
    return path.join(this.dir, `${fingerprint}.rootfs-file`);
  }

  metadata(fingerprint: string): string {
    return path.join(this.dir, `${fingerprint}.metadata.yaml`);
  }

  templates(fingerprint: string): string {
    return path.join(this.dir, `${fingerprint}.templates`);
  }

  /** The prepared copy of the rootfs for one driver preparation key (see RootfsPreparation). */
  prepared(fingerprint: string, key: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(key))
      throw EngineError.invalid('key', `"${key}" is not a preparation key`);
    return path.join(this.dir, `${fingerprint}.prepared-${key}`);
  }

  /** A fresh work directory inside the image directory (same filesystem, so renames are atomic). */
  async tempDir(): Promise<string> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const dir = path.join(this.dir, `${TMP_PREFIX}${randomUUID()}`);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  /** Removes work directories a previous process left behind. */
  async sweep(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    await Promise.all(
      names
        .filter((n) => n.startsWith(TMP_PREFIX))
        .map((n) => rm(path.join(this.dir, n), { recursive: true, force: true })),
    );
  }

  async removeAll(fingerprint: string): Promise<void> {
    // The tarball first: without it the image counts as absent.
    await rm(this.tarball(fingerprint), { force: true });
    let names: string[] = [];
    try {
      names = await readdir(this.dir);
    } catch {
      // no image directory: nothing prepared either
    }
    await Promise.all([
      rm(this.rootfsFile(fingerprint), { force: true }),
      rm(this.metadata(fingerprint), { force: true }),
      rm(this.rootfs(fingerprint), { recursive: true, force: true }),
      rm(this.templates(fingerprint), { recursive: true, force: true }),
      ...names
        .filter((n) => n.startsWith(`${fingerprint}.prepared-`))
        .map((n) => rm(path.join(this.dir, n), { recursive: true, force: true })),
    ]);
  }
}

/** GNU tar packs a container's tree with its owners as numbers and its file capabilities. */
export const TAR_PACK_OWNERSHIP = [
  '--numeric-owner',
  '--xattrs',
  '--xattrs-include=security.capability',
];

/** GNU tar, as root: ownership, modes, setuid bits, symlinks and file capabilities kept. */
export async function extractTarball(
  tarball: string,
  into: string,
  signal?: AbortSignal,
): Promise<void> {
  await runCommand(
    'tar',
    [
      '-x',
      '-f',
      tarball,
      '-C',
      into,
      '--numeric-owner',
      '--same-owner',
      '--same-permissions',
      '--xattrs',
      '--xattrs-include=security.capability',
    ],
    { timeoutMs: 60 * 60_000, ...(signal ? { signal } : {}) },
  ).catch((error: unknown) => {
    throw new EngineError('INTERNAL', `Unpacking the image failed: ${(error as Error).message}`, {
      cause: error,
    });
  });
}

/**
 * Packs `stageDir` (metadata.yaml, templates/) and `rootfsDir` into one
 * gzip'd unified image tarball. A container's tree goes in as rootfs/: its
 * names are rewritten, but not symlink targets (`S`), which are the
 * container's paths. A VM's folder holds `rootfs.img` (and `boot/`), which
 * go in at the top, as LXD lays out a VM image.
 */
export async function packTarball(
  out: string,
  stageDir: string,
  stageEntries: string[],
  rootfsDir: string,
  type: 'container' | 'virtual-machine',
  signal?: AbortSignal,
): Promise<void> {
  const content =
    type === 'container'
      ? ['--transform=s,^\\.,rootfs,S', '-C', rootfsDir, '.']
      : [
          // Not --sparse: GNU sparse members are refused by the scanner (archive/image-entry-check.ts).
          '-C',
          rootfsDir,
          'rootfs.img',
          ...(existsSync(path.join(rootfsDir, 'boot')) ? ['boot'] : []),
        ];
  await runCommand(
    'tar',
    [
      '-c',
      '-z',
      '-f',
      out,
      ...TAR_PACK_OWNERSHIP,
      '--sort=name',
      '-C',
      stageDir,
      ...stageEntries,
      ...content,
    ],
    { timeoutMs: 60 * 60_000, ...(signal ? { signal } : {}) },
  );
}
