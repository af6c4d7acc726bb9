import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkPoolDriver, zfsMissing, type ZfsHost } from './pool-drivers.ts';

describe('storage pool drivers', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A host with the zfs module loaded or not, and some of its tools. */
  function host(loaded: boolean, tools: string[]): ZfsHost {
    dir = mkdtempSync(path.join(os.tmpdir(), 'zfs-host-'));
    mkdirSync(path.join(dir, 'sys', loaded ? 'zfs' : 'ext4'), { recursive: true });
    mkdirSync(path.join(dir, 'bin'));
    for (const tool of tools) writeFileSync(path.join(dir, 'bin', tool), '');
    return { modules: path.join(dir, 'sys'), path: [path.join(dir, 'bin')] };
  }

  it('runs dir, and names the field and the reason for the others', () => {
    expect(() => checkPoolDriver('dir')).not.toThrow();
    for (const driver of ['btrfs', 'lvm', 'ceph', 'cephfs', 'cephobject'])
      expect(() => checkPoolDriver(driver)).toThrow(
        expect.objectContaining({ code: 'NOT_IMPLEMENTED', field: 'driver' }),
      );
    expect(() => checkPoolDriver('xfs')).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('unknown storage driver "xfs"'),
      }),
    );
  });

  it('says what ZFS lacks on this host: the module, then each tool', () => {
    expect(zfsMissing(host(false, ['zpool', 'zfs']))).toMatch(/zfs kernel module is not loaded/);
    expect(zfsMissing(host(true, ['zfs']))).toBe(
      "required tool 'zpool' is missing (Debian: zfsutils-linux)",
    );
    expect(zfsMissing(host(true, ['zpool']))).toBe(
      "required tool 'zfs' is missing (Debian: zfsutils-linux)",
    );
    const ready = host(true, ['zpool', 'zfs']);
    expect(zfsMissing(ready)).toBeNull();
    // With ZFS there, the refusal is Berth's own (not yet), not the host's.
    expect(() => checkPoolDriver('zfs', ready)).toThrow(
      expect.objectContaining({ code: 'NOT_IMPLEMENTED' }),
    );
    expect(() => checkPoolDriver('zfs', host(false, []))).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/^driver: ZFS is not available: /),
      }),
    );
  });
});
