// The `debian/12` virtual machine image, built in three steps:
// 1. `debootstrap --foreign` downloads and unpacks the container's packages
//    plus a kernel, initramfs-tools, udev and qemu-guest-agent;
// 2. the initramfs configuration is written (debian-vm-rootfs.ts), then
//    `debootstrap --second-stage` in a chroot configures the packages, and
//    the kernel's postinst builds an initramfs that mounts /dev/vda;
// 3. the tree gets the VM's files and GRUB's configuration
//    (debian-vm-uefi.ts), and becomes the GPT disk rootfs.img: an EFI system
//    partition with shim and GRUB, and the ext4 root (debian-vm-disk.ts).
//    The image boots through UEFI, as LXD's VM images; it has no boot/.
// Both debootstrap steps run in a mount namespace of their own (`unshare
// --mount`): the second stage mounts /proc and /sys in the tree, and a
// cancelled build (its process group killed, no cleanup trap run) must not
// leave those mounts under a work folder that is about to be removed. They
// go with the namespace.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';
import type { Progress } from '../operations/progress.ts';
import { debootstrapArgs, removeAptCache } from './debian-builder.ts';
import { kernelVersionOf, makeUefiDisk } from './debian-vm-disk.ts';
import {
  debianVmPackages,
  prepareDebianVmInitramfs,
  prepareDebianVmRootfs,
} from './debian-vm-rootfs.ts';
import { debianVmFstab, newDiskIds, writeGrubConfig } from './debian-vm-uefi.ts';

export interface DebianVmBuild {
  codename: string;
  mirror: string;
  /** Receives rootfs.img. */
  outDir: string;
  /** Scratch space for the tree (a few hundred MiB); the caller removes it. */
  workDir: string;
  /** The compiled berth-pty helper (drivers/qemu/guest/pty-helper-build.ts). */
  ptyHelper: string;
  progress: Progress;
  signal: AbortSignal;
}

const PRIVATE_MOUNTS = ['--mount', '--propagation', 'private'];
const DEBOOTSTRAP_TIMEOUT_MS = 30 * 60_000;

/** The end of the second stage's log, which says which package failed (its output only says "see the log"). */
async function secondStageLog(tree: string): Promise<string> {
  const log = await readFile(path.join(tree, 'debootstrap/debootstrap.log'), 'utf8').catch(
    () => '',
  );
  return log.trim().split('\n').slice(-15).join('\n');
}

/** Builds the image's files into `outDir`; returns the kernel version. */
export async function buildDebianVmFiles(build: DebianVmBuild): Promise<{ kernelVersion: string }> {
  const { signal, progress } = build;
  const tree = path.join(build.workDir, 'tree');
  // Named before anything is built: fstab (read by the initramfs hooks), GRUB and mkfs share them.
  const ids = newDiskIds();
  await progress(0, `Running debootstrap ${build.codename} from ${build.mirror}`);
  await runCommand(
    'unshare',
    [
      ...PRIVATE_MOUNTS,
      'debootstrap',
      ...debootstrapArgs(build.codename, tree, build.mirror, {
        foreign: true,
        extraPackages: debianVmPackages,
      }),
    ],
    { timeoutMs: DEBOOTSTRAP_TIMEOUT_MS, signal },
  );
  signal.throwIfAborted();
  await prepareDebianVmInitramfs(tree, debianVmFstab(ids));
  await progress(25, 'Installing packages and the kernel');
  const second = await runCommand(
    'unshare',
    [...PRIVATE_MOUNTS, 'chroot', tree, '/debootstrap/debootstrap', '--second-stage'],
    {
      timeoutMs: DEBOOTSTRAP_TIMEOUT_MS,
      signal,
      allowFailure: true,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    },
  );
  if (second.exitCode !== 0) {
    const said = (second.stderr.trim() || second.stdout.trim()).split('\n').slice(-3).join('\n');
    throw new EngineError(
      'INTERNAL',
      `debootstrap --second-stage failed (exit ${second.exitCode}): ${said}\n${await secondStageLog(tree)}`,
    );
  }
  signal.throwIfAborted();
  await progress(55, 'Preparing rootfs');
  await prepareDebianVmRootfs(tree, build.mirror, build.codename, build.ptyHelper, signal);
  const kernelVersion = await kernelVersionOf(tree);
  await writeGrubConfig(tree, ids, kernelVersion);
  await removeAptCache(tree);
  await progress(60, 'Making the root disk');
  await makeUefiDisk(tree, path.join(build.outDir, 'rootfs.img'), ids, signal);
  // The tree is in the disk now: its space back before the image is packed.
  await rm(tree, { recursive: true, force: true });
  return { kernelVersion };
}
