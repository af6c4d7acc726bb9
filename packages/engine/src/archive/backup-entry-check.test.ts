import { describe, expect, it } from 'vitest';
import type { ArchiveEntry } from './image-entry-check.ts';
import { BackupEntryChecker } from './backup-entry-check.ts';
import { dir, file, hard, sym } from './archive-entries.test-helpers.ts';

function checkAll(entries: ArchiveEntry[]): BackupEntryChecker {
  const c = new BackupEntryChecker();
  for (const e of entries) c.check(e);
  return c;
}

describe('BackupEntryChecker', () => {
  it('accepts a backup as Berth and LXD write it', () => {
    const c = checkAll([
      dir('backup/'),
      file('backup/index.yaml'),
      dir('backup/container/'),
      file('backup/container/backup.yaml'),
      file('backup/container/metadata.yaml'),
      dir('backup/container/rootfs/'),
      dir('backup/container/rootfs/bin/'),
      file('backup/container/rootfs/bin/busybox'),
      sym('backup/container/rootfs/bin/sh', 'busybox'),
      sym('backup/container/rootfs/etc/mtab', '/proc/mounts'),
      hard('backup/container/rootfs/bin/ls', 'backup/container/rootfs/bin/busybox'),
      { path: 'backup/container/rootfs/dev/null', type: 'CharacterDevice' },
      dir('backup/container/templates/'),
      file('backup/container/templates/hostname.tpl'),
      dir('backup/snapshots/'),
      dir('backup/snapshots/snap0/'),
      dir('backup/snapshots/snap0/rootfs/'),
      file('./backup/snapshots/snap0/rootfs/x'),
      dir('backup/snapshots/empty/'),
    ]);
    expect([...c.rootfsTrees].sort()).toEqual(['container', 'snapshots/snap0']);
  });

  it('accepts a virtual machine backup as Berth and LXD write it, listing its disks', () => {
    const c = checkAll([
      dir('backup/'),
      file('backup/index.yaml'),
      dir('backup/virtual-machine-snapshots/'),
      dir('backup/virtual-machine-snapshots/snap0/'),
      file('backup/virtual-machine-snapshots/snap0/backup.yaml'),
      dir('backup/virtual-machine-snapshots/snap0/boot/'),
      file('backup/virtual-machine-snapshots/snap0/boot/vmlinuz'),
      file('backup/virtual-machine-snapshots/snap0.img'),
      // A snapshot named like a disk: its folder, not a disk.
      dir('backup/virtual-machine-snapshots/x.img/'),
      dir('backup/virtual-machine/'),
      file('backup/virtual-machine/backup.yaml'),
      file('backup/virtual-machine/metadata.yaml'),
      dir('backup/virtual-machine/templates/'),
      file('backup/virtual-machine/templates/hostname.tpl'),
      dir('backup/virtual-machine/boot/'),
      file('backup/virtual-machine/boot/vmlinuz'),
      file('backup/virtual-machine/boot/initrd.img'),
      // What LXD keeps in a VM's config volume.
      file('backup/virtual-machine/agent-client.crt'),
      file('backup/virtual-machine/qemu.nvram'),
      dir('backup/virtual-machine/config/'),
      dir('backup/virtual-machine/config/systemd/'),
      file('backup/virtual-machine/config/systemd/lxd-agent.service'),
      file('backup/virtual-machine.img'),
    ]);
    expect([...c.disks].sort()).toEqual(['virtual-machine', 'virtual-machine-snapshots/snap0']);
    expect([...c.rootfsTrees]).toEqual([]);
  });

  it.each([
    ['an absolute path', [file('/etc/passwd')], /"\/etc\/passwd": absolute paths are not allowed/],
    ['a .. component', [file('backup/container/rootfs/../../x')], /"\.\." path components/],
    ['something beside backup/', [file('evil')], /"evil": only backup\/index.yaml/],
    ['an unknown file in backup/', [file('backup/notes.txt')], /only backup\/index.yaml/],
    [
      'an unknown file in a tree',
      [file('backup/container/evil')],
      /only backup.yaml, metadata.yaml, rootfs\/ and templates\//,
    ],
    [
      'index.yaml as a symlink',
      [sym('backup/index.yaml', '/etc/shadow')],
      /"backup\/index.yaml": must be a regular file/,
    ],
    [
      'backup.yaml as a symlink',
      [sym('backup/container/backup.yaml', '/etc/shadow')],
      /"backup\/container\/backup.yaml": must be a regular file/,
    ],
    [
      'backup/container as a symlink',
      [sym('backup/container', '/')],
      /"backup\/container": must be a directory/,
    ],
    [
      'a path through a symlink',
      [sym('backup/container/rootfs/etc', '/etc'), file('backup/container/rootfs/etc/passwd')],
      /"backup\/container\/rootfs\/etc\/passwd": the path passes through the symlink "backup\/container\/rootfs\/etc"/,
    ],
    [
      'a symlink climbing out',
      [sym('backup/snapshots/s/rootfs/up', '../../x')],
      /"backup\/snapshots\/s\/rootfs\/up": the symlink target "..\/..\/x" escapes rootfs\//,
    ],
    [
      'a hard link to a host file',
      [hard('backup/container/rootfs/pw', '/etc/passwd')],
      /absolute paths are not allowed/,
    ],
    [
      'a hard link into another tree',
      [
        file('backup/snapshots/s/rootfs/a'),
        hard('backup/container/rootfs/b', 'backup/snapshots/s/rootfs/a'),
      ],
      /"backup\/container\/rootfs\/b": the hard link target .* is outside backup\/container\//,
    ],
    [
      'a hard link to a later entry',
      [hard('backup/container/rootfs/b', 'backup/container/rootfs/a')],
      /not an earlier entry/,
    ],
    [
      'a device outside rootfs',
      [{ path: 'backup/container/templates/x', type: 'CharacterDevice' }],
      /only files and directories are allowed in templates/,
    ],
    ['a FIFO at the top', [{ path: 'backup/index.yaml', type: 'FIFO' }], /must be a regular file/],
    [
      "a VM's disk as a symlink",
      [sym('backup/virtual-machine.img', '/dev/sda')],
      /"backup\/virtual-machine.img": the disk must be a regular file/,
    ],
    [
      "a VM's disk as a hard link",
      [
        file('backup/virtual-machine/qemu.nvram'),
        hard('backup/virtual-machine.img', 'backup/virtual-machine/qemu.nvram'),
      ],
      /"backup\/virtual-machine.img": the disk must be a regular file/,
    ],
    [
      "a VM's disk as a block device",
      [{ path: 'backup/virtual-machine.img', type: 'BlockDevice' }],
      /the disk must be a regular file/,
    ],
    [
      "a snapshot's disk as a symlink",
      [sym('backup/virtual-machine-snapshots/s.img', '/etc/shadow')],
      /"backup\/virtual-machine-snapshots\/s.img": a snapshot disk must be a regular file/,
    ],
    [
      'a symlink in a VM config volume',
      [sym('backup/virtual-machine/config', '/etc')],
      /only regular files and directories may be in backup\/virtual-machine\/ \(a SymbolicLink is not\)/,
    ],
    [
      'a hard link in a VM config volume',
      [hard('backup/virtual-machine/x', 'backup/virtual-machine/backup.yaml')],
      /only regular files and directories may be in backup\/virtual-machine\//,
    ],
    [
      'a folder in boot/',
      [dir('backup/virtual-machine/boot/'), dir('backup/virtual-machine/boot/x/')],
      /only regular files are allowed in backup\/virtual-machine\/boot\//,
    ],
    [
      'backup.yaml as a folder in a VM config volume',
      [dir('backup/virtual-machine/backup.yaml/')],
      /"backup\/virtual-machine\/backup.yaml\/": must be a regular file/,
    ],
    [
      'an entry below a file in a VM config volume',
      [file('backup/virtual-machine/a'), file('backup/virtual-machine/a/b')],
      /the parent "backup\/virtual-machine\/a" is not a directory/,
    ],
    [
      "a snapshot's folder below its disk",
      [
        file('backup/virtual-machine-snapshots/s.img'),
        file('backup/virtual-machine-snapshots/s.img/backup.yaml'),
      ],
      /the parent "backup\/virtual-machine-snapshots\/s.img" is not a directory/,
    ],
    [
      'something unknown beside the disks',
      [file('backup/virtual-machine.qcow2')],
      /only backup\/index.yaml/,
    ],
  ])('refuses %s, naming the entry', (_what, entries, message) => {
    expect(() => checkAll(entries as ArchiveEntry[])).toThrow(message);
    try {
      checkAll(entries as ArchiveEntry[]);
    } catch (error) {
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'tarball' });
      expect((error as Error).message).toMatch(/^Backup tarball entry "/);
    }
  });
});
