import { describe, expect, it } from 'vitest';
import {
  DEBIAN_VM_DEFAULT_GRUB,
  debianVmFstab,
  espFiles,
  espGrubCfg,
  newDiskIds,
  rootGrubCfg,
} from './debian-vm-uefi.ts';

const ids = { rootUuid: '0b9f0c4e-3c1e-4c8e-9a57-6d2f9f1e2a10', espVolumeId: '1234ABCD' };

describe('the Debian VM’s UEFI boot files', () => {
  it('mounts the root and the ESP by their ids', () => {
    expect(debianVmFstab(ids)).toBe(
      'UUID=0b9f0c4e-3c1e-4c8e-9a57-6d2f9f1e2a10 / ext4 defaults 0 1\n' +
        'UUID=1234-ABCD /boot/efi vfat umask=0077,nofail 0 1\n',
    );
  });

  it('makes fresh ids per build: a UUID and an 8-digit FAT volume id', () => {
    const made = newDiskIds();
    expect(made.rootUuid).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(made.espVolumeId).toMatch(/^[0-9A-F]{8}$/);
    expect(newDiskIds().rootUuid).not.toBe(made.rootUuid);
  });

  it('has the ESP’s GRUB find the root filesystem and read its grub.cfg', () => {
    expect(espGrubCfg(ids.rootUuid)).toBe(
      `search.fs_uuid ${ids.rootUuid} root\nset prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n`,
    );
  });

  it('boots the kernel by UUID on the serial console, without waiting at a menu', () => {
    const cfg = rootGrubCfg(ids.rootUuid, '6.1.0-50-amd64');
    expect(cfg).toContain('set timeout=0');
    expect(cfg).toContain('terminal_output console serial');
    expect(cfg).toContain(
      `linux /boot/vmlinuz-6.1.0-50-amd64 root=UUID=${ids.rootUuid} ro console=tty0 console=ttyS0`,
    );
    expect(cfg).toContain('initrd /boot/initrd.img-6.1.0-50-amd64');
    // The guest's own update-grub keeps the consoles.
    expect(DEBIAN_VM_DEFAULT_GRUB).toContain('GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0"');
  });

  it('puts signed shim on the removable-media path with GRUB beside it, and in /EFI/debian', () => {
    const files = espFiles('/t');
    expect(files).toContainEqual({
      from: '/t/usr/lib/shim/shimx64.efi.signed',
      to: '/EFI/BOOT/BOOTX64.EFI',
    });
    expect(files).toContainEqual({
      from: '/t/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed',
      to: '/EFI/BOOT/grubx64.efi',
    });
    expect(files.map((f) => f.to)).toContain('/EFI/debian/grubx64.efi');
  });
});
