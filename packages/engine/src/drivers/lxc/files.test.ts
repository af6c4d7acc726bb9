import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdmapSet } from '../../validation/index.ts';
import { RootfsFiles, splitContainerPath } from './files.ts';

// Real files in a temporary "rootfs", with hostile symlinks next to a host
// directory they point at: nothing outside the rootfs may be read or written.
let base: string;
let rootfs: string;
let host: string;
const map = IdmapSet.fromSubid(
  [{ start: 1000000, size: 65536 }],
  [{ start: 1000000, size: 65536 }],
);
const isRoot = process.getuid?.() === 0;

beforeAll(() => {
  base = mkdtempSync(path.join(os.tmpdir(), 'berth-files-'));
  rootfs = path.join(base, 'rootfs');
  host = path.join(base, 'host');
  mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  mkdirSync(path.join(rootfs, 'tmp/d'), { recursive: true });
  mkdirSync(host);
  writeFileSync(path.join(rootfs, 'etc/passwd'), 'container passwd\n');
  writeFileSync(path.join(host, 'secret'), 'host secret\n');
  symlinkSync('/', path.join(rootfs, 'tmp/toroot'));
  symlinkSync('../../..', path.join(rootfs, 'tmp/up'));
  symlinkSync('../../../../../../..', path.join(rootfs, 'tmp/d/up'));
  symlinkSync(host, path.join(rootfs, 'tmp/hostdir'));
  symlinkSync(path.join(host, 'secret'), path.join(rootfs, 'tmp/secret'));
  symlinkSync('loop2', path.join(rootfs, 'tmp/loop1'));
  symlinkSync('loop1', path.join(rootfs, 'tmp/loop2'));
  symlinkSync('/etc/passwd', path.join(rootfs, 'tmp/passwd'));
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('splitContainerPath', () => {
  it.each([
    ['/', []],
    ['', []],
    ['/etc//passwd/', ['etc', 'passwd']],
    ['./a/./b', ['a', 'b']],
    ['../../x', ['..', '..', 'x']],
  ])('%j → %j', (input, parts) => {
    expect(splitContainerPath(input)).toEqual(parts);
  });

  it('refuses NUL', () => {
    expect(() => splitContainerPath('/a\0b')).toThrow(/NUL/);
  });
});

describe('RootfsFiles: resolution stays inside the rootfs', () => {
  const files = () => new RootfsFiles(rootfs, null);

  it.each([
    '../../etc/passwd',
    '/../../../etc/passwd',
    '/tmp/toroot/etc/passwd',
    '/tmp/up/etc/passwd',
    '/tmp/d/up/etc/passwd',
    '/tmp/toroot/tmp/up/tmp/d/up/etc/passwd',
  ])('%s reads the container passwd', (hostile) => {
    expect(files().pull(hostile).content?.toString()).toBe('container passwd\n');
  });

  it('does not follow a symlink to a host path out of the rootfs', () => {
    expect(() => files().pull('/tmp/hostdir/secret')).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
    // The link itself is returned, not its target's content.
    expect(files().pull('/tmp/secret').entry).toMatchObject({
      type: 'symlink',
      target: path.join(host, 'secret'),
    });
    expect(files().pull('/tmp/secret/').entry.type).toBe('symlink');
  });

  it('writes through hostile paths land inside', () => {
    for (const hostile of [
      '/tmp/toroot/etc/x1',
      '/tmp/up/etc/x1',
      '../../../etc/x1',
      '/tmp/d/up/etc/x1',
    ]) {
      files().push(hostile, { content: Buffer.from(hostile) });
      expect(readFileSync(path.join(rootfs, 'etc/x1'), 'utf8')).toBe(hostile);
    }
    expect(existsSync('/etc/x1')).toBe(false);
    files().push('/tmp/hostdir/secret', { content: Buffer.from('pwned'), createParents: true });
    expect(readFileSync(path.join(host, 'secret'), 'utf8')).toBe('host secret\n');
    expect(readFileSync(path.join(rootfs, host, 'secret'), 'utf8')).toBe('pwned');
    // The last component is a symlink to a host file: followed inside the rootfs.
    files().push('/tmp/secret', { content: Buffer.from('via link'), createParents: true });
    expect(readFileSync(path.join(host, 'secret'), 'utf8')).toBe('host secret\n');
    expect(readFileSync(path.join(rootfs, host, 'secret'), 'utf8')).toBe('via link');
  });

  it('removes inside only', () => {
    writeFileSync(path.join(host, 'victim'), 'v');
    expect(() => files().remove(`/tmp/hostdir/victim`)).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
    expect(() => files().remove(`../../..${host}/victim`)).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
    expect(existsSync(path.join(host, 'victim'))).toBe(true);
    // Removing a symlink removes the link, not its target.
    files().remove('/tmp/hostdir');
    expect(existsSync(host)).toBe(true);
    expect(() => files().remove('/')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('reports symlink loops and non-directories', () => {
    expect(() => files().pull('/tmp/loop1/x')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => files().pull('/etc/passwd/x')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => files().push('/nope/x', { content: Buffer.from('') })).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
  });

  it('lists directories and reports the root', () => {
    const root = files().pull('/');
    expect(root.entry.type).toBe('directory');
    expect(root.entries).toEqual(['etc', 'tmp']);
  });
});

describe.runIf(isRoot)('RootfsFiles: ids through the map', () => {
  it('pushes as container ids, pulls container ids', () => {
    const files = new RootfsFiles(rootfs, map);
    files.push('/etc/owned', { content: Buffer.from('x'), uid: 33, gid: 44, mode: 0o2750 });
    const stats = statSync(path.join(rootfs, 'etc/owned'));
    expect([stats.uid, stats.gid, stats.mode & 0o7777]).toEqual([1000033, 1000044, 0o2750]);
    expect(files.pull('/etc/owned').entry).toMatchObject({ uid: 33, gid: 44, mode: 0o2750 });
    // An existing file keeps its owner and mode when none are given.
    files.push('/etc/owned', { content: Buffer.from('y') });
    const again = statSync(path.join(rootfs, 'etc/owned'));
    expect([again.uid, again.gid, again.mode & 0o7777]).toEqual([1000033, 1000044, 0o2750]);
    // New parents belong to container root.
    files.push('/new/dir/file', { content: Buffer.from('z'), createParents: true });
    expect(statSync(path.join(rootfs, 'new/dir')).uid).toBe(1000000);
    expect(statSync(path.join(rootfs, 'new/dir/file')).uid).toBe(1000000);
    expect(() => files.push('/etc/bad', { content: Buffer.from(''), uid: 70000 })).toThrow(
      /not mapped/,
    );
  });
});
