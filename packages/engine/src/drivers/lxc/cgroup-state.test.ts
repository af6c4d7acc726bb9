import { describe, expect, it } from 'vitest';
import { parseIpAddr, parseProcCgroup, ProcessCgroups, readCgroupUsage } from './cgroup-state.ts';

describe('parseProcCgroup', () => {
  it('reads a v1 hybrid layout, split and joint controllers', () => {
    const paths = parseProcCgroup(
      '12:cpu,cpuacct:/berth-1.payload/default_c1\n4:memory:/x/berth-1.payload/default_c1\n1:name=systemd:/init.scope\n0::/\n',
    );
    expect(paths.get('cpu')).toBe('/berth-1.payload/default_c1');
    expect(paths.get('cpuacct')).toBe('/berth-1.payload/default_c1');
    expect(paths.get('memory')).toBe('/x/berth-1.payload/default_c1');
    expect(paths.get('systemd')).toBe('/init.scope');
    expect(paths.get('unified')).toBe('/');
  });

  it('builds file paths under /sys/fs/cgroup', () => {
    const cgroups = new ProcessCgroups(parseProcCgroup('6:freezer:/berth-1.payload/p_c\n'));
    expect(cgroups.file('freezer', 'freezer.state')).toBe(
      '/sys/fs/cgroup/freezer/berth-1.payload/p_c/freezer.state',
    );
    expect(cgroups.file('memory', 'memory.usage_in_bytes')).toBeUndefined();
  });

  it('reads zeros where files are missing', () => {
    const usage = readCgroupUsage(
      new ProcessCgroups(parseProcCgroup('4:memory:/does/not/exist\n')),
    );
    expect(usage).toEqual({
      memory: { usage: 0, usage_peak: 0, swap_usage: 0, swap_usage_peak: 0 },
      cpuNs: 0,
      processes: 0,
    });
  });
});

describe('parseIpAddr', () => {
  const json = JSON.stringify([
    {
      ifname: 'lo',
      flags: ['LOOPBACK', 'UP', 'LOWER_UP'],
      mtu: 65536,
      operstate: 'UNKNOWN',
      link_type: 'loopback',
      address: '00:00:00:00:00:00',
      addr_info: [
        { family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' },
        { family: 'inet6', local: '::1', prefixlen: 128, scope: 'host' },
      ],
      stats64: {
        rx: { bytes: 10, packets: 1, errors: 0, dropped: 0 },
        tx: { bytes: 10, packets: 1, errors: 0, dropped: 0 },
      },
    },
    {
      ifname: 'eth0',
      flags: ['BROADCAST', 'MULTICAST', 'UP'],
      mtu: 1500,
      link_type: 'ether',
      address: '02:16:3e:00:00:01',
      addr_info: [
        { family: 'inet', local: '10.0.0.5', prefixlen: 24, scope: 'global' },
        { family: 'inet6', local: 'fe80::16:3eff:fe00:1', prefixlen: 64, scope: 'link' },
      ],
      stats64: {
        rx: { bytes: 1000, packets: 10, errors: 1, dropped: 2 },
        tx: { bytes: 500, packets: 5, errors: 3, dropped: 4 },
      },
    },
    {
      ifname: 'eth1',
      flags: ['BROADCAST'],
      mtu: 1500,
      link_type: 'ether',
      address: '02:16:3e:00:00:02',
    },
  ]);

  it("maps to LXD's network state", () => {
    const network = parseIpAddr(json, new Map([['eth0', 'vbabc']]));
    expect(network.lo).toMatchObject({
      type: 'loopback',
      state: 'up',
      hwaddr: '',
      host_name: '',
      mtu: 65536,
    });
    expect(network.lo?.addresses).toEqual([
      { family: 'inet', address: '127.0.0.1', netmask: '8', scope: 'local' },
      { family: 'inet6', address: '::1', netmask: '128', scope: 'local' },
    ]);
    expect(network.eth0).toEqual({
      addresses: [
        { family: 'inet', address: '10.0.0.5', netmask: '24', scope: 'global' },
        { family: 'inet6', address: 'fe80::16:3eff:fe00:1', netmask: '64', scope: 'link' },
      ],
      counters: {
        bytes_received: 1000,
        bytes_sent: 500,
        packets_received: 10,
        packets_sent: 5,
        errors_received: 1,
        errors_sent: 3,
        packets_dropped_outbound: 4,
        packets_dropped_inbound: 2,
      },
      hwaddr: '02:16:3e:00:00:01',
      host_name: 'vbabc',
      mtu: 1500,
      state: 'up',
      type: 'broadcast',
    });
    expect(network.eth1).toMatchObject({
      state: 'down',
      addresses: [],
      counters: { bytes_received: 0 },
    });
  });

  it('refuses garbage', () => {
    expect(() => parseIpAddr('not json', new Map())).toThrow(/Unreadable/);
  });
});
