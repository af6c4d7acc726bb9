import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { lxdFingerprint, subjectAltNames } from './tls.ts';

const iface = (address: string, family: 'IPv4' | 'IPv6'): NetworkInterfaceInfo =>
  ({ address, family, internal: false }) as NetworkInterfaceInfo;

describe('subjectAltNames of a generated certificate', () => {
  it('names the listen address, the host name and loopback', () => {
    expect(subjectAltNames('192.0.2.7', 'berth1')).toEqual([
      'IP:192.0.2.7',
      'DNS:berth1',
      'DNS:localhost',
      'IP:127.0.0.1',
      'IP:::1',
    ]);
    expect(subjectAltNames('berth.example.org', 'berth1')[0]).toBe('DNS:berth.example.org');
    expect(subjectAltNames('2001:db8::1', 'berth1')[0]).toBe('IP:2001:db8::1');
  });

  it('names every local address for a wildcard, but no link-local v6 (it needs a zone)', () => {
    const interfaces = {
      lo: [iface('127.0.0.1', 'IPv4'), iface('::1', 'IPv6')],
      eth0: [iface('198.51.100.4', 'IPv4'), iface('fe80::1', 'IPv6'), iface('2001:db8::4', 'IPv6')],
    };
    expect(subjectAltNames('0.0.0.0', 'berth1', interfaces)).toEqual([
      'IP:127.0.0.1',
      'IP:::1',
      'IP:198.51.100.4',
      'IP:2001:db8::4',
      'DNS:berth1',
      'DNS:localhost',
    ]);
  });
});

it('writes fingerprints as LXD does', () => {
  expect(lxdFingerprint('AB:CD:0F')).toBe('abcd0f');
});
