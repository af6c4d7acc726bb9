// A VM's root disk: a qcow2 overlay, `root.qcow2` in the instance's volume,
// on the image's disk (`rootfs/rootfs.img`, qcow2 or raw, as an image
// unpacks into the volume; LXD's name for a VM image's disk). The overlay
// names its backing file relatively, so a volume that is renamed, copied or
// snapshotted as a folder keeps working, and the image's disk is only ever
// read (QEMU opens backing files read-only). Without an image disk the root
// disk is a blank qcow2 (an installer or a kernel+initrd VM). `size` on the
// root disk device grows it (`qemu-img resize`, before QEMU starts); a disk
// is never shrunk.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseByteSize } from '../../config/index.ts';
import { EngineError } from '../../errors.ts';
import { runCommand } from '../../host/run-command.ts';
import type { DeviceMap } from '../../schemas/index.ts';

/** The image's disk inside the volume's rootfs/. */
export const IMAGE_DISK = 'rootfs.img';
export const ROOT_DISK = 'root.qcow2';
/** LXD's default VM root disk size, for a blank disk. */
export const DEFAULT_ROOT_SIZE = 10 * 1024 ** 3;

const QEMU_IMG = 'qemu-img';
const TIMEOUT_MS = 60_000;

export interface RootDiskPlan {
  /** The root disk device's name (`root`). */
  device: string | undefined;
  sizeBytes: number | undefined;
}

/** The root disk device (`path: /`) and its `size`, parsed. */
export function rootDiskPlan(devices: DeviceMap): RootDiskPlan {
  const root = Object.entries(devices).find(([, d]) => d.type === 'disk' && d.path === '/');
  if (!root) return { device: undefined, sizeBytes: undefined };
  const [device, disk] = root;
  const size = disk.size;
  return {
    device,
    sizeBytes:
      size === undefined || size === ''
        ? undefined
        : parseByteSize(size, `devices["${device}"]["size"]`),
  };
}

async function virtualSize(file: string): Promise<{ size: number; format: string }> {
  const out = await runCommand(QEMU_IMG, ['info', '--output=json', file], {
    timeoutMs: TIMEOUT_MS,
  });
  const info = JSON.parse(out.stdout) as { 'virtual-size'?: number; format?: string };
  return { size: info['virtual-size'] ?? 0, format: info.format ?? 'raw' };
}

/**
 * Makes `root.qcow2` when missing and grows it to the device's size; returns
 * its path. `volumeDir` holds it; `rootfs` may hold the image's disk.
 */
export async function ensureRootDisk(
  volumeDir: string,
  rootfs: string,
  devices: DeviceMap,
): Promise<string> {
  const plan = rootDiskPlan(devices);
  const field = `devices["${plan.device ?? 'root'}"]["size"]`;
  const overlay = path.join(volumeDir, ROOT_DISK);
  const imageDisk = path.join(rootfs, IMAGE_DISK);
  if (!existsSync(overlay)) {
    if (existsSync(imageDisk)) {
      const { format } = await virtualSize(imageDisk);
      if (format !== 'qcow2' && format !== 'raw') {
        throw EngineError.invalid('source', `the image's disk is ${format}, not qcow2 or raw`);
      }
      // Relative to the overlay's folder: qemu-img and QEMU resolve it from there.
      const backing = path.relative(volumeDir, imageDisk);
      await runCommand(
        QEMU_IMG,
        ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', format, overlay],
        { timeoutMs: TIMEOUT_MS, cwd: volumeDir },
      );
    } else {
      await runCommand(
        QEMU_IMG,
        ['create', '-q', '-f', 'qcow2', overlay, String(plan.sizeBytes ?? DEFAULT_ROOT_SIZE)],
        { timeoutMs: TIMEOUT_MS },
      );
    }
  }
  if (plan.sizeBytes !== undefined) {
    const { size } = await virtualSize(overlay);
    if (plan.sizeBytes < size) {
      throw EngineError.invalid(
        field,
        `the root disk is ${size} bytes; it cannot shrink to ${plan.sizeBytes} bytes`,
      );
    }
    if (plan.sizeBytes > size) {
      await runCommand(QEMU_IMG, ['resize', '-q', overlay, String(plan.sizeBytes)], {
        timeoutMs: TIMEOUT_MS,
      });
    }
  }
  return overlay;
}

/** Bytes the root disk takes on the host (allocated, not virtual); 0 without one. */
export function rootDiskUsage(volumeDir: string): number {
  try {
    return statSync(path.join(volumeDir, ROOT_DISK)).blocks * 512;
  } catch {
    return 0;
  }
}
