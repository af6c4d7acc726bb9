// The tiny VM image: a Debian kernel (the archive's linux-image-6.1.0-N-amd64)
// and a busybox initramfs whose init mounts proc/sys/dev, loads the virtio
// drivers, takes a DHCP lease on every ethN, starts Debian's qemu-ga, prints
// a banner and runs a shell on ttyS0 (tiny-vm-files.ts; packages in
// tiny-vm-packages.ts). It boots directly (-kernel/-initrd) in seconds under
// TCG.
//
// Its disk, `rootfs.img` (qcow2), comes in two kinds:
// * `disk`: one ext2 filesystem holding a marker file, mounted on /mnt; the
//   OS still runs from the initramfs, so / forgets everything at a reboot.
// * `rootDisk`: an ext4 filesystem holding the whole OS (the same tree as the
//   initramfs). The initramfs loads the modules and switch_roots into it, so
//   / is /dev/vda: what is written there survives a reboot, and a snapshot of
//   the disk is a snapshot of the machine. ext4 because busybox has no fsck:
//   after a forced stop (or a snapshot of a running disk) the journal is
//   replayed at mount, where ext2 would be mounted damaged.
//
// The output directory holds `boot/vmlinuz`, `boot/initrd.img`,
// `boot/cmdline` and with either option `rootfs.img`: the layout the qemu
// driver boots from inside a VM's volume (drivers/qemu/qemu-paths.ts).
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { PTY_HELPER } from '../drivers/qemu/agent-pty.ts';
import { buildPtyHelper } from '../drivers/qemu/guest/pty-helper-build.ts';
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';
import { tinyVmTree, type KernelModule, type TinyVmSystem } from './tiny-vm-files.ts';
import { agentEntries, kernelPackage, unpackedDeb } from './tiny-vm-packages.ts';
import { writeCpioNewc, writeTree, type TreeEntry } from './tiny-vm-tree.ts';

export { TINY_VM_BANNER, TINY_VM_OS_ID, TINY_VM_ROOT_INIT } from './tiny-vm-files.ts';
/** What the `disk` option's filesystem holds at its top, read back by tests. */
export const TINY_VM_DISK_MARKER = 'berth-disk';
/** The smallest `rootDisk.sizeBytes`: the OS's files (~15 MiB), the ext4 journal, and room to write. */
export const TINY_VM_ROOT_DISK_MIN_BYTES = 32 * 1024 * 1024;

/** The kernel modules the initramfs loads, in order (deps first: Debian builds virtio as modules). */
const MODULES = [
  'kernel/drivers/input/evdev.ko',
  'kernel/drivers/acpi/button.ko',
  'kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/virtio/virtio.ko',
  'kernel/drivers/virtio/virtio_pci_legacy_dev.ko',
  'kernel/drivers/virtio/virtio_pci_modern_dev.ko',
  'kernel/drivers/virtio/virtio_pci.ko',
  // The memory balloon, for limits.memory changed on a running VM (vm-live-limits.ts).
  'kernel/drivers/virtio/virtio_balloon.ko',
  'kernel/drivers/char/virtio_console.ko',
  'kernel/drivers/block/virtio_blk.ko',
  'kernel/net/core/failover.ko',
  'kernel/drivers/net/net_failover.ko',
  'kernel/drivers/net/virtio_net.ko',
  'kernel/lib/crc16.ko',
  // ext4 (which mounts ext2 too) asks for crc32c at every mount.
  'kernel/crypto/crc32c_generic.ko',
  'kernel/fs/mbcache.ko',
  'kernel/fs/jbd2/jbd2.ko',
  'kernel/fs/ext4/ext4.ko',
  // 9p, for host directories shared into the VM (drivers/qemu/vm-shares.ts);
  // `modinfo -F depends`: 9p needs 9pnet, fscache and netfs; fscache needs netfs.
  'kernel/fs/netfs/netfs.ko',
  'kernel/fs/fscache/fscache.ko',
  'kernel/net/9p/9pnet.ko',
  'kernel/net/9p/9pnet_virtio.ko',
  'kernel/fs/9p/9p.ko',
];

export interface TinyVmImageOptions {
  /** Keeps downloaded kernel and agent packages between builds. */
  cacheDir: string;
  /** Receives `boot/` (and `rootfs.img` with `disk` or `rootDisk`). */
  outDir: string;
  busybox?: string;
  /** Leave qemu-guest-agent out (a VM without an agent). Default: included. */
  agent?: boolean;
  /** Also make `rootfs.img`: a qcow2 disk of this size with an ext2 filesystem holding `/berth-disk`, on /mnt. */
  disk?: { sizeBytes: number };
  /**
   * Make `rootfs.img` the VM's root: a qcow2 disk of `sizeBytes` whose ext4
   * filesystem holds the whole OS and the rest free; the initramfs
   * switch_roots into it. The filesystem stays this size: `size` on the root
   * disk device grows the disk, not the filesystem (busybox has no
   * resize2fs). At least TINY_VM_ROOT_DISK_MIN_BYTES. Not with `disk`.
   */
  rootDisk?: { sizeBytes: number };
  signal?: AbortSignal;
}

export interface TinyVmImage {
  kernelPackage: string;
  kernelVersion: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  /** The qcow2 disk (`rootfs.img`), with `disk` or `rootDisk`. */
  disk?: string;
}

function checkOptions(options: TinyVmImageOptions): void {
  const { rootDisk, disk } = options;
  if (!rootDisk) return;
  if (disk) {
    throw EngineError.invalid(
      'rootDisk',
      'cannot be combined with disk (both would be rootfs.img; a root disk is the one to write on)',
    );
  }
  if (
    !Number.isSafeInteger(rootDisk.sizeBytes) ||
    rootDisk.sizeBytes < TINY_VM_ROOT_DISK_MIN_BYTES
  ) {
    throw EngineError.invalid(
      'rootDisk.sizeBytes',
      `must be a whole number of bytes, at least ${TINY_VM_ROOT_DISK_MIN_BYTES} (got ${rootDisk.sizeBytes})`,
    );
  }
}

/**
 * A qcow2 disk of `sizeBytes` with one filesystem copied from `tree`
 * (mke2fs -d: no mount, no loop device). The raw file is sparse and convert
 * skips its zeroes, so the free space costs nothing on the host.
 */
async function diskFromTree(
  tree: string,
  out: string,
  fs: { type: 'ext2' | 'ext4'; sizeBytes: number; field: string },
  signal?: AbortSignal,
): Promise<void> {
  const opts = { timeoutMs: 120_000, ...(signal ? { signal } : {}) };
  const raw = `${tree}.raw`;
  const size = `${Math.floor(fs.sizeBytes / 1024)}k`;
  const made = await runCommand(
    'mke2fs',
    ['-q', '-F', '-t', fs.type, '-L', 'berth-root', '-d', tree, raw, size],
    { ...opts, allowFailure: true },
  );
  if (made.exitCode !== 0) {
    const reason = made.stderr.trim() || made.stdout.trim();
    if (/could not allocate|no space|too small/i.test(reason)) {
      throw EngineError.invalid(
        fs.field,
        `${fs.sizeBytes} bytes is too small for the files: ${reason}`,
      );
    }
    throw new EngineError('INTERNAL', `mke2fs failed (exit ${made.exitCode}): ${reason}`);
  }
  await runCommand('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, out], opts);
}

/** Writes `entries` as a tree in a scratch folder and makes the disk from it. */
async function buildDisk(
  out: string,
  entries: readonly TreeEntry[],
  fs: { type: 'ext2' | 'ext4'; sizeBytes: number; field: string },
  signal?: AbortSignal,
): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'berth-tiny-disk-'));
  try {
    const tree = path.join(work, 'tree');
    await mkdir(tree);
    await writeTree(entries, tree);
    await diskFromTree(tree, out, fs, signal);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Builds the image into `outDir`: `boot/` (replaced) and, with `disk` or
 * `rootDisk`, `rootfs.img` (replaced; removed without either).
 */
export async function buildTinyVmImage(options: TinyVmImageOptions): Promise<TinyVmImage> {
  checkOptions(options);
  const busybox = options.busybox ?? '/bin/busybox';
  const opts = { timeoutMs: 120_000, ...(options.signal ? { signal: options.signal } : {}) };
  await mkdir(options.cacheDir, { recursive: true });
  const deb = await kernelPackage(options.cacheDir, options.signal);
  const extracted = await unpackedDeb(deb, options.signal);
  const kernelFile = (await readdir(path.join(extracted, 'boot'))).find((f) =>
    f.startsWith('vmlinuz-'),
  );
  if (!kernelFile) throw new EngineError('INTERNAL', `No vmlinuz in ${deb}`);
  const kernelVersion = kernelFile.slice('vmlinuz-'.length);
  const moduleDir = path.join(extracted, 'lib', 'modules', kernelVersion);
  const modules: KernelModule[] = MODULES.map((module) => {
    const file = path.join(moduleDir, module);
    if (!existsSync(file)) throw new EngineError('INTERNAL', `${module} is missing from ${deb}`);
    return { name: path.basename(module), data: readFileSync(file) };
  });

  const system: TinyVmSystem = {
    busybox: readFileSync(busybox),
    applets: (await runCommand(busybox, ['--list-full'], opts)).stdout.split('\n'),
    agent:
      options.agent !== false
        ? [
            ...(await agentEntries(options.cacheDir, options.signal)),
            // Interactive exec's pty end (drivers/qemu/agent-pty.ts), beside the agent that starts it.
            {
              path: PTY_HELPER.slice(1),
              type: 'file',
              mode: 0o755,
              data: readFileSync(await buildPtyHelper(options.cacheDir, options.signal)),
            },
          ]
        : [],
  };
  const initramfs = tinyVmTree(system, {
    place: 'initramfs',
    modules,
    switchRoot: options.rootDisk !== undefined,
  });

  const boot = path.join(options.outDir, 'boot');
  await rm(boot, { recursive: true, force: true });
  await mkdir(boot, { recursive: true });
  const image: TinyVmImage = {
    kernelPackage: path.basename(deb),
    kernelVersion,
    kernel: path.join(boot, 'vmlinuz'),
    initrd: path.join(boot, 'initrd.img'),
    // The last console is /dev/console (the serial one); tty0 puts the kernel's words on the VGA screen too.
    cmdline: 'console=tty0 console=ttyS0 panic=-1 quiet',
  };
  await copyFile(path.join(extracted, 'boot', kernelFile), image.kernel);
  await writeFile(image.initrd, gzipSync(writeCpioNewc(initramfs)));
  await writeFile(path.join(boot, 'cmdline'), `${image.cmdline}\n`);
  const disk = path.join(options.outDir, 'rootfs.img');
  await rm(disk, { force: true });
  if (options.rootDisk) {
    await buildDisk(
      disk,
      tinyVmTree(system, { place: 'root-disk' }),
      { type: 'ext4', sizeBytes: options.rootDisk.sizeBytes, field: 'rootDisk.sizeBytes' },
      options.signal,
    );
    image.disk = disk;
  } else if (options.disk) {
    const marker: TreeEntry = {
      path: TINY_VM_DISK_MARKER,
      type: 'file',
      mode: 0o644,
      data: Buffer.from('the tiny VM root disk\n'),
    };
    await buildDisk(
      disk,
      [marker],
      { type: 'ext2', sizeBytes: options.disk.sizeBytes, field: 'disk.sizeBytes' },
      options.signal,
    );
    image.disk = disk;
  }
  return image;
}
