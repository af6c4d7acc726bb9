import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TINY_VM_ROOT_INIT, tinyVmTree, type TinyVmSystem } from './tiny-vm-files.ts';
import { TINY_VM_ROOT_DISK_MIN_BYTES, buildTinyVmImage } from './tiny-vm-image.ts';
import { parseLdd, pickKernelPackage } from './tiny-vm-packages.ts';
import { writeCpioNewc, writeTree, type TreeEntry } from './tiny-vm-tree.ts';

describe('pickKernelPackage', () => {
  it('takes the newest plain amd64 kernel, not cloud or rt', () => {
    const out = [
      'linux-image-6.1.0-47-amd64 - Linux 6.1 for 64-bit PCs (signed)',
      'linux-image-6.1.0-50-cloud-amd64 - Linux 6.1 for x86-64 cloud (signed)',
      'linux-image-6.1.0-50-amd64 - Linux 6.1 for 64-bit PCs (signed)',
      'linux-image-6.1.0-9-amd64 - Linux 6.1 for 64-bit PCs (signed)',
      'linux-image-6.1.0-50-rt-amd64 - Linux 6.1 for 64-bit PCs, PREEMPT_RT (signed)',
    ].join('\n');
    expect(pickKernelPackage(out)).toBe('linux-image-6.1.0-50-amd64');
    expect(pickKernelPackage('')).toBeUndefined();
  });
});

describe('writeCpioNewc', () => {
  /** Parses newc headers back: name, mode, size, rdev. */
  function parse(archive: Buffer) {
    const entries: { name: string; mode: number; data: string; rmajor: number }[] = [];
    let at = 0;
    for (;;) {
      const header = archive.subarray(at, at + 110).toString('ascii');
      expect(header.slice(0, 6)).toBe('070701');
      const field = (i: number) => parseInt(header.slice(6 + i * 8, 14 + i * 8), 16);
      const nameSize = field(11);
      const size = field(6);
      const name = archive.subarray(at + 110, at + 110 + nameSize - 1).toString();
      at += 110 + nameSize;
      at += (4 - (at % 4)) % 4;
      const data = archive.subarray(at, at + size).toString();
      at += size;
      at += (4 - (at % 4)) % 4;
      if (name === 'TRAILER!!!') return { entries, end: at };
      entries.push({ name, mode: field(1), data, rmajor: field(9) });
    }
  }

  it('writes directories, files, symlinks and device nodes, 4-byte aligned, with a trailer', () => {
    const archive = writeCpioNewc([
      { path: 'bin', type: 'directory', mode: 0o755 },
      { path: 'init', type: 'file', mode: 0o755, data: Buffer.from('#!/bin/sh\n') },
      { path: 'bin/sh', type: 'symlink', mode: 0o777, target: 'busybox' },
      { path: 'dev/console', type: 'char', mode: 0o600, major: 5, minor: 1 },
    ]);
    const { entries, end } = parse(archive);
    expect(end).toBe(archive.length);
    expect(archive.length % 4).toBe(0);
    expect(entries).toEqual([
      { name: 'bin', mode: 0o040755, data: '', rmajor: 0 },
      { name: 'init', mode: 0o100755, data: '#!/bin/sh\n', rmajor: 0 },
      { name: 'bin/sh', mode: 0o120777, data: 'busybox', rmajor: 0 },
      { name: 'dev/console', mode: 0o020600, data: '', rmajor: 5 },
    ]);
  });
});

describe('parseLdd', () => {
  it('lists the library files, the loader included, vdso left out', () => {
    const out = [
      '\tlinux-vdso.so.1 (0x00007ffc1d5f6000)',
      '\tlibglib-2.0.so.0 => /lib/x86_64-linux-gnu/libglib-2.0.so.0 (0x00007f2112453000)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2112189000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f21126d8000)',
    ].join('\n');
    expect(parseLdd(out)).toEqual([
      '/lib/x86_64-linux-gnu/libglib-2.0.so.0',
      '/lib/x86_64-linux-gnu/libc.so.6',
      '/lib64/ld-linux-x86-64.so.2',
    ]);
  });
});

describe('tinyVmTree', () => {
  const system: TinyVmSystem = {
    busybox: Buffer.from('BUSYBOX'),
    applets: ['bin/sh', 'sbin/init', 'sbin/shutdown', 'usr/bin/env', 'linuxrc', '/abs', ''],
    agent: [{ path: 'usr/sbin/qemu-ga', type: 'file', mode: 0o755, data: Buffer.from('QGA') }],
  };
  const modules = [
    { name: 'virtio.ko', data: Buffer.from('m0') },
    { name: 'ext4.ko', data: Buffer.from('m1') },
  ];
  const byPath = (entries: TreeEntry[]) => new Map(entries.map((e) => [e.path, e]));
  const text = (entries: TreeEntry[], p: string) => byPath(entries).get(p)?.data?.toString();

  it('puts the same OS in the initramfs and on the root disk; only what differs by place differs', () => {
    const ram = tinyVmTree(system, { place: 'initramfs', modules, switchRoot: false });
    const disk = tinyVmTree(system, { place: 'root-disk' });
    const shared = [
      'bin/busybox',
      'etc/profile',
      'etc/os-release',
      'etc/acpi/PWRF/00000080',
      'sbin/shutdown',
      'usr/share/udhcpc/default.script',
      'usr/sbin/qemu-ga',
      'bin/sh',
      'sbin/init',
      'usr/bin/env',
    ];
    for (const p of shared) expect(byPath(disk).get(p), p).toEqual(byPath(ram).get(p));
    // Applet links are relative, so the disk's /sbin/init resolves inside the disk.
    expect(byPath(disk).get('sbin/init')).toMatchObject({
      type: 'symlink',
      target: '../bin/busybox',
    });
    expect(byPath(disk).get('sbin/shutdown')?.type).toBe('file');
    for (const p of ['linuxrc', 'abs', '']) expect(byPath(ram).has(p)).toBe(false);

    expect(byPath(ram).get('init')).toMatchObject({ type: 'symlink', target: 'bin/busybox' });
    expect(byPath(ram).get('dev/console')).toMatchObject({ type: 'char', major: 5, minor: 1 });
    expect([...byPath(ram).keys()].filter((p) => p.startsWith('lib/modules/'))).toEqual([
      'lib/modules/00-virtio.ko',
      'lib/modules/01-ext4.ko',
    ]);
    expect(text(ram, 'etc/init.d/rcS')).toContain('insmod');
    expect(text(ram, 'etc/init.d/rcS')).toContain('mount /dev/vda /mnt');

    for (const p of ['init', 'dev/console', 'lib/modules'])
      expect(byPath(disk).has(p), p).toBe(false);
    expect(text(disk, 'etc/init.d/rcS')).not.toContain('insmod');
    expect(text(disk, 'etc/init.d/rcS')).not.toContain('mount /dev/vda');
    expect(text(disk, 'etc/inittab')).toContain('::shutdown:/etc/init.d/rcK');
    expect(byPath(disk).get('tmp')).toMatchObject({ type: 'directory', mode: 0o1777 });
    expect(byPath(disk).get('var/run')).toMatchObject({ type: 'symlink', target: '../run' });
    for (const d of ['dev', 'proc', 'sys', 'root', 'run', 'mnt'])
      expect(byPath(disk).get(d)?.type, d).toBe('directory');
  });

  it('with a root disk, the initramfs init switch_roots into /dev/vda when it holds /sbin/init', () => {
    const ram = tinyVmTree(system, { place: 'initramfs', modules, switchRoot: true });
    const init = byPath(ram).get('init');
    expect(init).toMatchObject({ type: 'file', mode: 0o755 });
    const script = init?.data?.toString() ?? '';
    expect(script).toContain(`[ -x /newroot/${TINY_VM_ROOT_INIT} ]`);
    expect(script).toContain(`exec switch_root -c /dev/console /newroot /${TINY_VM_ROOT_INIT}`);
    // Otherwise the initramfs's own OS, as without a root disk.
    expect(script.trimEnd().endsWith('exec /sbin/init')).toBe(true);
  });

  it('writes only scripts busybox sh can parse', () => {
    const scripts = [
      ...tinyVmTree(system, { place: 'initramfs', modules, switchRoot: true }),
      ...tinyVmTree(system, { place: 'root-disk' }),
    ].filter((e) => e.type === 'file' && e.data?.toString().startsWith('#!/bin/sh'));
    expect(scripts.length).toBeGreaterThan(6);
    for (const s of scripts) {
      expect(() =>
        execFileSync('busybox', ['sh', '-n', '-c', s.data!.toString()], { stdio: 'pipe' }),
      ).not.toThrow();
    }
  });
});

describe('writeTree', () => {
  it('writes directories, files and symlinks with exact modes; refuses device nodes, duplicates, escapes', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'berth-tree-'));
    try {
      await writeTree(
        [
          { path: 'tmp', type: 'directory', mode: 0o1777 },
          { path: 'bin/busybox', type: 'file', mode: 0o755, data: Buffer.from('x') },
          { path: 'etc/secret', type: 'file', mode: 0o600, data: Buffer.from('s') },
          { path: 'sbin/init', type: 'symlink', mode: 0o777, target: '../bin/busybox' },
        ],
        root,
      );
      expect(statSync(path.join(root, 'tmp')).mode & 0o7777).toBe(0o1777);
      expect(statSync(path.join(root, 'bin/busybox')).mode & 0o7777).toBe(0o755);
      expect(statSync(path.join(root, 'etc/secret')).mode & 0o7777).toBe(0o600);
      expect(readlinkSync(path.join(root, 'sbin/init'))).toBe('../bin/busybox');
      expect(readFileSync(path.join(root, 'sbin/init'), 'utf8')).toBe('x');

      const fails = (entries: TreeEntry[]) => expect(writeTree(entries, root)).rejects.toThrow();
      await fails([{ path: 'dev/console', type: 'char', mode: 0o600, major: 5, minor: 1 }]);
      await fails([
        { path: 'a', type: 'file', mode: 0o644 },
        { path: 'a', type: 'file', mode: 0o644 },
      ]);
      await fails([{ path: '../escape', type: 'file', mode: 0o644 }]);
      await fails([{ path: '/abs', type: 'file', mode: 0o644 }]);
      expect(existsSync(path.join(root, '..', 'escape'))).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('buildTinyVmImage options', () => {
  // Never made: the options are refused before anything is downloaded or written.
  const never = path.join(os.tmpdir(), `berth-tiny-vm-never-${process.pid}`);
  const base = { cacheDir: path.join(never, 'cache'), outDir: path.join(never, 'out') };

  it('refuses rootDisk with disk, and a root disk too small, naming the field, before any work', async () => {
    await expect(
      buildTinyVmImage({
        ...base,
        disk: { sizeBytes: 32 << 20 },
        rootDisk: { sizeBytes: 64 << 20 },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'rootDisk' });
    await expect(
      buildTinyVmImage({ ...base, rootDisk: { sizeBytes: TINY_VM_ROOT_DISK_MIN_BYTES - 1 } }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'rootDisk.sizeBytes' });
    await expect(
      buildTinyVmImage({ ...base, rootDisk: { sizeBytes: 64 * 1024 * 1024 + 0.5 } }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'rootDisk.sizeBytes' });
    expect(existsSync(never)).toBe(false);
  });
});
