import { describe, expect, it } from 'vitest';
import { EXEC_WRAPPER, exitCodeOf, guestExecArgs } from './agent-exec.ts';
import { parseStat } from './agent-files.ts';
import { rootDiskPlan } from './root-disk.ts';
import { tapName } from './vm-nics.ts';

describe('guestExecArgs', () => {
  it('runs the command through the stdin FIFO wrapper with LXD default environment', () => {
    const args = guestExecArgs(
      { command: ['ls', '-l'], cwd: '/srv', environment: { A: 'b' } },
      '/tmp/f',
    );
    expect(args).toMatchObject({ path: '/bin/sh', 'capture-output': true });
    expect(args.arg).toEqual(['-c', EXEC_WRAPPER, 'sh', '/tmp/f', '/srv', 'ls', '-l']);
    expect(args.env).toEqual(expect.arrayContaining(['A=b', 'HOME=/root', 'LANG=C.UTF-8']));
  });
  it('refuses what QGA cannot do: another user, empty commands, bad variables', () => {
    expect(() => guestExecArgs({ command: ['id'], user: 1000 }, '/tmp/f')).toThrow(
      /NOT_IMPLEMENTED|root/,
    );
    expect(() => guestExecArgs({ command: [] }, '/tmp/f')).toThrow(/command/);
    expect(() => guestExecArgs({ command: ['x'], environment: { 'A=B': 'c' } }, '/tmp/f')).toThrow(
      /environment/,
    );
  });
});

describe('exitCodeOf', () => {
  it('is the exit code, or 128 + the signal', () => {
    expect(exitCodeOf({ exited: true, exitcode: 3 })).toBe(3);
    expect(exitCodeOf({ exited: true, signal: 9 })).toBe(137);
  });
});

describe('parseStat', () => {
  it('reads files, symlinks and directories (NUL-separated entries)', () => {
    expect(parseStat('f', Buffer.from('file\n644 0 0 12\n')).entry).toEqual({
      name: 'f',
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: 12,
    });
    expect(parseStat('l', Buffer.from('symlink\n777 0 0 3\nf\n')).entry).toMatchObject({
      type: 'symlink',
      target: 'f',
    });
    const dir = parseStat('d', Buffer.from('directory\n755 1 2 4096\nb\0a\0with\nnewline\0'));
    expect(dir.entry).toMatchObject({ type: 'directory', mode: 0o755, uid: 1, gid: 2 });
    expect(dir.entries).toEqual(['a', 'b', 'with\nnewline']);
  });
});

describe('rootDiskPlan', () => {
  it('finds the root disk device and parses its size', () => {
    expect(
      rootDiskPlan({ root: { type: 'disk', path: '/', pool: 'default', size: '64MiB' } }),
    ).toEqual({
      device: 'root',
      sizeBytes: 64 * 1024 * 1024,
    });
    expect(rootDiskPlan({ eth0: { type: 'nic', network: 'b' } })).toEqual({
      device: undefined,
      sizeBytes: undefined,
    });
    expect(() => rootDiskPlan({ root: { type: 'disk', path: '/', size: 'lots' } })).toThrow(/size/);
  });
});

describe('tapName', () => {
  it('is stable, per engine, VM and device, and fits IFNAMSIZ', () => {
    const a = tapName('/var/lib/berth', 'default_v1', 'eth0');
    expect(a).toMatch(/^vt[0-9a-f]{12}$/);
    expect(tapName('/var/lib/berth', 'default_v1', 'eth0')).toBe(a);
    expect(tapName('/var/lib/berth', 'default_v1', 'eth1')).not.toBe(a);
    expect(tapName('/tmp/other', 'default_v1', 'eth0')).not.toBe(a);
  });
});
