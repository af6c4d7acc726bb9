import { describe, expect, it } from 'vitest';
import { checkDiskInfo } from './vm-disk.ts';

describe('checkDiskInfo', () => {
  it('takes a self-contained qcow2 or raw disk', () => {
    expect(checkDiskInfo({ format: 'qcow2', 'virtual-size': 1024 })).toEqual({
      format: 'qcow2',
      virtualSize: 1024,
    });
    expect(checkDiskInfo({ format: 'raw', 'virtual-size': 512 }).format).toBe('raw');
  });

  it('refuses a disk that reaches a host file or is of another format', () => {
    expect(() => checkDiskInfo({ format: 'qcow2', 'backing-filename': '/etc/shadow' })).toThrow(
      /rootfs.img.*backing file \("\/etc\/shadow"\)/,
    );
    expect(() =>
      checkDiskInfo({ format: 'qcow2', 'format-specific': { data: { 'data-file': '/dev/sda' } } }),
    ).toThrow(/external data file \("\/dev\/sda"\)/);
    expect(() => checkDiskInfo({ format: 'vmdk' })).toThrow(/the disk is vmdk, not qcow2 or raw/);
    expect(() => checkDiskInfo({})).toThrow(/of no known format/);
  });
});
