import { describe, expect, it } from 'vitest';
import {
  ArchiveEntryChecker,
  normalizeEntryPath,
  resolveRelativeLink,
  type ArchiveEntry,
} from './image-entry-check.ts';
import { dir, file, hard, sym } from './archive-entries.test-helpers.ts';

function checkAll(entries: ArchiveEntry[]): ArchiveEntryChecker {
  const c = new ArchiveEntryChecker();
  for (const e of entries) c.check(e);
  return c;
}

describe('normalizeEntryPath', () => {
  it('strips ./, doubled and trailing slashes', () => {
    expect(normalizeEntryPath('./rootfs//bin/./sh')).toBe('rootfs/bin/sh');
    expect(normalizeEntryPath('./')).toBe('');
    expect(normalizeEntryPath('rootfs/')).toBe('rootfs');
  });
  it('refuses absolute paths, .. and NUL', () => {
    expect(() => normalizeEntryPath('/etc/passwd')).toThrow(/"\/etc\/passwd": absolute paths/);
    expect(() => normalizeEntryPath('rootfs/../x')).toThrow(/"\.\." path components/);
    expect(() => normalizeEntryPath('../x')).toThrow(/"\.\." path components/);
    expect(() => normalizeEntryPath('a\0b')).toThrow(/NUL/);
  });
});

describe('resolveRelativeLink', () => {
  it('resolves inside rootfs and says when it climbs out', () => {
    expect(resolveRelativeLink('rootfs/lib', 'usr/lib')).toBe('usr/lib');
    expect(resolveRelativeLink('rootfs/usr/bin/x', '../../bin/busybox')).toBe('bin/busybox');
    expect(resolveRelativeLink('rootfs/usr/bin/x', '../../../etc')).toBeNull();
    expect(resolveRelativeLink('rootfs/x', '..')).toBeNull();
  });
});

describe('ArchiveEntryChecker', () => {
  it('accepts a normal unified image', () => {
    const c = checkAll([
      dir('./'),
      file('./metadata.yaml'),
      dir('./rootfs/'),
      dir('./rootfs/bin/'),
      file('./rootfs/bin/busybox'),
      sym('./rootfs/bin/sh', '/bin/busybox'),
      sym('./rootfs/lib', 'usr/lib'),
      hard('./rootfs/bin/busybox2', './rootfs/bin/busybox'),
      { path: 'rootfs/dev/null', type: 'CharacterDevice' },
      { path: 'rootfs/run/fifo', type: 'FIFO' },
      dir('templates'),
      file('templates/hostname.tpl'),
    ]);
    expect(c.count).toBe(12);
  });

  it('refuses what is outside metadata.yaml, rootfs/ and templates/', () => {
    expect(() => checkAll([file('evil.sh')])).toThrow(
      /"evil.sh": only metadata.yaml, rootfs\/ \(or rootfs.img and boot\/\), and templates\//,
    );
    expect(() => checkAll([sym('metadata.yaml', '/etc/shadow')])).toThrow(
      /"metadata.yaml": must be a regular file/,
    );
    expect(() => checkAll([sym('templates/x.tpl', '/etc/shadow')])).toThrow(
      /only files and directories are allowed in templates/,
    );
    expect(() => checkAll([{ path: 'templates/null', type: 'CharacterDevice' }])).toThrow(
      /templates/,
    );
    expect(() => checkAll([file('rootfs')])).toThrow(/"rootfs": must be a directory/);
  });

  it("accepts a VM image's disk and boot files, as plain files only", () => {
    const c = checkAll([
      file('metadata.yaml'),
      file('rootfs.img'),
      dir('boot/'),
      file('boot/vmlinuz'),
      file('boot/initrd.img'),
    ]);
    expect(c.count).toBe(5);
    expect(() => checkAll([sym('rootfs.img', '/dev/sda')])).toThrow(
      /"rootfs.img": must be a regular file/,
    );
    expect(() => checkAll([dir('rootfs.img/')])).toThrow(/"rootfs.img\/": must be a regular file/);
    expect(() => checkAll([sym('boot/vmlinuz', '/boot/vmlinuz')])).toThrow(
      /only regular files are allowed in boot\//,
    );
    expect(() => checkAll([file('boot/x'), hard('boot/y', 'boot/x')])).toThrow(
      /only regular files are allowed in boot\//,
    );
    expect(() => checkAll([{ path: 'boot/sda', type: 'BlockDevice' }])).toThrow(/boot\//);
    expect(() => checkAll([file('boot')])).toThrow(/"boot": must be a directory/);
  });

  it('refuses writing through a symlink or a file declared earlier', () => {
    expect(() => checkAll([sym('rootfs/etc', '/etc'), file('rootfs/etc/passwd')])).toThrow(
      /"rootfs\/etc\/passwd": the path passes through the symlink "rootfs\/etc"/,
    );
    expect(() => checkAll([sym('rootfs/a', 'b'), dir('rootfs/a/c')])).toThrow(
      /passes through the symlink/,
    );
    expect(() => checkAll([file('rootfs/a'), file('rootfs/a/b')])).toThrow(
      /the parent "rootfs\/a" is not a directory/,
    );
  });

  it('refuses relative symlinks that climb out of rootfs/', () => {
    expect(() => checkAll([sym('rootfs/x', '../../../etc')])).toThrow(
      /"rootfs\/x": the symlink target "..\/..\/..\/etc" escapes rootfs/,
    );
    expect(() => checkAll([sym('rootfs/x', '')])).toThrow(/no valid target/);
  });

  it('refuses hard links to anything but an earlier non-directory entry of the same part', () => {
    expect(() => checkAll([hard('rootfs/passwd', '/etc/passwd')])).toThrow(
      /"rootfs\/passwd": the hard link target "\/etc\/passwd" is an absolute path/,
    );
    expect(() => checkAll([hard('rootfs/passwd', '../../etc/passwd')])).toThrow(
      /"\.\." path components/,
    );
    expect(() => checkAll([hard('rootfs/passwd', 'rootfs/etc/passwd')])).toThrow(
      /is not an earlier entry/,
    );
    expect(() => checkAll([dir('rootfs/d'), hard('rootfs/l', 'rootfs/d')])).toThrow(
      /is a directory/,
    );
    expect(() => checkAll([file('metadata.yaml'), hard('rootfs/m', 'metadata.yaml')])).toThrow(
      /another part of the image/,
    );
    expect(() =>
      checkAll([sym('rootfs/etc', '/etc'), file('rootfs/x'), hard('rootfs/y', 'rootfs/etc/../x')]),
    ).toThrow(/"\.\."/);
  });

  it('refuses redeclaring a path as something else, and odd entry types', () => {
    expect(() => checkAll([sym('rootfs/a', '/x'), dir('rootfs/a')])).toThrow(
      /declared twice, first as a symlink then as a directory/,
    );
    expect(() => checkAll([{ path: 'rootfs/s', type: 'SparseFile' }])).toThrow(
      /entry type SparseFile is not supported/,
    );
    expect(() => checkAll([{ path: 'rootfs/s', type: 'GNUDumpDir' }])).toThrow(/not supported/);
    checkAll([file('rootfs/a'), file('rootfs/a'), dir('rootfs/d'), dir('rootfs/d')]);
  });
});

describe('ArchiveEntryChecker for the files of a split image', () => {
  const metadata = (entries: ArchiveEntry[]) => {
    const c = new ArchiveEntryChecker({
      mode: 'metadata',
      where: { label: 'Metadata tarball', field: 'metadata' },
    });
    for (const e of entries) c.check(e);
    return c;
  };

  it('takes metadata.yaml and templates/ in a metadata tarball', () => {
    expect(
      metadata([dir('./'), file('./metadata.yaml'), dir('templates/'), file('templates/a.tpl')])
        .count,
    ).toBe(4);
  });

  it('refuses any rootfs in a metadata tarball, naming the metadata field', () => {
    for (const entry of [
      dir('rootfs/'),
      file('rootfs/etc/passwd'),
      file('rootfs.img'),
      dir('boot/'),
    ]) {
      let error: unknown;
      try {
        metadata([file('metadata.yaml'), entry]);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ field: 'metadata' });
      expect((error as Error).message).toMatch(
        /^Metadata tarball entry ".*": only metadata.yaml and templates\/ may be in a metadata tarball/,
      );
    }
  });

  it('takes only the rootfs tree in rootfs mode, with the same link rules', () => {
    const rootfs = (entries: ArchiveEntry[]) => {
      const c = new ArchiveEntryChecker({
        mode: 'rootfs',
        where: { label: 'Squashfs rootfs', field: 'rootfs' },
      });
      for (const e of entries) c.check(e);
      return c;
    };
    expect(rootfs([dir('rootfs'), sym('rootfs/sh', 'busybox'), file('rootfs/busybox')]).count).toBe(
      3,
    );
    expect(() => rootfs([file('metadata.yaml')])).toThrow(/only the rootfs tree/);
    expect(() => rootfs([dir('rootfs'), sym('rootfs/x', '../etc')])).toThrow(
      /^Squashfs rootfs entry "rootfs\/x": the symlink target "..\/etc" escapes rootfs/,
    );
  });
});
