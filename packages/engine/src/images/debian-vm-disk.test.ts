import { describe, expect, it } from 'vitest';
import {
  DEBIAN_VM_DISK_MIN_BYTES,
  ESP_BYTES,
  debianVmDiskBytes,
  debianVmDiskLayout,
  kernelVersionIn,
  sfdiskScript,
} from './debian-vm-disk.ts';

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

describe('the GPT layout', () => {
  const MIB = 1024 * 1024;
  const layout = debianVmDiskLayout(4 * GIB);

  it('puts the ESP at 1 MiB, the root right after it, and a MiB for the backup GPT at the end', () => {
    expect(layout).toEqual({
      espOffset: MIB,
      espBytes: ESP_BYTES,
      rootOffset: MIB + ESP_BYTES,
      rootBytes: 4 * GIB,
      totalBytes: MIB + ESP_BYTES + 4 * GIB + MIB,
    });
  });

  it('writes sfdisk a GPT with an EFI system partition and a Linux filesystem, in sectors', () => {
    const script = sfdiskScript(layout);
    expect(script).toMatch(/^label: gpt\nunit: sectors\n/);
    expect(script).toContain(
      'start=2048, size=204800, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI System"',
    );
    expect(script).toContain(
      `start=206848, size=${(4 * GIB) / 512}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="rootfs"`,
    );
  });
});
