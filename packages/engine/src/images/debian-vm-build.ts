// The `debian/12` virtual machine image, built in three steps:
// 1. `debootstrap --foreign` downloads and unpacks the container's packages
//    plus a kernel, initramfs-tools, udev and qemu-guest-agent;
// 2. the initramfs configuration is written (debian-vm-rootfs.ts), then
//    `debootstrap --second-stage` in a chroot configures the packages, and
//    the kernel's postinst builds an initramfs that mounts /dev/vda;
// 3. the tree gets the VM's files, its kernel and initramfs are copied out
//    to boot/, and it becomes the ext4 filesystem of rootfs.img
//    (debian-vm-disk.ts).
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
import { copyBootFiles, makeRootDisk } from './debian-vm-disk.ts';
import {
  debianVmPackages,
  prepareDebianVmInitramfs,
  prepareDebianVmRootfs,
} from './debian-vm-rootfs.ts';

export interface DebianVmBuild {
  codename: string;
  mirror: string;
  /** Receives rootfs.img and boot/. */
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
  await prepareDebianVmInitramfs(tree);
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
  const kernelVersion = await copyBootFiles(tree, build.outDir);
  await removeAptCache(tree);
  await progress(60, 'Making the root disk');
  await makeRootDisk(tree, path.join(build.outDir, 'rootfs.img'), signal);
  // The tree is in the disk now: its space back before the image is packed.
  await rm(tree, { recursive: true, force: true });
  return { kernelVersion };
}
