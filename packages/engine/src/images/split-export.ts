// A split image's two stored files as an export hands them out, named as
// LXD names them (lxd/images.go imageExport): `meta-<fp><ext>` for the
// metadata tarball and `<fp><ext>` for the rootfs file, each extension told
// by the file's own first bytes. `lxc image export` saves them under these
// names.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { detectCompression, type Compression } from '../archive/compression.ts';
import { rootfsFormatOf, type RootfsFormat } from './split-rootfs.ts';
import { readHead } from './tarball-read.ts';

const TARBALL_EXTENSION: Record<Compression, string> = {
  none: '.tar',
  gzip: '.tar.gz',
  xz: '.tar.xz',
  bzip2: '.tar.bz2',
  zstd: '.tar.zst',
};

/** LXD gives a raw disk no extension (it knows no compression of it). */
const ROOTFS_EXTENSION: Record<RootfsFormat, string> = {
  squashfs: '.squashfs',
  qcow2: '.qcow2',
  raw: '',
};

async function exported(file: string, filename: string) {
  return {
    path: file,
    size: (await stat(file)).size,
    filename,
    open: () => createReadStream(file),
  };
}

export async function splitExport(
  metadataFile: string,
  rootfsFile: string,
  fingerprint: string,
  type: string,
) {
  const compression = detectCompression(await readHead(metadataFile)) ?? 'none';
  const format = rootfsFormatOf(await readHead(rootfsFile));
  return {
    metadata: await exported(metadataFile, `meta-${fingerprint}${TARBALL_EXTENSION[compression]}`),
    rootfs: {
      ...(await exported(rootfsFile, `${fingerprint}${ROOTFS_EXTENSION[format]}`)),
      part: type === 'virtual-machine' ? ('rootfs.img' as const) : ('rootfs' as const),
    },
  };
}
