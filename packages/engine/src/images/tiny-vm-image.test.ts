import { describe, expect, it } from 'vitest';
import { parseLdd, pickKernelPackage, writeCpioNewc } from './tiny-vm-image.ts';

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
