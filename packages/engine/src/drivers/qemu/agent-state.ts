// What the guest agent says about a running VM, in LXD's state shapes: the
// guest's interfaces (guest-network-get-interfaces) as the `network` map,
// and its OS (guest-get-osinfo, guest-get-host-name) as LXD's `os_info`.
// Without an agent the addresses come from the network's DHCP leases by MAC.
// Pure: the answers come in, the state parts go out.
import type { InstanceState, InstanceStateOSInfo } from '../../schemas/index.ts';
import type { Lease } from '../../network/leases.ts';

type StateNetwork = NonNullable<InstanceState['network']>[string];
type Counters = StateNetwork['counters'];

export interface GuestInterface {
  name: string;
  'hardware-address'?: string;
  'ip-addresses'?: { 'ip-address-type': 'ipv4' | 'ipv6'; 'ip-address': string; prefix: number }[];
  statistics?: {
    'rx-bytes'?: number;
    'rx-packets'?: number;
    'rx-errs'?: number;
    'rx-dropped'?: number;
    'tx-bytes'?: number;
    'tx-packets'?: number;
    'tx-errs'?: number;
    'tx-dropped'?: number;
  };
}

export interface GuestOsInfo {
  id?: string;
  name?: string;
  'pretty-name'?: string;
  version?: string;
  'version-id'?: string;
  'kernel-release'?: string;
  'kernel-version'?: string;
  machine?: string;
}

/** What the host knows of a NIC: its MAC, tap and MTU. */
export interface HostNic {
  name: string;
  hwaddr: string;
  tap: string;
  mtu?: number;
  network?: string;
}

function scopeOf(family: 'inet' | 'inet6', address: string): string {
  if (family === 'inet') return address.startsWith('127.') ? 'local' : 'global';
  const lower = address.toLowerCase();
  if (lower === '::1') return 'local';
  if (lower.startsWith('fe80:')) return 'link';
  return 'global';
}

const ZERO: Counters = {
  bytes_received: 0,
  bytes_sent: 0,
  packets_received: 0,
  packets_sent: 0,
  errors_received: 0,
  errors_sent: 0,
  packets_dropped_outbound: 0,
  packets_dropped_inbound: 0,
};

export function networkFromAgent(
  interfaces: readonly GuestInterface[],
  nics: readonly HostNic[],
): Record<string, StateNetwork> {
  const byMac = new Map(nics.map((n) => [n.hwaddr.toLowerCase(), n] as const));
  const network: Record<string, StateNetwork> = {};
  for (const iface of interfaces) {
    if (!iface.name) continue;
    const mac = (iface['hardware-address'] ?? '').toLowerCase();
    const loopback = iface.name === 'lo' || mac === '00:00:00:00:00:00';
    const nic = byMac.get(mac);
    const stats = iface.statistics ?? {};
    const addresses = (iface['ip-addresses'] ?? []).map((a) => {
      const family = a['ip-address-type'] === 'ipv6' ? ('inet6' as const) : ('inet' as const);
      return {
        family,
        address: a['ip-address'],
        netmask: String(a.prefix),
        scope: scopeOf(family, a['ip-address']),
      };
    });
    network[iface.name] = {
      addresses,
      counters: {
        bytes_received: stats['rx-bytes'] ?? 0,
        bytes_sent: stats['tx-bytes'] ?? 0,
        packets_received: stats['rx-packets'] ?? 0,
        packets_sent: stats['tx-packets'] ?? 0,
        errors_received: stats['rx-errs'] ?? 0,
        errors_sent: stats['tx-errs'] ?? 0,
        packets_dropped_outbound: stats['tx-dropped'] ?? 0,
        packets_dropped_inbound: stats['rx-dropped'] ?? 0,
      },
      hwaddr: loopback ? '' : mac,
      host_name: nic?.tap ?? '',
      // QGA does not report MTUs (QEMU 7.2); the NIC's own is what the host set.
      mtu: loopback ? 65536 : (nic?.mtu ?? 1500),
      // QGA lists only interfaces with an address family; one with an address is up.
      state: addresses.length > 0 ? 'up' : 'down',
      type: loopback ? 'loopback' : 'broadcast',
    };
  }
  return network;
}

/** Without an agent: each NIC under its configured name, with its DHCP lease's address. */
export function networkFromLeases(
  nics: readonly HostNic[],
  leases: readonly Lease[],
  counters: (tap: string) => Counters = () => ZERO,
  prefixOf: (nic: HostNic) => string = () => '24',
): Record<string, StateNetwork> {
  const network: Record<string, StateNetwork> = {};
  for (const nic of nics) {
    const mac = nic.hwaddr.toLowerCase();
    const lease = leases.find((l) => l.hwaddr === mac);
    network[nic.name] = {
      addresses: lease
        ? [{ family: 'inet', address: lease.address, netmask: prefixOf(nic), scope: 'global' }]
        : [],
      counters: counters(nic.tap),
      hwaddr: mac,
      host_name: nic.tap,
      mtu: nic.mtu ?? 1500,
      state: 'up',
      type: 'broadcast',
    };
  }
  return network;
}

export function osInfoFromAgent(info: GuestOsInfo, hostname: string): InstanceStateOSInfo {
  return {
    os: info.name ?? info.id ?? '',
    os_version: info['version-id'] ?? info.version ?? '',
    kernel_version: info['kernel-release'] ?? '',
    hostname,
    fqdn: hostname,
  };
}
