import { describe, expect, it } from 'vitest';
import { CWD_WRAPPER, OnlcrUndo, attachArgs } from './exec.ts';
import { escapeConsoleInput, stripBanner } from './console.ts';

describe('attachArgs', () => {
  it('clears the environment, sets LXD-like defaults and the request variables', () => {
    expect(
      attachArgs('default_c1', '/d/lxc', {
        command: ['echo', 'hi'],
        environment: { FOO: 'a b', PATH: '/bin' },
      }),
    ).toEqual([
      '-n',
      'default_c1',
      '-P',
      '/d/lxc',
      '--clear-env',
      '--set-var',
      'PATH=/bin',
      '--set-var',
      'LANG=C.UTF-8',
      '--set-var',
      'HOME=/root',
      '--set-var',
      'USER=root',
      '--set-var',
      'FOO=a b',
      '--',
      'echo',
      'hi',
    ]);
  });

  it('runs as a user and group, and in a directory through sh', () => {
    const args = attachArgs('p_c', '/l', {
      command: ['ls', '-l'],
      user: 1000,
      group: 100,
      cwd: '/srv/my dir',
    });
    expect(args.slice(args.indexOf('--uid'))).toEqual([
      '--uid',
      '1000',
      '--gid',
      '100',
      '--',
      '/bin/sh',
      '-c',
      CWD_WRAPPER,
      'sh',
      '/srv/my dir',
      'ls',
      '-l',
    ]);
    expect(args).not.toContain('HOME=/root');
  });

  it('refuses an empty command and bad variable names', () => {
    expect(() => attachArgs('p_c', '/l', { command: [] })).toThrow(/command/);
    expect(() => attachArgs('p_c', '/l', { command: ['x'], environment: { 'A=B': 'c' } })).toThrow(
      /environment/,
    );
  });
});

describe('console helpers', () => {
  it('doubles the escape prefix so it reaches the container', () => {
    expect(escapeConsoleInput(Buffer.from([0x61, 0x01, 0x71]))).toEqual(
      Buffer.from([0x61, 0x01, 0x01, 0x71]),
    );
    const plain = Buffer.from('ls\n');
    expect(escapeConsoleInput(plain)).toBe(plain);
  });

  it('strips the banner', () => {
    const banner =
      '\r\nConnected to tty 0\r\nType <Ctrl+a q> to exit the console, <Ctrl+a Ctrl+a> to enter Ctrl+a itself\r\n';
    expect(stripBanner(`${banner}login: `)).toEqual({ rest: 'login: ', done: true });
    expect(stripBanner('\r\nConnected to')).toEqual({ rest: '\r\nConnected to', done: false });
  });
});

describe('OnlcrUndo', () => {
  it('drops the CR the outer pty put before each LF, and nothing else', () => {
    const undo = new OnlcrUndo();
    // Cooked inner pty (LF → CR LF) seen through the outer one: CR CR LF.
    expect(undo.push('a\r\r\nb\r\r\n')).toBe('a\r\nb\r\n');
    // A raw-mode program's bare LF (curses moving down) and its CRs.
    expect(undo.push('x\r\ny\rz')).toBe('x\ny\rz');
    expect(undo.holding).toBe(false);
  });

  it('holds a CR that ends a chunk until the next one tells what it was', () => {
    const undo = new OnlcrUndo();
    expect(undo.push('a\r\r')).toBe('a\r');
    expect(undo.holding).toBe(true);
    expect(undo.push('\nb')).toBe('\nb');
    expect(undo.push('50%\r')).toBe('50%');
    expect(undo.flush()).toBe('\r');
    expect(undo.flush()).toBe('');
  });
});
