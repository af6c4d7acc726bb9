// How the Debian VM image boots, as LXD's `images:debian/12` VM image does:
// UEFI firmware (OVMF, drivers/qemu/vm-firmware.ts) loads shim from the
// EFI system partition's removable-media path (`\EFI\BOOT\BOOTX64.EFI`, so
// a fresh variable store with no boot entry still finds it), shim loads
// Debian's signed GRUB beside it, GRUB reads `/EFI/debian/grub.cfg` (its
// built-in prefix), which hands over to `/boot/grub/grub.cfg` on the ext4
// root, which boots Debian's signed kernel. With Secure Boot on, each step
// checks the next one's signature (Microsoft's key → shim → Debian's key).
//
// Nothing of this runs grub-install or update-grub at build time: both
// probe the disk they install to, which is a file here, not a device. The
// files they would write are written instead; in the guest, grub2-common's
// kernel hook runs update-grub on kernel upgrades, with /etc/default/grub
// below keeping the serial console.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeTreeFile } from './debian-builder.ts';

/** Packages for UEFI boot: shim and GRUB, signed, and what the guest checks and grows its disk with. */
export const DEBIAN_VM_UEFI_PACKAGES = [
  'shim-signed',
  'grub-efi-amd64-signed',
  'grub-efi-amd64-bin',
  // fsck.vfat for /boot/efi; sfdisk grows the root partition (berth-grow-root).
  'dosfstools',
  'fdisk',
];

/** The kernel's arguments besides root=. The last console is /dev/console (the serial one, where systemd's getty runs). */
export const DEBIAN_VM_KERNEL_ARGS = 'console=tty0 console=ttyS0';

/** The filesystems' ids, chosen before the build: fstab, GRUB and mkfs all name them. */
export interface DebianVmDiskIds {
  rootUuid: string;
  /** The FAT volume id, 8 hex digits (fstab's `UUID=XXXX-XXXX`). */
  espVolumeId: string;
}

export function newDiskIds(): DebianVmDiskIds {
  return { rootUuid: randomUUID(), espVolumeId: randomBytes(4).toString('hex').toUpperCase() };
}

export function debianVmFstab(ids: DebianVmDiskIds): string {
  const esp = `${ids.espVolumeId.slice(0, 4)}-${ids.espVolumeId.slice(4)}`;
  return [
    `UUID=${ids.rootUuid} / ext4 defaults 0 1`,
    // nofail: a guest whose ESP is gone still boots (it only matters to shim and GRUB updates).
    `UUID=${esp} /boot/efi vfat umask=0077,nofail 0 1`,
    '',
  ].join('\n');
}

/** What the signed GRUB reads first (grub-install writes the same): find / and go on to its grub.cfg. */
export function espGrubCfg(rootUuid: string): string {
  return [
    `search.fs_uuid ${rootUuid} root`,
    "set prefix=($root)'/boot/grub'",
    'configfile $prefix/grub.cfg',
    '',
  ].join('\n');
}

/** /boot/grub/grub.cfg until the guest's first update-grub: one entry, no menu wait, on both consoles. */
export function rootGrubCfg(rootUuid: string, kernelVersion: string): string {
  return [
    'serial --unit=0 --speed=115200',
    'terminal_input console serial',
    'terminal_output console serial',
    'set timeout=0',
    'insmod part_gpt',
    'insmod ext2',
    `search --no-floppy --fs-uuid --set=root ${rootUuid}`,
    `menuentry 'Debian GNU/Linux' {`,
    `  linux /boot/vmlinuz-${kernelVersion} root=UUID=${rootUuid} ro ${DEBIAN_VM_KERNEL_ARGS}`,
    `  initrd /boot/initrd.img-${kernelVersion}`,
    '}',
    '',
  ].join('\n');
}

/** What update-grub in the guest makes its grub.cfg from. */
export const DEBIAN_VM_DEFAULT_GRUB = `GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=\`lsb_release -i -s 2> /dev/null || echo Debian\`
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="${DEBIAN_VM_KERNEL_ARGS}"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
`;

/** The ESP's files: where each comes from in the tree, and its path on the ESP. */
export function espFiles(tree: string): Array<{ from: string; to: string }> {
  const shim = (name: string) => path.join(tree, 'usr/lib/shim', `${name}.efi.signed`);
  const grub = path.join(tree, 'usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed');
  return [
    // The removable-media path: what the firmware boots with no boot entry.
    { from: shim('shimx64'), to: '/EFI/BOOT/BOOTX64.EFI' },
    { from: grub, to: '/EFI/BOOT/grubx64.efi' },
    { from: shim('mmx64'), to: '/EFI/BOOT/mmx64.efi' },
    // Debian's own directory, as grub-install makes it (GRUB's prefix is /EFI/debian).
    { from: shim('shimx64'), to: '/EFI/debian/shimx64.efi' },
    { from: grub, to: '/EFI/debian/grubx64.efi' },
    { from: shim('mmx64'), to: '/EFI/debian/mmx64.efi' },
  ];
}

/** Writes GRUB's configuration into the tree (after the packages are configured). */
export async function writeGrubConfig(
  tree: string,
  ids: DebianVmDiskIds,
  kernelVersion: string,
): Promise<void> {
  await writeTreeFile(tree, 'etc/default/grub', DEBIAN_VM_DEFAULT_GRUB);
  await writeTreeFile(tree, 'boot/grub/grub.cfg', rootGrubCfg(ids.rootUuid, kernelVersion));
  // The ESP's mount point (its files go into the FAT image, debian-vm-disk.ts).
  await mkdir(path.join(tree, 'boot/efi'), { recursive: true, mode: 0o700 });
}
