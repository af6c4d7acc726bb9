import { describe, expect, it } from 'vitest';
import {
  checkGatewayCidr,
  defaultDhcpRange,
  overlaps,
  parseCidr,
  pickFreeSubnet,
  usedSubnetsOf,
} from './ipv4.ts';

const c = (s: string) => parseCidr(s)!;

describe('ipv4', () => {
  it('parses CIDRs and refuses junk', () => {
    expect(parseCidr('10.1.2.3/24')).toEqual({ address: 0x0a010203, prefix: 24 });
    expect(parseCidr('10.1.2.3')).toEqual({ address: 0x0a010203, prefix: 32 });
    for (const bad of [
      '10.1.2/24',
      '10.1.2.256/24',
      '10.1.2.3/33',
      'a.b.c.d',
      '10.1.2.3/24/1',
      '',
      '1.2.3.4/x',
    ]) {
      expect(parseCidr(bad)).toBeNull();
    }
  });

  it('detects overlap in both directions', () => {
    expect(overlaps(c('10.0.0.0/8'), c('10.5.6.1/24'))).toBe(true);
    expect(overlaps(c('10.5.6.1/24'), c('10.0.0.0/8'))).toBe(true);
    expect(overlaps(c('10.5.6.1/24'), c('10.5.7.1/24'))).toBe(false);
    expect(overlaps(c('10.5.6.9'), c('10.5.6.1/24'))).toBe(true);
  });

  it('reads used prefixes from ip -j route and ip -j addr', () => {
    const routes = [
      { dst: 'default', gateway: '192.0.2.1', dev: 'eth0' },
      { dst: '192.0.2.0/24', dev: 'eth0' },
      { dst: '10.20.30.40', dev: 'tun0' },
      { type: 'local', dst: '127.0.0.0/8', dev: 'lo' },
    ];
    const addrs = [
      {
        ifname: 'br',
        addr_info: [
          { family: 'inet', local: '10.9.9.1', prefixlen: 24 },
          { family: 'inet6', local: 'fe80::1', prefixlen: 64 },
        ],
      },
    ];
    expect(usedSubnetsOf(routes, addrs)).toEqual([
      c('192.0.2.0/24'),
      c('10.20.30.40/32'),
      c('127.0.0.0/8'),
      c('10.9.9.1/24'),
    ]);
    expect(usedSubnetsOf(null, 'nope')).toEqual([]);
  });

  it('picks a 10.x.y.1/24 that overlaps nothing used', () => {
    // The random source first proposes 10.1.1.0/24 (taken), then 10.2.2.0/24 (inside a /16 route), then 10.3.3.0/24.
    const seq = [1, 1, 2, 2, 3, 3].map((n) => n / 256);
    let i = 0;
    const random = () => seq[i++ % seq.length]!;
    const used = [c('10.1.1.1/24'), c('10.2.0.0/16'), c('192.0.2.0/24')];
    expect(pickFreeSubnet(used, random)).toBe('10.3.3.1/24');
  });

  it('gives up when everything is taken', () => {
    expect(pickFreeSubnet([c('10.0.0.0/8')], Math.random, 20)).toBeNull();
  });

  it('checks gateway addresses', () => {
    expect(checkGatewayCidr('ipv4.address', '10.0.3.1/24')).toEqual(c('10.0.3.1/24'));
    for (const bad of [
      '10.0.3.0/24',
      '10.0.3.255/24',
      '10.0.3.1',
      '10.0.3.1/31',
      '10.0.3.1/4',
      'x',
    ]) {
      expect(() => checkGatewayCidr('ipv4.address', bad)).toThrow(
        expect.objectContaining({ field: 'ipv4.address' }),
      );
    }
  });

  it('computes the default DHCP range', () => {
    expect(defaultDhcpRange(c('10.1.2.1/24'))).toEqual({
      start: '10.1.2.2',
      end: '10.1.2.254',
      netmask: '255.255.255.0',
    });
    expect(defaultDhcpRange(c('10.1.2.254/24'))).toEqual({
      start: '10.1.2.1',
      end: '10.1.2.253',
      netmask: '255.255.255.0',
    });
    expect(defaultDhcpRange(c('172.16.0.1/16'))).toEqual({
      start: '172.16.0.2',
      end: '172.16.255.254',
      netmask: '255.255.0.0',
    });
  });
});
