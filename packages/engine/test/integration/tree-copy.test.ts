// copyPlainTree against `cp -a` on the same tree, as root on the real disk.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyPlainTree, scanTree, treeHasXattrs } from '../../src/storage/tree-ops.ts';

let work: string;
let source: string;

/** Every entry: type, mode, owner, link target, mtime to the microsecond, content, hard-link group. */
function describeTree(root: string): string[] {
  const out: string[] = [];
  const firstOf = new Map<number, string>();
  const visit = (rel: string) => {
    const full = path.join(root, rel);
    const s = lstatSync(full, { bigint: true });
    const kind = s.isDirectory() ? 'd' : s.isSymbolicLink() ? 'l' : 'f';
    let extra = '';
    if (kind === 'l') extra = readlinkSync(full);
    if (kind === 'f') {
      extra = readFileSync(full, 'utf8');
      if (s.nlink > 1n) {
        const first = firstOf.get(Number(s.ino)) ?? rel;
        firstOf.set(Number(s.ino), first);
        extra += ` linked-to:${first}`;
      }
    }
    const mode = kind === 'l' ? '' : (Number(s.mode) & 0o7777).toString(8);
    out.push(`${rel} ${kind} ${mode} ${s.uid}:${s.gid} ${s.mtimeNs / 1000n} ${extra}`);
    if (kind === 'd') for (const name of readdirSync(full).sort()) visit(path.join(rel, name));
  };
  visit('.');
  return out;
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'berth-tree-copy-'));
  source = path.join(work, 'source');
  mkdirSync(path.join(source, 'bin'), { recursive: true });
  mkdirSync(path.join(source, 'tmp'));
  mkdirSync(path.join(source, 'home/user'), { recursive: true });
  writeFileSync(path.join(source, 'bin/tool'), 'binary');
  chmodSync(path.join(source, 'bin/tool'), 0o755);
  writeFileSync(path.join(source, 'bin/su'), 'setuid');
  lchownSync(path.join(source, 'bin/su'), 1000000, 1000005);
  chmodSync(path.join(source, 'bin/su'), 0o4755);
  linkSync(path.join(source, 'bin/tool'), path.join(source, 'bin/tool-again'));
  linkSync(path.join(source, 'bin/tool'), path.join(source, 'home/tool-third'));
  symlinkSync('/bin/tool', path.join(source, 'bin/sh'));
  symlinkSync('../missing', path.join(source, 'home/dangling'));
  lchownSync(path.join(source, 'home/dangling'), 1001000, 1001000);
  writeFileSync(path.join(source, 'home/user/notes'), 'mine');
  lchownSync(path.join(source, 'home/user/notes'), 1001000, 1001000);
  lchownSync(path.join(source, 'home/user'), 1001000, 1001000);
  chmodSync(path.join(source, 'home/user'), 0o2750);
  chmodSync(path.join(source, 'tmp'), 0o1777);
  utimesSync(path.join(source, 'home/user/notes'), 1_600_000_000.123456, 1_600_000_000.654321);
  utimesSync(path.join(source, 'home'), 1_500_000_000, 1_500_000_000);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('copyPlainTree', () => {
  it('copies a plain tree exactly as cp -a does, hard links kept, nothing shared', async () => {
    await copyPlainTree(source, path.join(work, 'plain'));
    execFileSync('cp', ['-a', '--no-target-directory', source, path.join(work, 'cp')]);
    expect(describeTree(path.join(work, 'plain'))).toEqual(describeTree(path.join(work, 'cp')));
    // New inodes for everything, one per hard-link group.
    for (const entry of ['bin/tool', 'bin/sh', 'home/user', 'home/dangling']) {
      expect(lstatSync(path.join(work, 'plain', entry)).ino).not.toBe(
        lstatSync(path.join(source, entry)).ino,
      );
    }
    expect(lstatSync(path.join(work, 'plain', 'bin/tool')).nlink).toBe(3);
  });

  it('refuses what it cannot copy (a fifo), and the scan says so first', async () => {
    const odd = path.join(work, 'odd');
    mkdirSync(odd);
    execFileSync('mkfifo', [path.join(odd, 'pipe')]);
    expect(scanTree(odd)).toMatchObject({ entries: 2, special: 1 });
    await expect(copyPlainTree(odd, path.join(work, 'odd-copy'))).rejects.toThrow(/fifo|not a/);
  });

  it('finds extended attributes, which send a tree to cp -a', async () => {
    expect(await treeHasXattrs(source)).toBe(false);
    execFileSync('setfattr', ['-n', 'user.berth', '-v', '1', path.join(source, 'bin/tool')]);
    expect(await treeHasXattrs(source)).toBe(true);
    expect(scanTree(source)).toMatchObject({ special: 0 });
  });
});
