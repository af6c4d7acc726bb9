// The nic device: an interface on a managed network or on a host bridge
// (nictype=bridged), with its MAC, MTU, VLAN and limits.
import {
  type Check,
  all,
  isBool,
  isInterfaceName,
  isIPv4,
  isIPv6,
  isListOf,
  isMac,
  isNetwork,
  isOneOf,
  isTrue,
  isUint32,
  lacks,
  optional,
  quote,
} from './value-checks';
import { keys, type DeviceTypeDef } from './device-table';

/** LXD's `ParseBitSizeString` suffixes, for NIC limits (`10Mbit`). */
const BIT_SUFFIXES = [
  '',
  'bit',
  'kbit',
  'Mbit',
  'Gbit',
  'Tbit',
  'Pbit',
  'Ebit',
  'Kibit',
  'Mibit',
  'Gibit',
  'Tibit',
  'Pibit',
  'Eibit',
];
const isBitRate: Check = (value) => {
  const match = /^([0-9]+)(.*)$/.exec(value);
  if (match === null) return `Invalid value: ${value}`;
  return BIT_SUFFIXES.includes(match[2] ?? '')
    ? undefined
    : `Unsupported suffix: ${match[2] ?? ''}`;
};

/** LXD's `IsNetworkMTU`: IPv6 needs 1280, jumbo frames stop at 16384. */
const isMtu: Check = (value) => {
  if (!/^[0-9]+$/.test(value)) return `Invalid MTU ${quote(value)}`;
  const mtu = Number(value);
  return mtu < 1280 || mtu > 16384 ? `Out of MTU range (1280-16384) ${quote(value)}` : undefined;
};

const isVlan: Check = (value) => {
  if (!/^[0-9]+$/.test(value)) return `Invalid VLAN ID ${quote(value)}`;
  return Number(value) > 4094 ? `Out of VLAN ID range (0-4094) ${quote(value)}` : undefined;
};

/** A NIC's own MAC must be unicast (bit 0 of the first byte clear); LXD takes any MAC. */
const isUnicastMac: Check = all(isMac, (value) =>
  parseInt(value.slice(0, 2), 16) & 1
    ? 'MAC address must be unicast (the first byte must be even)'
    : undefined,
);

export const nic: DeviceTypeDef = {
  description:
    'A network interface on a host bridge: network=<managed bridge>, or nictype=bridged with parent=<bridge>.',
  appliesTo: 'both',
  keys: keys({
    nictype: {
      type: 'string',
      check: optional(isOneOf('bridged')),
      description: 'How the NIC attaches; Berth supports bridged.',
    },
    network: {
      type: 'string',
      check: optional(lacks('/', 'A network name')),
      description: 'Managed network to join (instead of nictype and parent).',
    },
    parent: {
      type: 'string',
      check: optional(isInterfaceName),
      description: 'Host bridge to attach to (with nictype=bridged).',
    },
    name: {
      type: 'string',
      check: optional(isInterfaceName),
      description: 'Interface name inside the instance.',
    },
    host_name: {
      type: 'string',
      check: optional(isInterfaceName),
      description: 'Interface name on the host (generated when unset).',
    },
    hwaddr: {
      type: 'mac',
      check: optional(isUnicastMac),
      description: 'MAC address (generated and kept in volatile.<name>.hwaddr when unset).',
    },
    mtu: {
      type: 'integer',
      check: optional(isMtu),
      description: 'MTU (1280-16384); from the network when unset.',
    },
    vlan: {
      type: 'integer',
      check: optional(isVlan),
      description: 'Untagged VLAN to join (0-4094).',
    },
    'ipv4.address': {
      type: 'address',
      check: optional(isIPv4),
      description: "Static IPv4 address handed out by the network's DHCP.",
    },
    'ipv6.address': {
      type: 'address',
      check: optional(isIPv6),
      description: "Static IPv6 address handed out by the network's DHCP.",
    },
    'ipv4.routes': {
      type: 'list',
      check: optional(isListOf(isNetwork(4))),
      description: 'IPv4 networks routed to this NIC (comma-separated CIDRs).',
    },
    'ipv6.routes': {
      type: 'list',
      check: optional(isListOf(isNetwork(6))),
      description: 'IPv6 networks routed to this NIC (comma-separated CIDRs).',
    },
    'limits.ingress': {
      type: 'string',
      check: optional(isBitRate),
      description: 'Incoming bandwidth limit (10Mbit).',
    },
    'limits.egress': {
      type: 'string',
      check: optional(isBitRate),
      description: 'Outgoing bandwidth limit (10Mbit).',
    },
    'limits.max': {
      type: 'string',
      check: optional(isBitRate),
      description: 'Bandwidth limit both ways.',
    },
    'security.mac_filtering': {
      type: 'boolean',
      check: optional(isBool),
      default: 'false',
      description: 'Drop traffic from other MAC addresses.',
    },
    'security.ipv4_filtering': {
      type: 'boolean',
      check: optional(isBool),
      default: 'false',
      description: 'Drop traffic from other IPv4 addresses.',
    },
    'security.ipv6_filtering': {
      type: 'boolean',
      check: optional(isBool),
      default: 'false',
      description: 'Drop traffic from other IPv6 addresses.',
    },
    'security.port_isolation': {
      type: 'boolean',
      check: optional(isBool),
      default: 'false',
      description: 'Keep this NIC from talking to other isolated ports on the bridge.',
    },
    'boot.priority': {
      type: 'integer',
      check: optional(isUint32),
      description: 'VM boot order: the highest boots first.',
    },
  }),
  rules: [
    ({ device }) => {
      if (device.network) {
        const banned = ['nictype', 'parent', 'mtu'].find((key) => device[key]);
        return banned
          ? {
              key: banned,
              reason: `Cannot use ${quote(banned)} property in conjunction with "network" property`,
            }
          : undefined;
      }
      if (!device.nictype)
        return {
          key: 'nictype',
          reason: 'Required value when "network" is not set (Berth supports nictype=bridged)',
        };
      if (!device.parent)
        return { key: 'parent', reason: 'Required value for a bridged NIC without "network"' };
      return undefined;
    },
    ({ device }) =>
      (isTrue(device['security.ipv4_filtering']) || isTrue(device['security.ipv6_filtering'])) &&
      device.vlan
        ? { key: 'vlan', reason: 'IP filtering cannot be used with VLAN filtering' }
        : undefined,
    ({ name, device, devices }) => {
      if (!device.name) return undefined;
      const clash = Object.entries(devices).some(
        ([other, config]) => other !== name && config.type === 'nic' && config.name === device.name,
      );
      return clash
        ? { key: 'name', reason: `Duplicate NIC name detected ${quote(device.name)}` }
        : undefined;
    },
  ],
};
