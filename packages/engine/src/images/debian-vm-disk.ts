// The Debian VM image's files from its finished tree: the kernel and
// initramfs copied out of /boot for direct kernel boot (`boot/vmlinuz`,
// `boot/initrd.img`, `boot/cmdline`, as the qemu driver boots them), and the
// tree itself as the ext4 filesystem of `rootfs.img`, made by
// `mke2fs -d` in a sparse raw file (no mount, no loop device) and converted
// to a compact qcow2, which holds only what is used.
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';
import { DEBIAN_VM_CMDLINE } from './debian-vm-rootfs.ts';

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

/** Copies the kernel and initramfs to `<outDir>/boot/` and writes the cmdline; returns the kernel version. */
export async function copyBootFiles(tree: string, outDir: string): Promise<string> {
  const from = path.join(tree, 'boot');
  const version = kernelVersionIn(await readdir(from));
  const boot = path.join(outDir, 'boot');
  await mkdir(boot, { recursive: true, mode: 0o755 });
  await copyFile(path.join(from, `vmlinuz-${version}`), path.join(boot, 'vmlinuz'));
  await copyFile(path.join(from, `initrd.img-${version}`), path.join(boot, 'initrd.img'));
  await writeFile(path.join(boot, 'cmdline'), `${DEBIAN_VM_CMDLINE}\n`, { mode: 0o644 });
  return version;
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

/**
 * Writes `out` (qcow2): an ext4 filesystem holding `tree`, owners, modes,
 * links and file capabilities as they are (the engine builds as root).
 * Returns the filesystem's size.
 */
export async function makeRootDisk(
  tree: string,
  out: string,
  signal?: AbortSignal,
): Promise<number> {
  const opts = { timeoutMs: 30 * 60_000, ...(signal ? { signal } : {}) };
  const sizeBytes = debianVmDiskBytes(await treeBytes(tree, signal));
  const raw = `${out}.raw`;
  try {
    const made = await runCommand(
      'mke2fs',
      ['-q', '-F', '-t', 'ext4', '-L', 'rootfs', '-d', tree, raw, `${sizeBytes / 1024}k`],
      { ...opts, allowFailure: true },
    );
    if (made.exitCode !== 0) {
      throw new EngineError(
        'INTERNAL',
        `mke2fs failed (exit ${made.exitCode}): ${made.stderr.trim() || made.stdout.trim()}`,
      );
    }
    await runCommand('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, out], opts);
  } finally {
    await rm(raw, { force: true });
  }
  return sizeBytes;
}
