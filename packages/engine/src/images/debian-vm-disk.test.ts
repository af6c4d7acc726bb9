import { describe, expect, it } from 'vitest';
import { DEBIAN_VM_DISK_MIN_BYTES, debianVmDiskBytes, kernelVersionIn } from './debian-vm-disk.ts';

const GIB = 1024 ** 3;

describe('debianVmDiskBytes', () => {
  it('is at least the minimum, which a qcow2 holds for free', () => {
    expect(debianVmDiskBytes(700 * 1024 ** 2)).toBe(DEBIAN_VM_DISK_MIN_BYTES);
  });

  it('leaves a GiB and ext4’s share free above what a big tree uses, in whole MiB', () => {
    const size = debianVmDiskBytes(5 * GIB);
    expect(size).toBeGreaterThanOrEqual(6 * GIB);
    expect(size % (1024 * 1024)).toBe(0);
  });
});

describe('kernelVersionIn', () => {
  it('finds the one kernel that has its initramfs', () => {
    expect(
      kernelVersionIn([
        'System.map-6.1.0-50-amd64',
        'config-6.1.0-50-amd64',
        'initrd.img-6.1.0-50-amd64',
        'vmlinuz-6.1.0-50-amd64',
      ]),
    ).toBe('6.1.0-50-amd64');
  });

  it('refuses a /boot without a kernel, or with a kernel but no initramfs', () => {
    expect(() => kernelVersionIn([])).toThrow(/found 0 \(nothing\)/);
    expect(() => kernelVersionIn(['vmlinuz-6.1.0-50-amd64'])).toThrow(/found 0/);
  });
});
