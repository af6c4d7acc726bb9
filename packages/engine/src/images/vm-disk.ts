// A virtual machine image's disk (`rootfs.img`), checked before it is
// stored: a qcow2 or raw file that stands alone. A qcow2 header can name a
// backing file or an external data file anywhere on the host (`/dev/sda`,
// `/etc/shadow`), which QEMU would then read into the guest; other formats
// QEMU probes (vmdk, vhdx descriptors) can name extents the same way. Only
// qcow2 without either, or raw, is taken; the overlay that boots it names
// the format explicitly (drivers/qemu/root-disk.ts), so it is never probed
// again.
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';

export interface ImageDiskInfo {
  format: 'qcow2' | 'raw';
  virtualSize: number;
}

interface QemuImgInfo {
  format?: string;
  'virtual-size'?: number;
  'backing-filename'?: string;
  'format-specific'?: { data?: { 'data-file'?: string } };
}

/** Refuses a disk that is not a self-contained qcow2 or raw file, naming why. */
export function checkDiskInfo(info: QemuImgInfo, field = 'rootfs.img'): ImageDiskInfo {
  const format = info.format;
  if (format !== 'qcow2' && format !== 'raw')
    throw EngineError.invalid(
      field,
      `the disk is ${format ?? 'of no known format'}, not qcow2 or raw`,
    );
  if (info['backing-filename'] !== undefined)
    throw EngineError.invalid(
      field,
      `the disk names a backing file ("${info['backing-filename']}"); an image's disk must stand alone`,
    );
  const dataFile = info['format-specific']?.data?.['data-file'];
  if (dataFile !== undefined)
    throw EngineError.invalid(
      field,
      `the disk names an external data file ("${dataFile}"); an image's disk must stand alone`,
    );
  return { format, virtualSize: info['virtual-size'] ?? 0 };
}

export async function inspectImageDisk(file: string, signal?: AbortSignal): Promise<ImageDiskInfo> {
  const out = await runCommand('qemu-img', ['info', '--output=json', file], {
    timeoutMs: 60_000,
    ...(signal ? { signal } : {}),
  }).catch((error: unknown) => {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `rootfs.img: qemu-img cannot read the disk: ${(error as Error).message.split('\n').pop() ?? ''}`,
      { field: 'rootfs.img', cause: error },
    );
  });
  return checkDiskInfo(JSON.parse(out.stdout) as QemuImgInfo);
}
