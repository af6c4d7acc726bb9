import { describe, expect, it } from 'vitest';
import {
  DEBIAN_VM_NETWORK,
  GROW_ROOT_SCRIPT,
  debianVmPackages,
  lockRootInShadow,
} from './debian-vm-rootfs.ts';

describe('lockRootInShadow', () => {
  it('locks root, whatever its hash, and leaves other users alone', () => {
    const shadow = 'root:*:20790:0:99999:7:::\ndaemon:*:20790:0:99999:7:::\n';
    expect(lockRootInShadow(shadow)).toBe(
      'root:!*:20790:0:99999:7:::\ndaemon:*:20790:0:99999:7:::\n',
    );
    expect(lockRootInShadow('root:$6$salt$hash:1::::::\n')).toBe('root:!$6$salt$hash:1::::::\n');
    expect(lockRootInShadow('root::1::::::\n')).toBe('root:!*:1::::::\n');
  });

  it('is idempotent', () => {
    const once = lockRootInShadow('root:*:1::::::\n');
    expect(lockRootInShadow(once)).toBe(once);
  });
});

describe('the VM’s boot and network files', () => {
  it('brings signed shim and GRUB for UEFI Secure Boot, and sfdisk to grow the root partition', () => {
    expect(debianVmPackages).toEqual(
      expect.arrayContaining([
        'shim-signed',
        'grub-efi-amd64-signed',
        'fdisk',
        'linux-image-amd64',
      ]),
    );
    expect(GROW_ROOT_SCRIPT).toMatch(/^#!\/bin\/sh\n/);
    expect(GROW_ROOT_SCRIPT).toContain('part=$(findmnt -n -o SOURCE /)');
    expect(GROW_ROOT_SCRIPT).toContain('name=${part#/dev/}');
    expect(GROW_ROOT_SCRIPT).toContain('exec resize2fs "$part"');
  });

  it('takes DHCP on any ethernet NIC, named by udev or not', () => {
    expect(DEBIAN_VM_NETWORK).toContain('Name=en* eth*');
    expect(DEBIAN_VM_NETWORK).toContain('DHCP=yes');
  });
});
