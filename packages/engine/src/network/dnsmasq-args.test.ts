import { describe, expect, it } from 'vitest';
import { buildDnsmasqArgs, dnsmasqFiles, isOurDnsmasq, parseDhcpRanges } from './dnsmasq-args.ts';

describe('dnsmasq arguments', () => {
  const files = dnsmasqFiles('/data/networks/berthbr0');

  it('binds to the bridge only, DHCP only, with the notes’ options', () => {
    const args = buildDnsmasqArgs({
      bridge: 'berthbr0',
      gateway: '10.1.2.1',
      ranges: [{ start: '10.1.2.2', end: '10.1.2.254' }],
      netmask: '255.255.255.0',
      leaseTime: '1h',
      files,
    });
    expect(args).toEqual([
      '--conf-file=/dev/null',
      '--strict-order',
      '--bind-interfaces',
      '--interface=berthbr0',
      '--except-interface=lo',
      '--listen-address=10.1.2.1',
      '--port=0',
      '--dhcp-range=10.1.2.2,10.1.2.254,255.255.255.0,1h',
      '--dhcp-no-override',
      '--dhcp-authoritative',
      '--no-ping',
      '--dhcp-leasefile=/data/networks/berthbr0/dnsmasq.leases',
      '--dhcp-hostsfile=/data/networks/berthbr0/dnsmasq.hosts',
      '--pid-file=/data/networks/berthbr0/dnsmasq.pid',
      '--log-facility=/data/networks/berthbr0/dnsmasq.log',
      '--log-dhcp',
    ]);
  });

  it('passes several ranges', () => {
    const args = buildDnsmasqArgs({
      bridge: 'b',
      gateway: '10.0.0.1',
      ranges: [
        { start: '10.0.0.10', end: '10.0.0.20' },
        { start: '10.0.0.100', end: '10.0.0.110' },
      ],
      netmask: '255.255.255.0',
      leaseTime: 'infinite',
      files,
    });
    expect(args.filter((a) => a.startsWith('--dhcp-range='))).toEqual([
      '--dhcp-range=10.0.0.10,10.0.0.20,255.255.255.0,infinite',
      '--dhcp-range=10.0.0.100,10.0.0.110,255.255.255.0,infinite',
    ]);
  });

  it('parses LXD’s ipv4.dhcp.ranges', () => {
    expect(parseDhcpRanges('10.0.0.10-10.0.0.20, 10.0.0.30-10.0.0.40')).toEqual([
      { start: '10.0.0.10', end: '10.0.0.20' },
      { start: '10.0.0.30', end: '10.0.0.40' },
    ]);
    expect(parseDhcpRanges('10.0.0.10')).toBeNull();
    expect(parseDhcpRanges('a-b-c')).toBeNull();
  });

  it('recognises only our own dnsmasq from its command line', () => {
    const ours = ['dnsmasq', '--interface=br1', `--pid-file=${files.pid}`];
    expect(isOurDnsmasq(ours, 'br1', files.pid)).toBe(true);
    expect(isOurDnsmasq(['/usr/sbin/dnsmasq', ...ours.slice(1)], 'br1', files.pid)).toBe(true);
    expect(isOurDnsmasq(ours, 'br2', files.pid)).toBe(false);
    expect(
      isOurDnsmasq(['dnsmasq', '--interface=br1', '--pid-file=/run/other.pid'], 'br1', files.pid),
    ).toBe(false);
    expect(
      isOurDnsmasq(['sleep', '--interface=br1', `--pid-file=${files.pid}`], 'br1', files.pid),
    ).toBe(false);
    expect(isOurDnsmasq([], 'br1', files.pid)).toBe(false);
  });
});
