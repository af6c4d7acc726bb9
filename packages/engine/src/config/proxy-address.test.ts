import { describe, expect, it } from 'vitest';
import { parseProxyAddress, tryParseProxyAddress } from './proxy-address';

describe('parseProxyAddress (LXD ProxyParseAddr)', () => {
  it.each([
    ['tcp:127.0.0.1:80', { connType: 'tcp', abstract: false, address: '127.0.0.1', ports: [80] }],
    ['udp:10.0.0.1:53', { connType: 'udp', abstract: false, address: '10.0.0.1', ports: [53] }],
    [
      'tcp:0.0.0.0:80,443',
      { connType: 'tcp', abstract: false, address: '0.0.0.0', ports: [80, 443] },
    ],
    ['tcp::8080', { connType: 'tcp', abstract: false, address: '', ports: [8080] }],
    [
      'tcp:[::1]:8000-8002',
      { connType: 'tcp', abstract: false, address: '::1', ports: [8000, 8001, 8002] },
    ],
    ['tcp:[fd42::1]:22', { connType: 'tcp', abstract: false, address: 'fd42::1', ports: [22] }],
    [
      'unix:/run/app.sock',
      { connType: 'unix', abstract: false, address: '/run/app.sock', ports: [] },
    ],
    [
      'unix:@berth-abstract',
      { connType: 'unix', abstract: true, address: '@berth-abstract', ports: [] },
    ],
  ])('%j', (value, address) => {
    expect(parseProxyAddress(value)).toEqual(address);
  });

  it.each([
    ['', 'Unknown protocol type ""'],
    ['http:127.0.0.1:80', 'Unknown protocol type "http"'],
    ['tcp', 'Missing address'],
    ['tcp:', 'Missing address'],
    ['tcp:127.0.0.1', 'missing port in address'],
    ['tcp:::1:80', 'too many colons in address'],
    ['tcp:[::1]80', 'missing port in address'],
    ['tcp:[::1:80', "missing ']' in address"],
    ['tcp:localhost:80', 'Not an IP address "localhost"'],
    ['tcp:256.0.0.1:80', 'Not an IP address "256.0.0.1"'],
    ['tcp:127.0.0.1:', 'Invalid port ""'],
    ['tcp:127.0.0.1:http', 'Invalid port "http"'],
    ['tcp:127.0.0.1:0', 'Port 0 is out of range'],
    ['tcp:127.0.0.1:65536', 'Port 65536 is out of range'],
    ['tcp:127.0.0.1:90-80', 'End port should be higher than start port'],
    ['tcp:127.0.0.1:80-80', 'End port should be higher than start port'],
    ['tcp:127.0.0.1:1-2-3', 'Invalid port range "1-2-3"'],
    ['unix:run/app.sock', 'Unix socket path must be absolute'],
  ])('refuses %j', (value, reason) => {
    const parsed = tryParseProxyAddress(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });
});
