import { describe, expect, it } from 'vitest';
import { parseEnv, parseListen } from './env.ts';

describe('BERTH_LISTEN', () => {
  it.each([
    ['127.0.0.1:8443', { host: '127.0.0.1', port: 8443, loopback: true }],
    [':8443', { host: '127.0.0.1', port: 8443, loopback: true }],
    ['localhost:80', { host: 'localhost', port: 80, loopback: true }],
    ['[::1]:8443', { host: '::1', port: 8443, loopback: true }],
    ['192.0.2.7:8443', { host: '192.0.2.7', port: 8443, loopback: false }],
    ['0.0.0.0:8443', { host: '0.0.0.0', port: 8443, loopback: false }],
    ['[::]:8443', { host: '::', port: 8443, loopback: false }],
    ['[2001:db8::1]:443', { host: '2001:db8::1', port: 443, loopback: false }],
    ['berth.example.org:8443', { host: 'berth.example.org', port: 8443, loopback: false }],
    [' 127.0.0.1:8443 ', { host: '127.0.0.1', port: 8443, loopback: true }],
  ])('reads %j', (value, expected) => {
    expect(parseListen(value)).toEqual(expected);
  });

  it.each([
    ['nonsense', /must be "host:port", "\[ipv6\]:port" or ":port", got "nonsense"/],
    ['', /must be "host:port"/],
    ['127.0.0.1', /must be "host:port"/],
    ['::1:8443', /must be "host:port"/],
    ['127.0.0.1:99999', /port 99999 is out of range/],
    ['127.0.0.1:http', /must be "host:port"/],
    ['300.1.2.3:8443', /"300.1.2.3" is not an IPv4 address/],
    ['[nonsense]:8443', /"nonsense" is not an IPv6 address/],
    ['bad_host!:8443', /"bad_host!" is not an IP address or host name/],
  ])('refuses %j', (value, message) => {
    expect(() => parseListen(value)).toThrow(message);
  });
});

describe('parseEnv', () => {
  const base = { BERTH_DATA_DIR: '/var/lib/berth' };

  it('listens on loopback without TLS by default', () => {
    const env = parseEnv(base);
    expect(env.listen).toEqual({ host: '127.0.0.1', port: 8443, loopback: true });
    expect(env.tls).toBeUndefined();
  });

  it('resolves a given certificate and key', () => {
    expect(
      parseEnv({ ...base, BERTH_TLS_CERT: '/etc/c.pem', BERTH_TLS_KEY: '/etc/k.pem' }).tls,
    ).toEqual({ cert: '/etc/c.pem', key: '/etc/k.pem' });
  });

  it.each([
    [
      { BERTH_LISTEN: 'nonsense' },
      'Environment variable BERTH_LISTEN: must be "host:port", "[ipv6]:port" or ":port", got "nonsense"',
    ],
    [
      { BERTH_TLS_CERT: '/etc/c.pem' },
      'Environment variable BERTH_TLS_KEY: is required when BERTH_TLS_CERT is set (a certificate and its private key go together)',
    ],
    [
      { BERTH_TLS_KEY: '/etc/k.pem', BERTH_TLS_CERT: ' ' },
      'Environment variable BERTH_TLS_CERT: is required when BERTH_TLS_KEY is set (a certificate and its private key go together)',
    ],
  ])('refuses %j, naming the variable and the reason', (vars, message) => {
    expect(() => parseEnv({ ...base, ...vars })).toThrow(message);
  });
});
