import { describe, expect, it } from 'vitest';
import { isHostPathDisk } from './device-disk';
import type { Devices } from './device-table';
import { isPathWithin, normalizeAbsolutePath, restrictedDevicesIn } from './device-restrictions';

const ROOT = { type: 'disk', path: '/', pool: 'default' };
const ETH0 = { type: 'nic', nictype: 'bridged', parent: 'berthbr0', name: 'eth0' };

describe('restrictedDevicesIn', () => {
  const devices: Devices = {
    root: ROOT,
    bridged: ETH0,
    managed: { type: 'nic', network: 'berthbr0' },
    bind: { type: 'disk', source: '/srv/share', path: '/mnt' },
    vol: { type: 'disk', pool: 'default', source: 'v', path: '/vol' },
    ci: { type: 'disk', source: 'cloud-init:config' },
    tty: { type: 'unix-char', path: '/dev/ttyS0' },
    web: { type: 'proxy', listen: 'tcp:0.0.0.0:80', connect: 'tcp:127.0.0.1:80' },
    hide: { type: 'none' },
  };

  it('with default restrictions refuses unix-char, proxy, unmanaged NICs and host-path disks', () => {
    expect(restrictedDevicesIn(devices)).toEqual(['bind', 'bridged', 'tty', 'web']);
  });

  it('refuses nothing in an unrestricted project', () => {
    expect(restrictedDevicesIn(devices, { project: { restricted: 'false' } })).toEqual([]);
  });

  it('follows the project settings', () => {
    const allow = {
      restricted: 'true',
      'restricted.devices.unix-char': 'allow',
      'restricted.devices.proxy': 'allow',
      'restricted.devices.nic': 'allow',
      'restricted.devices.disk': 'allow',
    };
    expect(restrictedDevicesIn(devices, { project: allow })).toEqual([]);
    expect(
      restrictedDevicesIn(devices, {
        project: { ...allow, 'restricted.devices.disk.paths': '/srv/other, /data' },
      }),
    ).toEqual(['bind']);
    expect(
      restrictedDevicesIn(devices, {
        project: { ...allow, 'restricted.devices.disk.paths': '/srv/' },
      }),
    ).toEqual([]);
    expect(
      restrictedDevicesIn(devices, {
        project: { ...allow, 'restricted.devices.disk.paths': '/srv/sh' },
      }),
    ).toEqual(['bind']);
    expect(
      restrictedDevicesIn(devices, {
        project: {
          restricted: 'true',
          'restricted.devices.nic': 'block',
          'restricted.devices.disk': 'block',
        },
      }),
    ).toEqual(['bind', 'bridged', 'managed', 'tty', 'vol', 'web']);
  });

  describe('restricted.devices.disk.paths', () => {
    const project = {
      restricted: 'true',
      'restricted.devices.disk': 'allow',
      'restricted.devices.disk.paths': '/tmp/allowed',
    };
    const refused = (source: string) =>
      restrictedDevicesIn({ data: { type: 'disk', source, path: '/mnt' } }, { project });

    it.each([
      '/tmp/allowed',
      '/tmp/allowed/',
      '/tmp/allowed/sub/dir',
      '//tmp//allowed///sub',
      '/tmp/./allowed/./sub',
      '/tmp/allowed/sub/../other',
    ])('allows %j, inside the allowed path', (source) => {
      expect(refused(source)).toEqual([]);
    });

    it.each([
      '/tmp/allowed/../../etc',
      '/tmp/allowed/..',
      '/tmp/allowed/sub/../../x',
      '/tmp/allowed2',
      '/tmp/allowe',
      '/tmp',
      '/',
      '/../tmp/allowed/../etc',
      'tmp/allowed',
      './tmp/allowed',
      '../etc',
    ])('refuses %j, which is not inside /tmp/allowed', (source) => {
      expect(refused(source)).toEqual(['data']);
    });

    it('refuses a relative source even when any path is allowed', () => {
      const any = { restricted: 'true', 'restricted.devices.disk': 'allow' };
      expect(
        restrictedDevicesIn(
          { data: { type: 'disk', source: 'etc', path: '/mnt' } },
          { project: any },
        ),
      ).toEqual(['data']);
      expect(
        restrictedDevicesIn(
          { data: { type: 'disk', source: '/etc', path: '/mnt' } },
          { project: any },
        ),
      ).toEqual([]);
    });

    it('an allowed path with "..", a trailing slash or repeated slashes means its normal form', () => {
      const odd = { ...project, 'restricted.devices.disk.paths': '/tmp/x/../allowed//' };
      expect(
        restrictedDevicesIn(
          { a: { type: 'disk', source: '/tmp/allowed/in', path: '/a' } },
          { project: odd },
        ),
      ).toEqual([]);
      expect(
        restrictedDevicesIn(
          { a: { type: 'disk', source: '/tmp/x/in', path: '/a' } },
          { project: odd },
        ),
      ).toEqual(['a']);
    });
  });
});

describe('isPathWithin', () => {
  it.each([
    ['/srv/share', '/srv', true],
    ['/srv/share', '/srv/share', true],
    ['/srv/share', '/srv/share/', true],
    ['/srv/share', '/', true],
    ['/srv/share', '/srv/sh', false],
    ['/srv', '/srv/share', false],
    ['/srv/share/../../etc', '/srv', false],
    ['/srv/a/../b', '/srv/b', true],
    ['srv/share', '/srv', false],
    ['/srv/share', 'srv', false],
  ] as const)('%j within %j: %j', (candidate, parent, expected) => {
    expect(isPathWithin(candidate, parent)).toBe(expected);
  });

  it('normalises as path.posix does', () => {
    expect(normalizeAbsolutePath('//a/./b/../c//')).toBe('/a/c');
    expect(normalizeAbsolutePath('/../..')).toBe('/');
    expect(normalizeAbsolutePath('a/b')).toBeUndefined();
  });
});

describe('isHostPathDisk', () => {
  it('is a disk that bind-mounts a host path, nothing else', () => {
    expect(isHostPathDisk({ type: 'disk', source: '/srv', path: '/mnt' })).toBe(true);
    expect(isHostPathDisk({ type: 'disk', source: 'rel', path: '/mnt' })).toBe(true);
    expect(isHostPathDisk(ROOT)).toBe(false);
    expect(isHostPathDisk({ type: 'disk', pool: 'default', source: 'v', path: '/v' })).toBe(false);
    expect(isHostPathDisk({ type: 'disk', source: 'cloud-init:config' })).toBe(false);
    expect(isHostPathDisk({ type: 'unix-char', source: '/dev/tty', path: '/dev/tty' })).toBe(false);
  });
});
