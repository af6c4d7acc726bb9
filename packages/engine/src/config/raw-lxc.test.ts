import { describe, expect, it } from 'vitest';
import { parseRawLxc, tryParseRawLxc } from './raw-lxc';

describe('parseRawLxc (LXD lxcParseRawLXC + lxcValidConfig)', () => {
  it('parses key = value lines, skipping blanks and comments, lower-casing keys', () => {
    const text = [
      '# a comment',
      '',
      'lxc.apparmor.profile = unconfined',
      '  LXC.Mount.Entry=/srv srv none bind,create=dir 0 0',
      '\tlxc.cgroup2.devices.allow = c 10:200 rwm\r',
      '   # indented comment',
      'lxc.net.0.ipv4.address = 10.0.0.5/24',
      'lxc.net.1.ipv6.gateway = fe80::1',
      'lxc.environment = A=B',
    ].join('\n');
    expect(parseRawLxc(text)).toEqual([
      { key: 'lxc.apparmor.profile', value: 'unconfined', line: 3 },
      { key: 'lxc.mount.entry', value: '/srv srv none bind,create=dir 0 0', line: 4 },
      { key: 'lxc.cgroup2.devices.allow', value: 'c 10:200 rwm', line: 5 },
      { key: 'lxc.net.0.ipv4.address', value: '10.0.0.5/24', line: 7 },
      { key: 'lxc.net.1.ipv6.gateway', value: 'fe80::1', line: 8 },
      { key: 'lxc.environment', value: 'A=B', line: 9 },
    ]);
  });

  it('accepts keys LXD lets through, lxc.rootfs.path among them (LXD does not forbid it)', () => {
    expect(parseRawLxc('lxc.rootfs.path = dir:/srv/x')).toHaveLength(1);
  });

  it.each([
    ['lxc.apparmor.profile', 'line 1: Invalid raw.lxc line: lxc.apparmor.profile'],
    ['= value', 'line 1: Invalid raw.lxc line: = value'],
    ['ok.key = 1', 'Unknown raw.lxc key "ok.key"'],
    ['lxc.logfile = /tmp/x', 'Setting lxc.logfile is not allowed'],
    ['lxc.log.file = /tmp/x', 'Setting lxc.logfile is not allowed'],
    ['lxc.syslog = daemon', 'Setting lxc.log.syslog is not allowed'],
    ['lxc.log.syslog = daemon', 'Setting lxc.log.syslog is not allowed'],
    ['lxc.ephemeral = 1', 'Setting lxc.ephemeral is not allowed'],
    ['lxc.prlimit.nofile = 1024', 'Process limits should be set via "limits.kernel.[limit name]"'],
    ['lxc.net.0.type = veth', 'Only interface-specific ipv4/ipv6 lxc.net. keys are allowed'],
    ['lxc.net.0.link = br0', 'Only interface-specific ipv4/ipv6 lxc.net. keys are allowed'],
    ['lxc.net.0.ipv4.address.x = 1', 'Only interface-specific ipv4/ipv6 lxc.net. keys are allowed'],
    ['lxc.network.0.ipv4 = 10.0.0.1', 'pre-LXC 2.1 key'],
    ['# ok\nlxc.ephemeral = 1', 'line 2: Setting lxc.ephemeral'],
  ])('refuses %j', (text, reason) => {
    const parsed = tryParseRawLxc(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });

  it('refuses idmap and include keys when only unprivileged containers are allowed', () => {
    expect(tryParseRawLxc('lxc.idmap = u 0 100000 65536').ok).toBe(true);
    for (const key of ['lxc.idmap', 'lxc.id_map', 'lxc.include']) {
      expect(tryParseRawLxc(`${key} = x`, { unprivilegedOnly: true })).toMatchObject({
        ok: false,
        reason: expect.stringContaining(`${key} can't be set in raw.lxc`),
      });
    }
  });

  it('throws naming raw.lxc', () => {
    expect(() => parseRawLxc('lxc.ephemeral = 1')).toThrow(
      'config["raw.lxc"]: line 1: Setting lxc.ephemeral is not allowed',
    );
  });
});
