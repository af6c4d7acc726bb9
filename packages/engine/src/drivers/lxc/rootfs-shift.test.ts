import {
  chmodSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IdmapSet } from '../../validation/index.ts';
import { rewriteCapability, rewriteCapabilityDump, shiftId, shiftRootfs } from './rootfs-shift.ts';

const mapA = IdmapSet.fromSubid([{ start: 1000000, size: 1e9 }], [{ start: 1000000, size: 1e9 }]);
const mapB = IdmapSet.fromSubid(
  [{ start: 3000000, size: 65536 }],
  [{ start: 4000000, size: 65536 }],
);
const isRoot = process.getuid?.() === 0;

describe('shiftId', () => {
  it.each<[string, 'uid' | 'gid', number, IdmapSet | null, IdmapSet | null, number]>([
    ['host → map', 'uid', 0, null, mapA, 1000000],
    ['host → map, a user', 'gid', 1000, null, mapA, 1001000],
    ['map → host', 'uid', 1000033, mapA, null, 33],
    ['map → other map (uid)', 'uid', 1000005, mapA, mapB, 3000005],
    ['map → other map (gid)', 'gid', 1000005, mapA, mapB, 4000005],
    ['unmapped in the old map shows as nobody', 'uid', 12, mapA, null, 65534],
    ['beyond the new map becomes its nobody', 'uid', 70000, null, mapA, 1065534],
  ])('%s', (_label, kind, id, from, to, expected) => {
    expect(shiftId(kind, id, from, to)).toBe(expected);
  });
});

describe('security.capability rewriting', () => {
  // v2: magic 0x02000001 (effective), permitted = CAP_NET_RAW (bit 13), inheritable 0.
  const v2 = Buffer.from('0100000200200000000000000000000000000000', 'hex');

  it('turns v2 into v3 with the mapped root id, and back', () => {
    const v3 = rewriteCapability(v2, 1000000);
    expect(v3.length).toBe(24);
    expect(v3.readUInt32LE(0)).toBe(0x03000001);
    expect(v3.readUInt32LE(20)).toBe(1000000);
    expect(v3.subarray(4, 20)).toEqual(v2.subarray(4, 20));
    expect(rewriteCapability(v3, undefined)).toEqual(v2);
    expect(rewriteCapability(v3, 3000000).readUInt32LE(20)).toBe(3000000);
  });

  it('leaves what it does not understand', () => {
    const odd = Buffer.from('0100000100', 'hex');
    expect(rewriteCapability(odd, 5)).toBe(odd);
  });

  it('rewrites a getfattr dump, keeping file lines', () => {
    const dump = `# file: /r/bin/ping\nsecurity.capability=0x${v2.toString('hex')}\n\n# file: /r/a\\040b\nsecurity.capability=0x${v2.toString('hex')}\n`;
    const { text, count } = rewriteCapabilityDump(dump, 1000000);
    expect(count).toBe(2);
    expect(text).toContain('# file: /r/a\\040b');
    expect(text).toContain(
      `security.capability=0x${rewriteCapability(v2, 1000000).toString('hex')}`,
    );
  });
});

describe.runIf(isRoot)('shiftRootfs on real files', () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'berth-shift-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('shifts every entry, keeps setuid/setgid and capabilities, never follows symlinks', async () => {
    const root = path.join(base, 'rootfs');
    mkdirSync(path.join(root, 'bin'), { recursive: true });
    mkdirSync(path.join(root, 'home/user'), { recursive: true });
    writeFileSync(path.join(root, 'bin/su'), '');
    chmodSync(path.join(root, 'bin/su'), 0o4755);
    writeFileSync(path.join(root, 'bin/wall'), '');
    chmodSync(path.join(root, 'bin/wall'), 0o2755);
    writeFileSync(path.join(root, 'bin/ping'), '');
    execFileSync('setfattr', [
      '-n',
      'security.capability',
      '-v',
      '0x0100000200200000000000000000000000000000',
      path.join(root, 'bin/ping'),
    ]);
    writeFileSync(path.join(root, 'home/user/file'), '');
    lchownSync(path.join(root, 'home/user'), 1000, 1000);
    lchownSync(path.join(root, 'home/user/file'), 1000, 100);
    linkSync(path.join(root, 'home/user/file'), path.join(root, 'bin/hardlink'));
    const outside = path.join(base, 'outside');
    writeFileSync(outside, '');
    symlinkSync(outside, path.join(root, 'bin/escape'));

    const result = await shiftRootfs(root, null, mapA);
    expect(result).toMatchObject({ entries: 10, changed: 9, capabilities: 1 });
    expect(statSync(root).uid).toBe(1000000);
    expect(statSync(path.join(root, 'bin/su')).mode & 0o7777).toBe(0o4755);
    expect(statSync(path.join(root, 'bin/wall')).mode & 0o7777).toBe(0o2755);
    expect([
      statSync(path.join(root, 'home/user/file')).uid,
      statSync(path.join(root, 'home/user/file')).gid,
    ]).toEqual([1001000, 1000100]);
    expect(statSync(path.join(root, 'bin/hardlink')).uid).toBe(1001000);
    expect(lstatSync(path.join(root, 'bin/escape')).uid).toBe(1000000);
    expect(statSync(outside).uid).toBe(0);
    const cap = execFileSync(
      'getfattr',
      ['--absolute-names', '-e', 'hex', '-n', 'security.capability', path.join(root, 'bin/ping')],
      { encoding: 'utf8' },
    );
    expect(cap).toContain(
      'security.capability=0x0100000300200000000000000000000000000000' + '40420f00',
    );

    // And back to host ids, then to another map.
    await shiftRootfs(root, mapA, null);
    expect(statSync(path.join(root, 'home/user/file')).uid).toBe(1000);
    expect(statSync(path.join(root, 'bin/su')).mode & 0o7777).toBe(0o4755);
    const back = execFileSync(
      'getfattr',
      ['--absolute-names', '-e', 'hex', '-n', 'security.capability', path.join(root, 'bin/ping')],
      { encoding: 'utf8' },
    );
    expect(back).toContain('security.capability=0x0100000200200000000000000000000000000000\n');
    await shiftRootfs(root, null, mapB);
    expect([
      statSync(path.join(root, 'home/user/file')).uid,
      statSync(path.join(root, 'home/user/file')).gid,
    ]).toEqual([3001000, 4000100]);
  });
});
