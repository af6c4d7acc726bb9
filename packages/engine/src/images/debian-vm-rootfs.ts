// What turns a debootstrapped Debian tree into a virtual machine's root
// filesystem: a kernel whose initramfs mounts the root partition by UUID
// (booted through UEFI: debian-vm-uefi.ts), qemu-guest-agent
// (exec, files, a clean shutdown), DHCP on the first NIC through
// systemd-networkd, a login on the serial console, the root password
// locked (access is through exec and the console, as with LXD's images),
// and Berth's pty helper for interactive exec. The files written before the
// packages are configured (debootstrap's second stage) are the ones the
// kernel's postinst reads to build the initramfs.
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PTY_HELPER } from '../drivers/qemu/agent-pty.ts';
import { runCommand } from '../host/run-command.ts';
import { writeDebianBase, writeTreeFile } from './debian-builder.ts';
import { DEBIAN_VM_UEFI_PACKAGES } from './debian-vm-uefi.ts';

/**
 * On top of the container's packages. `udev` names the NIC (enp*) and starts
 * qemu-guest-agent when its virtio port appears (the package's udev rule:
 * the unit has no [Install], that rule is its activation); `e2fsprogs` checks
 * and grows the root filesystem.
 */
export const debianVmPackages = [
  'initramfs-tools',
  'linux-image-amd64',
  'udev',
  'e2fsprogs',
  'qemu-guest-agent',
  ...DEBIAN_VM_UEFI_PACKAGES,
];

/** The guest's drivers for the root disk and the NIC, loaded by the initramfs before it mounts /. */
export const DEBIAN_VM_INITRAMFS_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'ext4'];

/** The templates the container images carry: the instance's name as the hostname. */
export const debianVmTemplates = {
  files: {
    'hostname.tpl': '{{ container.name }}\n',
    'hosts.tpl':
      '127.0.0.1 localhost\n127.0.1.1 {{ container.name }}\n::1 localhost ip6-localhost ip6-loopback\n',
  },
  metadata: {
    '/etc/hostname': { when: ['create', 'copy', 'rename'], template: 'hostname.tpl' },
    '/etc/hosts': { when: ['create', 'copy', 'rename'], template: 'hosts.tpl' },
  },
};

const CHROOT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

/**
 * Before the second stage. initramfs-tools' conffiles are unpacked with
 * --force-confold there, so these stay, and the kernel's postinst builds the
 * initramfs from them: the virtio modules, no resume device (the hook would
 * otherwise pick the build host's swap and the guest wait for it at boot),
 * and the fstab whose root the fsck hook reads.
 */
export async function prepareDebianVmInitramfs(tree: string, fstab: string): Promise<void> {
  await writeTreeFile(
    tree,
    'etc/initramfs-tools/modules',
    `# Berth's VM: the root disk and the NIC are virtio.\n${DEBIAN_VM_INITRAMFS_MODULES.join('\n')}\n`,
  );
  await writeTreeFile(tree, 'etc/initramfs-tools/conf.d/resume', 'RESUME=none\n');
  await writeTreeFile(tree, 'etc/fstab', fstab);
}

/** /etc/shadow with root's password locked: `!` before its hash (debootstrap leaves `*`, which becomes `!*`). */
export function lockRootInShadow(shadow: string): string {
  return shadow
    .split('\n')
    .map((line) => {
      const fields = line.split(':');
      if (fields[0] !== 'root' || fields.length < 2) return line;
      const hash = fields[1] ?? '';
      if (!hash.startsWith('!')) fields[1] = `!${hash || '*'}`;
      return fields.join(':');
    })
    .join('\n');
}

/** systemd-networkd: DHCP on every ethernet NIC, whatever udev names it (enp0s*, or eth* with net.ifnames=0). */
export const DEBIAN_VM_NETWORK = '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n';

/**
 * Grows / to its disk at boot: `size` on the root disk device grows the
 * disk (drivers/qemu/root-disk.ts); the root partition is the disk's last,
 * so sfdisk moves the backup GPT to the new end and extends it, and ext4
 * grows online. Nothing to do (resize2fs exits 0) when they are the same size.
 */
export const GROW_ROOT_SCRIPT = `#!/bin/sh
set -eu
part=$(findmnt -n -o SOURCE /)
name=\${part#/dev/}
disk=$(basename "$(readlink -f "/sys/class/block/$name/..")")
num=$(cat "/sys/class/block/$name/partition")
start=$(cat "/sys/class/block/$name/start")
size=$(cat "/sys/class/block/$name/size")
total=$(cat "/sys/class/block/$disk/size")
# 33 sectors at the end are the backup GPT; grow for more than a MiB free.
if [ $((total - start - size - 33)) -gt 2048 ]; then
  echo ',+' | sfdisk -q --no-reread --no-tell-kernel -N "$num" "/dev/$disk"
  partx -u -n "$num" "/dev/$disk"
fi
exec resize2fs "$part"
`;

const GROW_ROOT_UNIT = `[Unit]
Description=Grow the root filesystem to its disk
DefaultDependencies=no
After=systemd-remount-fs.service
Before=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/lib/berth/grow-root

[Install]
WantedBy=local-fs.target
`;

/**
 * After the second stage: the common Debian files, networking, the root
 * lock, the pty helper, and the units enabled (systemctl in the chroot
 * links them offline; nothing runs).
 */
export async function prepareDebianVmRootfs(
  tree: string,
  mirror: string,
  codename: string,
  ptyHelper: string,
  signal?: AbortSignal,
): Promise<void> {
  await writeDebianBase(tree, mirror, codename);
  await writeTreeFile(tree, 'etc/systemd/network/80-berth-dhcp.network', DEBIAN_VM_NETWORK);
  await writeTreeFile(tree, 'usr/lib/berth/grow-root', GROW_ROOT_SCRIPT, 0o755);
  await writeTreeFile(tree, 'etc/systemd/system/berth-grow-root.service', GROW_ROOT_UNIT);
  const shadow = path.join(tree, 'etc/shadow');
  await writeFile(shadow, lockRootInShadow(await readFile(shadow, 'utf8')));
  const helper = path.join(tree, PTY_HELPER.slice(1));
  await mkdir(path.dirname(helper), { recursive: true });
  await copyFile(ptyHelper, helper);
  await chmod(helper, 0o755);
  await runCommand(
    'chroot',
    [tree, 'systemctl', 'enable', 'systemd-networkd.service', 'berth-grow-root.service'],
    { timeoutMs: 60_000, env: CHROOT_ENV, ...(signal ? { signal } : {}) },
  );
}
