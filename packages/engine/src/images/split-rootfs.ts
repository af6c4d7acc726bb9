// The rootfs file of a split image (LXD's `rootfs` or `rootfs.img` part):
// what it is, told by its first bytes; its checks before it is stored; and
// its unpacking beside the metadata tarball's files.
//
// * A container's is a squashfs. Its superblock's size must fit the file
//   (a truncated one is refused by name), and its listing passes the image
//   entry rules (archive/squashfs-listing.ts) before `unsquashfs` writes
//   anything. unsquashfs, run as root, keeps owners, modes, setuid bits and
//   xattrs (as LXD's unpack does) and refuses entry names holding `/` or
//   `..` itself; -d is a fresh work directory.
// * A VM's is its disk, qcow2 or raw, which must stand alone (vm-disk.ts);
//   a qcow2 is also `qemu-img check`ed, since `qemu-img info` reads only
//   the header and a truncated disk would fail only once the guest reads it.
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';
import { checkSquashfsListing } from '../archive/squashfs-listing.ts';
import { inspectImageDisk } from './vm-disk.ts';

export type RootfsFormat = 'squashfs' | 'qcow2' | 'raw';

const SQUASHFS_MAGIC = Buffer.from('hsqs', 'latin1');
const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);
/** Where a squashfs superblock keeps the bytes the filesystem uses (u64, little-endian). */
const SQUASHFS_BYTES_USED_OFFSET = 40;
const SQUASHFS_SUPERBLOCK_SIZE = 96;
const TIMEOUT_MS = 60 * 60_000;

/** From the file's first bytes: squashfs and qcow2 by their magic, anything else raw. */
export function rootfsFormatOf(head: Buffer): RootfsFormat {
  if (head.subarray(0, 4).equals(SQUASHFS_MAGIC)) return 'squashfs';
  if (head.subarray(0, 4).equals(QCOW2_MAGIC)) return 'qcow2';
  return 'raw';
}

/** The instance type a rootfs file makes, or a refusal naming the part. */
export function splitImageType(
  format: RootfsFormat,
  declared: 'container' | 'virtual-machine' | undefined,
): 'container' | 'virtual-machine' {
  const type = declared ?? (format === 'squashfs' ? 'container' : 'virtual-machine');
  if (type === 'container' && format !== 'squashfs')
    throw EngineError.invalid(
      'rootfs',
      `a container's rootfs file must be a squashfs (this one is ${format === 'qcow2' ? 'a qcow2 disk: send it as rootfs.img for a virtual machine' : 'not one'})`,
    );
  if (type === 'virtual-machine' && format === 'squashfs')
    throw EngineError.invalid(
      'rootfs.img',
      "a virtual machine's rootfs.img must be a qcow2 or raw disk, not a squashfs",
    );
  return type;
}

/** `head`: at least the first 96 bytes, `size`: the file's. */
export function checkSquashfsSize(head: Buffer, size: number): void {
  if (head.length < SQUASHFS_SUPERBLOCK_SIZE)
    throw EngineError.invalid('rootfs', 'the squashfs is truncated (no whole superblock)');
  const used = head.readBigUInt64LE(SQUASHFS_BYTES_USED_OFFSET);
  if (used > BigInt(size))
    throw EngineError.invalid(
      'rootfs',
      `the squashfs is truncated: it is ${size} bytes, its superblock says ${used}`,
    );
}

function unsquashfsFailed(what: string, error: unknown): EngineError {
  const lines = (error as Error).message.split('\n').filter((l) => l.trim() !== '');
  return new EngineError(
    'INVALID_ARGUMENT',
    `rootfs: unsquashfs cannot ${what} the squashfs (corrupt or truncated): ${lines.at(-1) ?? ''}`,
    { field: 'rootfs', cause: error },
  );
}

/** Lists the squashfs and checks every entry; returns how many it has. */
export async function checkSquashfs(file: string, signal: AbortSignal): Promise<number> {
  const out = await runCommand('unsquashfs', ['-lln', '-d', 'rootfs', file], {
    timeoutMs: TIMEOUT_MS,
    maxOutputBytes: 512 * 1024 * 1024,
    signal,
  }).catch((error: unknown) => {
    throw unsquashfsFailed('read', error);
  });
  return checkSquashfsListing(out.stdout);
}

/** Unpacks a checked squashfs as the directory `into`, which must not exist yet. */
export async function extractSquashfs(
  file: string,
  into: string,
  signal?: AbortSignal,
): Promise<void> {
  await runCommand('unsquashfs', ['-n', '-d', into, file], {
    timeoutMs: TIMEOUT_MS,
    ...(signal ? { signal } : {}),
  }).catch((error: unknown) => {
    throw unsquashfsFailed('unpack', error);
  });
}

interface QemuImgCheck {
  corruptions?: number;
  'check-errors'?: number;
}

/** A VM's split disk: standalone qcow2 or raw, and a qcow2 whole. */
export async function checkSplitDisk(file: string, signal: AbortSignal): Promise<void> {
  const { format } = await inspectImageDisk(file, signal);
  if (format !== 'qcow2') return;
  // Exit 2: corruptions, 3: only leaked clusters (harmless), 1: the check could not run.
  const result = await runCommand('qemu-img', ['check', '-f', 'qcow2', '--output=json', file], {
    timeoutMs: TIMEOUT_MS,
    allowFailure: true,
    signal,
  });
  let report: QemuImgCheck = {};
  try {
    report = JSON.parse(result.stdout) as QemuImgCheck;
  } catch {
    // no report: judged by the exit status below
  }
  const corruptions = (report.corruptions ?? 0) + (report['check-errors'] ?? 0);
  if (corruptions > 0)
    throw EngineError.invalid(
      'rootfs.img',
      `the qcow2 disk is corrupt or truncated (qemu-img check found ${corruptions} error${corruptions === 1 ? '' : 's'})`,
    );
  if (result.exitCode !== 0 && result.exitCode !== 3) {
    const why = result.stderr.trim().split('\n').pop() ?? '';
    throw EngineError.invalid('rootfs.img', `qemu-img check cannot read the qcow2 disk: ${why}`);
  }
}

/** The disk copied as rootfs.img: a copy (not a link), so nothing can change the stored file. */
export async function copyDisk(file: string, to: string, signal?: AbortSignal): Promise<void> {
  await runCommand('cp', ['--reflink=auto', '--sparse=always', '--', file, to], {
    timeoutMs: TIMEOUT_MS,
    ...(signal ? { signal } : {}),
  }).catch((error: unknown) => {
    throw new EngineError(
      'INTERNAL',
      `Copying the image's disk failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  });
}

/**
 * Unpacks a checked rootfs file into `into` as a unified tarball's parts
 * would be: a squashfs as `into/rootfs/`, a disk as `into/rootfs.img`.
 */
export async function unpackRootfsFile(
  file: string,
  format: RootfsFormat,
  into: string,
  signal?: AbortSignal,
): Promise<void> {
  if (format === 'squashfs') await extractSquashfs(file, `${into}/rootfs`, signal);
  else await copyDisk(file, `${into}/rootfs.img`, signal);
}
