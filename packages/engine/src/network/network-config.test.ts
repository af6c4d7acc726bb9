import { describe, expect, it } from 'vitest';
import { natAddScript, natRemoveScript } from './nat-rules.ts';
import { isTrue, validateNetworkConfig } from './network-config.ts';

describe('bridge config', () => {
  it('accepts the supported keys', () => {
    expect(() =>
      validateNetworkConfig({
        'ipv4.address': '10.0.3.1/24',
        'ipv4.nat': 'false',
        'ipv4.dhcp': 'true',
        'ipv4.dhcp.ranges': '10.0.3.10-10.0.3.20',
        'ipv4.dhcp.expiry': '2h',
        'ipv6.address': 'none',
        'bridge.mtu': '1400',
        'bridge.hwaddr': '00:16:3e:00:00:01',
        'user.note': 'anything',
      }),
    ).not.toThrow();
    expect(() => validateNetworkConfig({ 'ipv4.address': 'auto' })).not.toThrow();
    expect(() => validateNetworkConfig({ 'ipv4.address': 'none' })).not.toThrow();
  });

  it.each([
    [{ 'ipv4.address': '10.0.3.0/24' }, 'config["ipv4.address"]'],
    [{ 'ipv4.nat': 'maybe' }, 'config["ipv4.nat"]'],
    [{ 'bridge.mtu': '100' }, 'config["bridge.mtu"]'],
    [{ 'ipv4.dhcp.ranges': '10.0.3.10' }, 'config["ipv4.dhcp.ranges"]'],
    [{ 'ipv6.address': 'auto' }, 'config["ipv6.address"]'],
    [{ 'bogus.key': '1' }, 'config["bogus.key"]'],
  ])('refuses %j naming the key', (config, field) => {
    expect(() => validateNetworkConfig(config)).toThrow(expect.objectContaining({ field }));
  });

  it('reads booleans as LXD does', () => {
    expect(isTrue('true')).toBe(true);
    expect(isTrue('1')).toBe(true);
    expect(isTrue('false')).toBe(false);
    expect(isTrue(undefined)).toBe(false);
  });
});

describe('NAT rules', () => {
  it('lives in its own table and chain per network', () => {
    expect(natAddScript('berthbr0', '10.1.2.0/24')).toBe(
      [
        'add table ip berth',
        'add chain ip berth pstrt.berthbr0 { type nat hook postrouting priority 100; policy accept; }',
        'flush chain ip berth pstrt.berthbr0',
        'add rule ip berth pstrt.berthbr0 ip saddr 10.1.2.0/24 ip daddr != 10.1.2.0/24 masquerade',
        '',
      ].join('\n'),
    );
    expect(natRemoveScript('berthbr0')).toBe(
      'flush chain ip berth pstrt.berthbr0\ndelete chain ip berth pstrt.berthbr0\n',
    );
  });
});
