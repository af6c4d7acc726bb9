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
