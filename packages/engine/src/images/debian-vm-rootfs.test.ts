import { describe, expect, it } from 'vitest';
import { DEBIAN_VM_CMDLINE, DEBIAN_VM_NETWORK, lockRootInShadow } from './debian-vm-rootfs.ts';

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
  it('boots /dev/vda read-write with the serial console last (the one systemd’s getty takes)', () => {
    expect(DEBIAN_VM_CMDLINE).toMatch(/^root=\/dev\/vda rw /);
    expect(
      DEBIAN_VM_CMDLINE.split(' ')
        .filter((a) => a.startsWith('console='))
        .pop(),
    ).toBe('console=ttyS0');
  });

  it('takes DHCP on any ethernet NIC, named by udev or not', () => {
    expect(DEBIAN_VM_NETWORK).toContain('Name=en* eth*');
    expect(DEBIAN_VM_NETWORK).toContain('DHCP=yes');
  });
});
