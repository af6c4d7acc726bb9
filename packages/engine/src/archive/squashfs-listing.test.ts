import { describe, expect, it } from 'vitest';
import { checkSquashfsListing, parseListingLine } from './squashfs-listing.ts';

// As `unsquashfs -lln -d rootfs` prints them (squashfs-tools 4.5.1).
const LISTING = [
  'drwxr-xr-x 0/0                      91 2026-12-03 14:48 rootfs',
  'drwxr-xr-x 0/0                      35 2026-12-03 14:48 rootfs/bin',
  'lrwxrwxrwx 0/0                       7 2026-12-03 14:48 rootfs/bin/abs -> /bin/sh',
  'lrwxrwxrwx 0/0                      15 2026-12-03 14:48 rootfs/bin/h -> ../etc/hostname',
  'drwxr-xr-x 0/0                      41 2026-12-03 14:48 rootfs/etc',
  '-rw-r----- 1000/2000                 3 2026-12-03 14:48 rootfs/etc/hostname',
  'prw-r--r-- 0/0                       0 2026-12-03 14:48 rootfs/fifo',
  'crw-r--r-- 0/0                   1,  3 2026-12-03 14:48 rootfs/null',
  'srwxr-xr-x 0/0                       0 2026-12-03 14:48 rootfs/sock',
  '-rwsr-xr-x 0/0                       2 2026-12-03 14:48 rootfs/sp ace/a -> b',
  '',
].join('\n');

describe('parseListingLine', () => {
  it('reads names, types and symlink targets', () => {
    expect(parseListingLine('lrwxrwxrwx 0/0 7 2026-12-03 14:48 rootfs/bin/sh -> busybox')).toEqual({
      path: 'rootfs/bin/sh',
      type: 'SymbolicLink',
      linkpath: 'busybox',
    });
    expect(parseListingLine('crw-r--r-- 0/0 1,  3 2026-12-03 14:48 rootfs/null')).toEqual({
      path: 'rootfs/null',
      type: 'CharacterDevice',
    });
    // Only a symlink has a target: the arrow is part of a file's name.
    expect(parseListingLine('-rw-r--r-- 0/0 2 2026-12-03 14:48 rootfs/a -> b').path).toBe(
      'rootfs/a -> b',
    );
  });

  it('refuses what it cannot read unambiguously', () => {
    expect(() => parseListingLine('line')).toThrow(
      /rootfs: the squashfs listing line "line" is not an entry/,
    );
    expect(() =>
      parseListingLine('lrwxrwxrwx 0/0 7 2026-12-03 14:48 rootfs/a -> b -> ../../etc'),
    ).toThrow(/" -> " in its name or target/);
  });
});

describe('checkSquashfsListing', () => {
  it('accepts a normal tree', () => {
    expect(checkSquashfsListing(LISTING)).toBe(10);
  });

  it('refuses a symlink that climbs out of the rootfs, naming the entry', () => {
    expect(() =>
      checkSquashfsListing(
        `${LISTING}lrwxrwxrwx 0/0 12 2026-12-03 14:48 rootfs/etc/x -> ../../../etc\n`,
      ),
    ).toThrow(
      /^Squashfs rootfs entry "rootfs\/etc\/x": the symlink target "..\/..\/..\/etc" escapes rootfs\//,
    );
  });

  it('refuses a symlink without a target, a root that is no directory, and an empty listing', () => {
    expect(() =>
      checkSquashfsListing(`${LISTING}lrwxrwxrwx 0/0 0 2026-12-03 14:48 rootfs/x\n`),
    ).toThrow(/no valid target/);
    expect(() => checkSquashfsListing('-rw-r--r-- 0/0 2 2026-12-03 14:48 rootfs\n')).toThrow(
      /"rootfs": must be a directory/,
    );
    expect(() => checkSquashfsListing('')).toThrow(/lists no entries/);
  });

  it('refuses a name holding a newline', () => {
    expect(() =>
      checkSquashfsListing(`${LISTING}-rw-r--r-- 0/0 1 2026-12-03 14:48 rootfs/new\nline\n`),
    ).toThrow(/"line" is not an entry/);
  });
});
