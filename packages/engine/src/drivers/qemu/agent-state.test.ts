import { describe, expect, it } from 'vitest';
import { networkFromAgent, networkFromLeases, osInfoFromAgent } from './agent-state.ts';

const nic = { name: 'eth0', hwaddr: '00:16:3E:AA:BB:CC', tap: 'vt0123456789ab', network: 'br0' };

describe('networkFromAgent', () => {
  it("maps the agent's interfaces to LXD's network map, with the NIC's tap", () => {
    const network = networkFromAgent(
      [
        {
          name: 'lo',
          'hardware-address': '00:00:00:00:00:00',
          'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 }],
        },
        {
          name: 'eth0',
          'hardware-address': '00:16:3e:aa:bb:cc',
          'ip-addresses': [
            { 'ip-address-type': 'ipv4', 'ip-address': '10.0.3.7', prefix: 24 },
            { 'ip-address-type': 'ipv6', 'ip-address': 'fe80::216:3eff:feaa:bbcc', prefix: 64 },
          ],
          statistics: { 'rx-bytes': 10, 'tx-bytes': 20, 'rx-packets': 1, 'tx-packets': 2 },
        },
      ],
      [nic],
    );
    expect(network.lo).toMatchObject({ type: 'loopback', hwaddr: '', host_name: '' });
    expect(network.lo?.addresses[0]).toMatchObject({ scope: 'local' });
    expect(network.eth0).toMatchObject({
      hwaddr: '00:16:3e:aa:bb:cc',
      host_name: 'vt0123456789ab',
      state: 'up',
      type: 'broadcast',
      counters: { bytes_received: 10, bytes_sent: 20, packets_received: 1, packets_sent: 2 },
    });
    expect(network.eth0?.addresses).toEqual([
      { family: 'inet', address: '10.0.3.7', netmask: '24', scope: 'global' },
      { family: 'inet6', address: 'fe80::216:3eff:feaa:bbcc', netmask: '64', scope: 'link' },
    ]);
  });
});

describe('networkFromLeases', () => {
  it('gives each NIC the address leased to its MAC', () => {
    const leases = [
      { hwaddr: '00:16:3e:aa:bb:cc', address: '10.0.3.9', hostname: '', expiresAt: null },
      { hwaddr: '00:16:3e:00:00:01', address: '10.0.3.10', hostname: '', expiresAt: null },
    ];
    const network = networkFromLeases([nic], leases, undefined, () => '22');
    expect(network.eth0?.addresses).toEqual([
      { family: 'inet', address: '10.0.3.9', netmask: '22', scope: 'global' },
    ]);
    expect(networkFromLeases([nic], []).eth0?.addresses).toEqual([]);
  });
});

describe('osInfoFromAgent', () => {
  it("takes LXD's os_info fields from guest-get-osinfo", () => {
    expect(
      osInfoFromAgent(
        {
          id: 'debian',
          name: 'Debian GNU/Linux',
          'version-id': '12',
          'kernel-release': '6.1.0-57-amd64',
        },
        'v1',
      ),
    ).toEqual({
      os: 'Debian GNU/Linux',
      os_version: '12',
      kernel_version: '6.1.0-57-amd64',
      hostname: 'v1',
      fqdn: 'v1',
    });
  });
});
