// A virtual machine's disks from an unpacked backup (layout in
// backup-export-vm.ts). Each disk is checked before anything is created:
// a regular file holding a qcow2 or raw image that stands alone
// (images/vm-disk.ts), since a qcow2 header can name any host file as its
// backing file or data file, which QEMU would then hand to the guest. A
// checked disk becomes the volume's `rootfs/rootfs.img`, the image disk a
// fresh overlay is made on (drivers/qemu/root-disk.ts, which names its
// format explicitly so it is never probed again), with its boot files in
// `rootfs/boot/`, as a VM launched from an image has them; a UEFI VM's
// variable store (`qemu.nvram`) goes beside `rootfs/`, where its firmware
// reads it (drivers/qemu/vm-firmware.ts, which remakes one that does not fit
// this host's OVMF).
import { lstat, readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { refuseEntry, vmDiskPath } from '../archive/backup-entry-check.ts';
import { IMAGE_DISK } from '../drivers/qemu/root-disk.ts';
import { NVRAM_FILE } from '../drivers/qemu/vm-firmware.ts';
import { isEngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';
import { inspectImageDisk } from '../images/vm-disk.ts';
import { BOOT_DIR } from '../storage/vm-volume-disk.ts';

/** The tree of the VM or of one of its snapshots in the backup. */
export function vmTreeOf(snapshot?: string): string {
  return snapshot === undefined ? 'virtual-machine' : `virtual-machine-snapshots/${snapshot}`;
}

/**
 * Refuses a disk (or boot files) that is not what it must be, naming its
 * entry; a raw disk is made sparse again on the way.
 */
export async function checkVmTree(
  unpacked: string,
  tree: string,
  signal: AbortSignal,
): Promise<void> {
  const entry = vmDiskPath(tree);
  const disk = path.join(unpacked, entry);
  const info = await lstat(disk).catch(() => null);
  if (!info?.isFile()) throw refuseEntry(entry, 'is not a regular file after unpacking');
  let format: string;
  try {
    ({ format } = await inspectImageDisk(disk, signal));
  } catch (error) {
    if (!isEngineError(error)) throw error;
    throw refuseEntry(entry, error.message.replace(/^rootfs\.img: /, ''));
  }
  // LXD writes its raw disks whole: give the zeros back to the filesystem (where it can).
  if (format === 'raw')
    await runCommand('fallocate', ['--dig-holes', disk], {
      timeoutMs: 60 * 60_000,
      allowFailure: true,
      signal,
    });
  const nvram = await lstat(path.join(unpacked, 'backup', tree, NVRAM_FILE)).catch(() => null);
  if (nvram !== null && !nvram.isFile())
    throw refuseEntry(`backup/${tree}/${NVRAM_FILE}`, 'is not a regular file');
  if (nvram !== null && nvram.size > MAX_NVRAM_BYTES)
    throw refuseEntry(
      `backup/${tree}/${NVRAM_FILE}`,
      `is ${nvram.size} bytes, more than a UEFI variable store holds (${MAX_NVRAM_BYTES})`,
    );
  const boot = path.join(unpacked, 'backup', tree, BOOT_DIR);
  const bootInfo = await lstat(boot).catch(() => null);
  if (bootInfo === null) return;
  if (!bootInfo.isDirectory())
    throw refuseEntry(`backup/${tree}/${BOOT_DIR}`, 'is not a directory after unpacking');
  for (const name of await readdir(boot)) {
    if (!(await lstat(path.join(boot, name))).isFile())
      throw refuseEntry(`backup/${tree}/${BOOT_DIR}/${name}`, 'is not a regular file');
  }
}

/** OVMF's stores are 128 KiB to 4 MiB; anything far larger is not one. */
const MAX_NVRAM_BYTES = 64 * 1024 * 1024;

/** Moves a checked disk and its boot files into a volume's (empty) `rootfs/`, its variable store beside it. */
export async function placeVmTree(unpacked: string, tree: string, rootfs: string): Promise<void> {
  await rename(path.join(unpacked, vmDiskPath(tree)), path.join(rootfs, IMAGE_DISK));
  const nvram = path.join(unpacked, 'backup', tree, NVRAM_FILE);
  if ((await lstat(nvram).catch(() => null))?.isFile())
    await rename(nvram, path.join(path.dirname(rootfs), NVRAM_FILE));
  const boot = path.join(unpacked, 'backup', tree, BOOT_DIR);
  if ((await lstat(boot).catch(() => null))?.isDirectory())
    await rename(boot, path.join(rootfs, BOOT_DIR));
}
