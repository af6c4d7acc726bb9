// The Debian VM image's disk from its finished tree, as LXD's VM images
// have it: a GPT with an EFI system partition (FAT, shim and GRUB:
// debian-vm-uefi.ts) and the ext4 root filesystem after it, booted through
// UEFI (no boot/ beside it). Made without a mount, a loop device or a VM:
// each filesystem is built in a file of its own (`mke2fs -d` from the
// tree, `mkfs.vfat` then mtools' `mcopy` for the ESP), sfdisk writes the
// partition table into a sparse raw file of the whole disk, the two
// filesystems are copied in at their partitions' offsets, and the result
// is converted to a compact qcow2, which holds only what is used.
import { open, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';
import { espFiles, espGrubCfg, type DebianVmDiskIds } from './debian-vm-uefi.ts';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/** The filesystem's smallest size: free space costs nothing in a qcow2, and a user has room to install. */
export const DEBIAN_VM_DISK_MIN_BYTES = 4 * GIB;

/**
 * The filesystem size for a tree of `usedBytes`: its files, ext4's own
 * (journal, inode tables, the 5 % kept for root) and a GiB of headroom; at
 * least DEBIAN_VM_DISK_MIN_BYTES, whole MiB.
 */
export function debianVmDiskBytes(usedBytes: number): number {
  const wanted = usedBytes * 1.15 + GIB;
  return Math.max(DEBIAN_VM_DISK_MIN_BYTES, Math.ceil(wanted / MIB) * MIB);
}

/** The one kernel version in the tree's /boot (`vmlinuz-<version>` with its `initrd.img-<version>`). */
export function kernelVersionIn(bootFiles: readonly string[]): string {
  const versions = bootFiles
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => bootFiles.includes(`initrd.img-${v}`));
  if (versions.length !== 1) {
    throw new EngineError(
      'INTERNAL',
      `expected one kernel with its initramfs in the image's /boot, found ${versions.length} (${bootFiles.join(', ') || 'nothing'})`,
    );
  }
  return versions[0]!;
}

/** The version of the one kernel in the tree's /boot. */
export async function kernelVersionOf(tree: string): Promise<string> {
  return kernelVersionIn(await readdir(path.join(tree, 'boot')));
}

/** Bytes the tree takes on the host's disk (`du`: allocated blocks, hard links once). */
async function treeBytes(tree: string, signal?: AbortSignal): Promise<number> {
  const out = await runCommand('du', ['-s', '-x', '-B1', tree], {
    timeoutMs: 5 * 60_000,
    ...(signal ? { signal } : {}),
  });
  const bytes = Number(out.stdout.split(/\s/)[0]);
  if (!Number.isSafeInteger(bytes) || bytes <= 0)
    throw new EngineError('INTERNAL', `du gave no size for ${tree}: ${out.stdout.trim()}`);
  return bytes;
}

const SECTOR = 512;
/** The ESP's size: room for shim, GRUB and MokManager twice over, and FAT32's minimum cluster count. */
export const ESP_BYTES = 100 * MIB;
const GPT_TYPE_ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const GPT_TYPE_LINUX = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

export interface DiskLayout {
  /** Byte offsets and sizes, all whole MiB. */
  espOffset: number;
  espBytes: number;
  rootOffset: number;
  rootBytes: number;
  /** The disk: both partitions, the GPT before them and its backup copy after, to a whole MiB. */
  totalBytes: number;
}

/** The first partition at 1 MiB (sfdisk's alignment), the ESP then the root filesystem, 1 MiB at the end for the backup GPT. */
export function debianVmDiskLayout(rootBytes: number): DiskLayout {
  const espOffset = MIB;
  const rootOffset = espOffset + ESP_BYTES;
  return {
    espOffset,
    espBytes: ESP_BYTES,
    rootOffset,
    rootBytes,
    totalBytes: rootOffset + rootBytes + MIB,
  };
}

/** sfdisk's script for the layout (sizes in sectors). */
export function sfdiskScript(layout: DiskLayout): string {
  const part = (offset: number, bytes: number, type: string, name: string) =>
    `start=${offset / SECTOR}, size=${bytes / SECTOR}, type=${type}, name="${name}"`;
  return [
    'label: gpt',
    'unit: sectors',
    part(layout.espOffset, layout.espBytes, GPT_TYPE_ESP, 'EFI System'),
    part(layout.rootOffset, layout.rootBytes, GPT_TYPE_LINUX, 'rootfs'),
    '',
  ].join('\n');
}

type RunOptions = { timeoutMs: number; signal?: AbortSignal };

async function run(command: string, args: string[], opts: RunOptions): Promise<void> {
  const result = await runCommand(command, args, { ...opts, allowFailure: true });
  if (result.exitCode !== 0) {
    throw new EngineError(
      'INTERNAL',
      `${command} failed (exit ${result.exitCode}): ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
}

/** A sparse file of `bytes`. */
async function sparseFile(file: string, bytes: number): Promise<void> {
  const handle = await open(file, 'w', 0o600);
  try {
    await handle.truncate(bytes);
  } finally {
    await handle.close();
  }
}

/** The ESP as a FAT32 image holding shim, GRUB and GRUB's first config (from the tree's packages). */
async function makeEsp(tree: string, file: string, ids: DebianVmDiskIds, opts: RunOptions) {
  await sparseFile(file, ESP_BYTES);
  await run('mkfs.vfat', ['-F', '32', '-n', 'EFI', '-i', ids.espVolumeId, file], opts);
  // mtools reads its drive from -i; no mtoolsrc of the host's may redirect it.
  const mtools = { ...opts, env: { MTOOLS_SKIP_CHECK: '1', MTOOLSRC: '/dev/null' } };
  await run('mmd', ['-i', file, '::/EFI', '::/EFI/BOOT', '::/EFI/debian'], mtools);
  for (const { from, to } of espFiles(tree))
    await run('mcopy', ['-i', file, from, `::${to}`], mtools);
  const cfg = `${file}.grub.cfg`;
  const handle = await open(cfg, 'w', 0o644);
  try {
    await handle.writeFile(espGrubCfg(ids.rootUuid));
  } finally {
    await handle.close();
  }
  await run('mcopy', ['-i', file, cfg, '::/EFI/debian/grub.cfg'], mtools);
  await rm(cfg, { force: true });
}

/**
 * Writes `out` (qcow2): the GPT disk, with the ESP and an ext4 filesystem
 * holding `tree` (owners, modes, links and file capabilities as they are;
 * the engine builds as root). Returns the disk's size.
 */
export async function makeUefiDisk(
  tree: string,
  out: string,
  ids: DebianVmDiskIds,
  signal?: AbortSignal,
): Promise<number> {
  const opts: RunOptions = { timeoutMs: 30 * 60_000, ...(signal ? { signal } : {}) };
  const layout = debianVmDiskLayout(debianVmDiskBytes(await treeBytes(tree, signal)));
  const root = `${out}.root`;
  const esp = `${out}.esp`;
  const disk = `${out}.raw`;
  try {
    await run(
      'mke2fs',
      [
        '-q',
        '-F',
        '-t',
        'ext4',
        '-L',
        'rootfs',
        '-U',
        ids.rootUuid,
        '-d',
        tree,
        root,
        `${layout.rootBytes / 1024}k`,
      ],
      opts,
    );
    await makeEsp(tree, esp, ids, opts);
    await sparseFile(disk, layout.totalBytes);
    const table = await runCommand('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', disk], {
      ...opts,
      input: sfdiskScript(layout),
      allowFailure: true,
    });
    if (table.exitCode !== 0)
      throw new EngineError(
        'INTERNAL',
        `sfdisk failed (exit ${table.exitCode}): ${table.stderr.trim()}`,
      );
    // Each filesystem at its partition's offset; holes stay holes.
    for (const [file, offset] of [
      [esp, layout.espOffset],
      [root, layout.rootOffset],
    ] as const) {
      await run(
        'dd',
        [
          `if=${file}`,
          `of=${disk}`,
          'bs=1M',
          `seek=${offset / MIB}`,
          'conv=notrunc,sparse',
          'status=none',
        ],
        opts,
      );
    }
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', disk, out], opts);
  } finally {
    await Promise.all([root, esp, disk].map((f) => rm(f, { force: true })));
  }
  return layout.totalBytes;
}
