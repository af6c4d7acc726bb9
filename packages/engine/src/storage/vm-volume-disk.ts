// A virtual machine's volume as one standalone disk, for what leaves the
// volume (a backup, a published image): `root.qcow2`, the overlay the VM
// writes (drivers/qemu/root-disk.ts), merged with its backing image
// (`rootfs/rootfs.img`) by `qemu-img convert` into one qcow2 that names no
// backing file; the boot files (`rootfs/boot/`) go beside it. The copy reads
// only allocated clusters and writes no zeros, so a mostly empty disk stays
// small however large it looks to the guest.
//
// `holdVmVolume` takes what that needs out of a volume in an instant (under
// the instance's lock, and for a running VM while it is quiesced), so the
// long conversion runs after both are released.
import { existsSync } from 'node:fs';
import { copyFile, link, lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_ROOT_SIZE, IMAGE_DISK, ROOT_DISK } from '../drivers/qemu/root-disk.ts';
import { NVRAM_FILE } from '../drivers/qemu/vm-firmware.ts';
import { runCommand } from '../host/run-command.ts';
import { inspectImageDisk } from '../images/vm-disk.ts';
import { copyTree } from './tree-ops.ts';

/** A large disk on a slow pool takes a while; this only bounds a hang. */
const CONVERT_TIMEOUT_MS = 6 * 60 * 60_000;

/** The boot files a direct-kernel-boot VM keeps in its volume (drivers/qemu/qemu-paths.ts). */
export const BOOT_DIR = 'boot';

/**
 * Makes `into` (a new folder on the volume's filesystem) a private image of
 * the volume's disk: the overlay copied (a reflink where the filesystem can)
 * when the VM may write it later (`writable`: the instance's own volume),
 * hard-linked otherwise (a snapshot: nothing writes it again); the image's
 * disk hard-linked (only ever read, root-disk.ts); the boot files and the
 * UEFI variable store copied.
 * A later delete, restore or start of the instance changes none of it.
 */
export async function holdVmVolume(
  volumeDir: string,
  into: string,
  options: { writable: boolean; signal?: AbortSignal },
): Promise<void> {
  await mkdir(path.join(into, 'rootfs'), { recursive: true, mode: 0o700 });
  const overlay = path.join(volumeDir, ROOT_DISK);
  if (existsSync(overlay)) {
    if (options.writable) await copyTree(overlay, path.join(into, ROOT_DISK), options.signal);
    else await link(overlay, path.join(into, ROOT_DISK));
  }
  const imageDisk = path.join(volumeDir, 'rootfs', IMAGE_DISK);
  if (existsSync(imageDisk)) await link(imageDisk, path.join(into, 'rootfs', IMAGE_DISK));
  await copyVmBootFiles(volumeDir, path.join(into, 'rootfs'));
  await copyVmNvram(volumeDir, into);
}

/**
 * Copies a UEFI VM's variable store (`qemu.nvram`, drivers/qemu/vm-firmware.ts:
 * boot entries, enrolled keys, what the guest wrote) from one folder to
 * another, where LXD's backups keep it too; false when it has none (a VM
 * that boots its kernel directly, or never started).
 */
export async function copyVmNvram(fromDir: string, toDir: string): Promise<boolean> {
  const from = path.join(fromDir, NVRAM_FILE);
  if (!(await lstat(from).catch(() => null))?.isFile()) return false;
  await copyFile(from, path.join(toDir, NVRAM_FILE));
  return true;
}

export interface FlattenOptions {
  /** qcow2's own compression (LXD compresses the disk of a published image); default off. */
  compress?: boolean;
  /** The disk's size when the volume has none yet (a VM never started): its root device's. */
  blankSizeBytes?: number;
  signal?: AbortSignal;
}

/**
 * Writes the volume's disk, as the guest sees it, to `out` (a new qcow2
 * file). `volumeDir` is a folder nothing writes to meanwhile: a stopped
 * VM's volume, a snapshot, or a copy made while the VM was quiesced.
 */
export async function flattenVmDisk(
  volumeDir: string,
  out: string,
  options: FlattenOptions = {},
): Promise<void> {
  const run = (args: string[]) =>
    runCommand('qemu-img', args, {
      timeoutMs: CONVERT_TIMEOUT_MS,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  const overlay = path.join(volumeDir, ROOT_DISK);
  const imageDisk = path.join(volumeDir, 'rootfs', IMAGE_DISK);
  const compress = options.compress ? ['-c'] : [];
  if (existsSync(overlay)) {
    // The overlay names its backing file relatively (root-disk.ts): qemu-img finds it beside the overlay.
    await run(['convert', '-q', '-f', 'qcow2', '-O', 'qcow2', ...compress, overlay, out]);
  } else if (existsSync(imageDisk)) {
    // Never started: the image's disk is the whole disk. It stands alone (checked when it came in).
    const { format } = await inspectImageDisk(imageDisk, options.signal);
    await run(['convert', '-q', '-f', format, '-O', 'qcow2', ...compress, imageDisk, out]);
  } else {
    // A blank VM never started: the blank disk its first start would make.
    await run([
      'create',
      '-q',
      '-f',
      'qcow2',
      out,
      String(options.blankSizeBytes ?? DEFAULT_ROOT_SIZE),
    ]);
  }
}

/** Copies the volume's boot files (plain files in `rootfs/boot/`) into `into/boot/`; false when it has none. */
export async function copyVmBootFiles(volumeDir: string, into: string): Promise<boolean> {
  const from = path.join(volumeDir, 'rootfs', BOOT_DIR);
  let names: string[];
  try {
    names = await readdir(from);
  } catch {
    return false;
  }
  const to = path.join(into, BOOT_DIR);
  await mkdir(to, { recursive: true, mode: 0o755 });
  // Plain files only (what images and imports put there); a link is never followed out of the volume.
  for (const name of names) {
    const file = path.join(from, name);
    if ((await lstat(file)).isFile()) await copyFile(file, path.join(to, name));
  }
  return true;
}
