import { describe, expect, it } from 'vitest';
import { debianMirrorFrom, debootstrapArgs } from './debian-builder.ts';

describe('debianMirrorFrom', () => {
  it('reads the main archive from deb822 sources, skipping security', () => {
    const sources = [
      'Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n',
    ];
    expect(debianMirrorFrom(sources)).toBe('http://mirror.example/debian');
  });

  it('reads one-line sources.list entries, with options', () => {
    expect(
      debianMirrorFrom(['# comment\ndeb [arch=amd64] http://ftp.example/debian bookworm main\n']),
    ).toBe('http://ftp.example/debian');
    expect(debianMirrorFrom(['deb http://security.debian.org bookworm-security main\n'])).toBe(
      'http://deb.debian.org/debian',
    );
  });

  it('skips deb-src and falls back to deb.debian.org', () => {
    expect(
      debianMirrorFrom(['Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n']),
    ).toBe('http://deb.debian.org/debian');
    expect(debianMirrorFrom([])).toBe('http://deb.debian.org/debian');
  });
});

describe('debootstrapArgs', () => {
  it('builds a minbase tree with an init and networking', () => {
    const args = debootstrapArgs('bookworm', '/tmp/x', 'http://m/debian');
    expect(args.slice(-3)).toEqual(['bookworm', '/tmp/x', 'http://m/debian']);
    expect(args[0]).toBe('--variant=minbase');
    expect(args[1]).toMatch(/^--include=.*systemd-sysv/);
  });
});

describe('debootstrapArgs for the VM variant', () => {
  it('unpacks only, with the extra packages after the container’s', () => {
    const args = debootstrapArgs('bookworm', '/tmp/x', 'http://m/debian', {
      foreign: true,
      extraPackages: ['linux-image-amd64', 'qemu-guest-agent'],
    });
    expect(args[0]).toBe('--foreign');
    expect(args).toContain('--variant=minbase');
    const include = args.find((a) => a.startsWith('--include='))!.slice('--include='.length);
    expect(include.split(',')).toEqual(
      expect.arrayContaining(['systemd-sysv', 'linux-image-amd64', 'qemu-guest-agent']),
    );
    expect(args.slice(-3)).toEqual(['bookworm', '/tmp/x', 'http://m/debian']);
  });
});
