import { describe, expect, it } from 'vitest';
import { parseLeases } from './leases.ts';

describe('dnsmasq lease file', () => {
  it('parses IPv4 leases and skips IPv6 and junk', () => {
    const text = [
      '1764345600 00:16:3E:AA:BB:01 10.177.77.45 * 01:00:16:3e:aa:bb:01',
      '1764345700 00:16:3e:aa:bb:02 10.177.77.46 c2 *',
      '0 00:16:3e:aa:bb:03 10.177.77.47 static *',
      'duid 00:01:00:01:2c:9a:aa:bb:00:16:3e:00:00:00',
      '1764345800 1234567 fd42::5 c4 00:01:00',
      'garbage line',
      '',
    ].join('\n');
    expect(parseLeases(text)).toEqual([
      {
        hwaddr: '00:16:3e:aa:bb:01',
        address: '10.177.77.45',
        hostname: '',
        expiresAt: new Date(1764345600 * 1000),
      },
      {
        hwaddr: '00:16:3e:aa:bb:02',
        address: '10.177.77.46',
        hostname: 'c2',
        expiresAt: new Date(1764345700 * 1000),
      },
      { hwaddr: '00:16:3e:aa:bb:03', address: '10.177.77.47', hostname: 'static', expiresAt: null },
    ]);
    expect(parseLeases('')).toEqual([]);
  });
});
