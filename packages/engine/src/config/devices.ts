import type { z } from 'zod';
import { EngineError } from '../errors';
import type { AppliesTo, InstanceType } from './config-keys';
import { tryParseByteSize } from './parse-memory';
import { type ProxyAddress, tryParseProxyAddress } from './proxy-address';
import {
  type Check,
  all,
  isAbsolutePath,
  isBool,
  isFalseOrEmpty,
  isInterfaceName,
  isIPv4,
  isIPv6,
  isListOf,
  isMac,
  isNetwork,
  isOctalMode,
  isOneOf,
  isSingleLine,
  isTrue,
  isUint32,
  ipVersion,
  lacks,
  optional,
  quote,
  schemaOf,
  schemaProblem,
} from './value-checks';

/**
 * Device validation after LXD's `lxd/device/*.go` `validateConfig` methods,
 * as one table per device type: its keys (each with a validator) and the
 * rules across keys. Checks that need host or database state (does the
 * network exist, is the source path there, is the pool ready) belong to the
 * services that own that state; everything here is pure.
 */

export const DEVICE_TYPES = ['disk', 'nic', 'unix-char', 'proxy', 'none'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

export type Device = Record<string, string>;
export type Devices = Record<string, Device>;

export type DeviceKeyType =
  'string' | 'integer' | 'boolean' | 'bytes' | 'path' | 'mac' | 'address' | 'list';

export interface DeviceKeyDef {
  type: DeviceKeyType;
  validate: z.ZodType<string>;
  /** Must be set and non-empty. */
  required: boolean;
  default?: string;
  description: string;
}

export interface DeviceContext {
  name: string;
  device: Device;
  /** All devices being validated together (for uniqueness rules). */
  devices: Devices;
  instanceType: InstanceType | undefined;
}

/** A rule across keys failed; `key` names the key to blame, when there is one. */
export interface DeviceRuleFailure {
  key?: string;
  reason: string;
  /** Valid for LXD, but Berth cannot do it yet (default: INVALID_ARGUMENT). */
  notImplemented?: boolean;
}

export interface DeviceTypeDef {
  description: string;
  appliesTo: AppliesTo;
  keys: Readonly<Record<string, DeviceKeyDef>>;
  /** Rules across keys (and devices), run once every key is valid; first failure wins. */
  rules: readonly ((context: DeviceContext) => DeviceRuleFailure | undefined)[];
}

interface KeyInit {
  type: DeviceKeyType;
  check: Check;
  required?: boolean;
  default?: string;
  description: string;
}

function keys(init: Record<string, KeyInit>): Record<string, DeviceKeyDef> {
  return Object.fromEntries(
    Object.entries(init).map(([key, { check, required = false, ...rest }]) => [
      key,
      { ...rest, required, validate: schemaOf(check) },
    ]),
  );
}

/** Host paths and mount options are written into the container's config, one line each. */
const oneLine: Check = isSingleLine('Value');

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

/** Disk I/O limits: `100iops` or a byte rate (`10MB`), as LXD's disk limit parser takes them. */
const isDiskLimit: Check = (value) => {
  if (/^[0-9]+iops$/.test(value)) return undefined;
  const parsed = tryParseByteSize(value);
  return parsed.ok
    ? undefined
    : `${parsed.reason} (use a byte rate like 10MB or a count like 100iops)`;
};

const isSize: Check = (value) => {
  const parsed = tryParseByteSize(value);
  return parsed.ok ? undefined : parsed.reason;
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

const unixId: Check = (value) =>
  isUint32(value) === undefined ? undefined : 'Invalid value for a UNIX ID';
const unixDeviceNumber: Check = (value) =>
  isUint32(value) === undefined ? undefined : 'Invalid value for a UNIX device number';

const proxyAddress: Check = (value) => {
  const parsed = tryParseProxyAddress(value);
  return parsed.ok ? undefined : parsed.reason;
};

const PROPAGATION = [
  'private',
  'shared',
  'slave',
  'unbindable',
  'rshared',
  'rslave',
  'runbindable',
  'rprivate',
];

const CLOUD_INIT_SOURCE = 'cloud-init:config';

function isRootDisk(device: Device): boolean {
  // LXD's IsRootDiskDevice: the pool is checked by the disk rules, not here.
  return device.type === 'disk' && device.path === '/' && (device.source ?? '') === '';
}

const disk: DeviceTypeDef = {
  description:
    'A disk: the root disk (path=/ and a pool), a host path bind-mounted in, or a custom volume from a pool.',
  appliesTo: 'both',
  keys: keys({
    source: {
      type: 'string',
      check: oneLine,
      description:
        'Host path to bind-mount, custom volume name (with pool), or cloud-init:config (VMs).',
    },
    path: {
      type: 'path',
      check: optional(isAbsolutePath),
      description: 'Where the disk appears in the instance ("/" for the root disk).',
    },
    pool: {
      type: 'string',
      check: optional(lacks('/', 'A pool name')),
      description: 'Storage pool holding the root disk or the custom volume.',
    },
    readonly: {
      type: 'boolean',
      check: optional(isBool),
      default: 'false',
      description: 'Mount read-only.',
    },
    required: {
      type: 'boolean',
      check: optional(isBool),
      default: 'true',
      description: 'Fail to start when the source is missing.',
    },
    optional: {
      type: 'boolean',
      check: optional(isBool),
      description: 'Deprecated opposite of required.',
    },
    recursive: {
      type: 'boolean',
      check: optional(isBool),
      default: 'false',
      description: 'Bind-mount the source with its sub-mounts.',
    },
    shift: {
      type: 'boolean',
      check: optional(isBool),
      default: 'false',
      description: 'Shift host IDs to the container ID map for a host path.',
    },
    size: { type: 'bytes', check: optional(isSize), description: 'Quota of the root disk.' },
    'size.state': {
      type: 'bytes',
      check: optional(isSize),
      description: 'Extra root disk quota for VM state (stateful snapshots).',
    },
    'limits.read': {
      type: 'string',
      check: optional(isDiskLimit),
      description: 'Read limit: bytes per second (10MB) or operations per second (100iops).',
    },
    'limits.write': {
      type: 'string',
      check: optional(isDiskLimit),
      description: 'Write limit: bytes per second or iops.',
    },
    'limits.max': {
      type: 'string',
      check: optional(isDiskLimit),
      description: 'Read and write limit together.',
    },
    propagation: {
      type: 'string',
      check: optional(isOneOf(...PROPAGATION)),
      description: 'Mount propagation of a bind mount (private by default).',
    },
    'raw.mount.options': { type: 'string', check: oneLine, description: 'Extra mount options.' },
    'boot.priority': {
      type: 'integer',
      check: optional(isUint32),
      description: 'VM boot order: the highest boots first.',
    },
  }),
  rules: [
    ({ device }) =>
      device.required && device.optional
        ? {
            key: 'optional',
            reason:
              'Cannot use both "required" and deprecated "optional" properties at the same time',
          }
        : undefined,
    ({ device }) => {
      const source = device.source ?? '';
      const path = device.path ?? '';
      if (source === '' && path !== '/')
        return {
          key: 'source',
          reason: 'Disk entry is missing the required "source" or "path" property',
        };
      if (path === '/' && source !== '')
        return { key: 'source', reason: 'Root disk entry may not have a "source" property set' };
      if (path === '/' && !device.pool)
        return { key: 'pool', reason: 'Root disk entry must have a "pool" property set' };
      return undefined;
    },
    ({ device }) => {
      if (isRootDisk(device)) return undefined;
      if (device.size) return { key: 'size', reason: 'Only the root disk may have a size quota' };
      if (device['size.state'])
        return { key: 'size.state', reason: 'Only the root disk may have a migration size quota' };
      return undefined;
    },
    ({ device }) => {
      if (!device.recursive) return undefined;
      if (device.path === '/' || device.pool) {
        return {
          key: 'recursive',
          reason: 'The recursive option is only supported for additional bind-mounted paths',
        };
      }
      if (isTrue(device.recursive) && isTrue(device.readonly)) {
        return {
          key: 'recursive',
          reason: "Recursive read-only bind-mounts aren't currently supported by the kernel",
        };
      }
      return undefined;
    },
    ({ device, instanceType }) => {
      const source = device.source ?? '';
      if (source.startsWith('ceph:') || source.startsWith('cephfs:')) {
        return { key: 'source', reason: 'Ceph disk sources are not supported by Berth' };
      }
      if (source === CLOUD_INIT_SOURCE) {
        if (instanceType === 'container')
          return {
            key: 'source',
            reason: 'The cloud-init:config disk is for virtual machines only',
          };
        if (device.path)
          return { key: 'path', reason: 'The cloud-init:config disk cannot have a "path"' };
        return undefined;
      }
      if (device.pool) {
        if (device.shift) {
          return {
            key: 'shift',
            reason:
              'The "shift" property cannot be used with custom storage volumes (set "security.shifted=true" on the volume instead)',
          };
        }
        if (source.startsWith('/'))
          return { key: 'source', reason: 'Storage volumes cannot be specified as absolute paths' };
        return undefined;
      }
      if (source !== '' && !source.startsWith('/'))
        return { key: 'source', reason: 'Source path must be absolute for local sources' };
      return undefined;
    },
    ({ device, instanceType }) =>
      // A container mounts a file system somewhere; only a VM can take a disk as a block device.
      instanceType === 'container' && !device.path && (device.source ?? '') !== ''
        ? { key: 'path', reason: 'Disk devices on containers need a "path" to mount at' }
        : undefined,
    ({ name, device, devices }) => {
      if (!device.path) return undefined;
      const clash = Object.entries(devices).find(
        ([other, config]) =>
          other !== name && config.type === 'disk' && config.path === device.path,
      );
      return clash
        ? {
            key: 'path',
            reason: `More than one disk device uses the same path ${quote(device.path)}`,
          }
        : undefined;
    },
  ],
};

const nic: DeviceTypeDef = {
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

const unixChar: DeviceTypeDef = {
  description: 'A character device node (e.g. /dev/ttyUSB0) made inside a container.',
  appliesTo: 'container',
  keys: keys({
    source: {
      type: 'path',
      check: optional(isAbsolutePath),
      description: 'Host device to take major/minor from.',
    },
    path: {
      type: 'path',
      check: optional(isAbsolutePath),
      description: 'Where the node appears in the container (source when unset).',
    },
    major: {
      type: 'integer',
      check: optional(unixDeviceNumber),
      description: 'Device major number (from source when unset).',
    },
    minor: {
      type: 'integer',
      check: optional(unixDeviceNumber),
      description: 'Device minor number (from source when unset).',
    },
    uid: {
      type: 'integer',
      check: optional(unixId),
      default: '0',
      description: 'Owner inside the container.',
    },
    gid: {
      type: 'integer',
      check: optional(unixId),
      default: '0',
      description: 'Group inside the container.',
    },
    mode: {
      type: 'string',
      check: optional(isOctalMode),
      default: '0660',
      description: 'Octal permissions of the node.',
    },
    required: {
      type: 'boolean',
      check: optional(isBool),
      default: 'true',
      description: 'Fail to start when the source is missing.',
    },
  }),
  rules: [
    ({ device }) =>
      !device.source && !device.path
        ? {
            key: 'source',
            reason: 'Unix device entry is missing the required "source" or "path" property',
          }
        : undefined,
  ],
};

function proxyAddresses(
  device: Device,
): { listen: ProxyAddress; connect: ProxyAddress } | undefined {
  const listen = tryParseProxyAddress(device.listen ?? '');
  const connect = tryParseProxyAddress(device.connect ?? '');
  return listen.ok && connect.ok ? { listen: listen.value, connect: connect.value } : undefined;
}

const WILDCARDS = ['0.0.0.0', '::', '0:0:0:0:0:0:0:0'];

/**
 * What LXD's proxy can do on a container but Berth's forwarder (socat, in
 * drivers/lxc/proxy-plan.ts) cannot yet: refused up front, before anything
 * is stored, rather than failing at start.
 */
export function containerProxyGap(device: Device): DeviceRuleFailure | undefined {
  const gap = (key: string, reason: string): DeviceRuleFailure => ({
    key,
    reason,
    notImplemented: true,
  });
  if (isTrue(device.nat))
    return gap(
      'nat',
      'NAT proxies (nftables DNAT) are not supported on containers yet; leave nat unset to forward with a proxy process',
    );
  if (device.bind && device.bind !== 'host')
    return gap('bind', `bind=${device.bind} is not supported yet; only bind=host`);
  if (isTrue(device.proxy_protocol))
    return gap('proxy_protocol', 'Sending the PROXY protocol header is not supported yet');
  for (const key of ['security.uid', 'security.gid']) {
    if (device[key] && device[key] !== '0')
      return gap(key, 'Forwarders run as root; other users are not supported yet');
  }
  for (const key of ['listen', 'connect']) {
    if ((device[key] ?? '').startsWith('udp:'))
      return gap(key, 'udp proxies are not supported yet (tcp and unix are)');
  }
  return undefined;
}

const proxy: DeviceTypeDef = {
  description: 'Forwards connections between the host and the instance (listen → connect).',
  appliesTo: 'both',
  keys: keys({
    listen: {
      type: 'address',
      check: proxyAddress,
      required: true,
      description:
        'Address to listen on: tcp:IP:PORT[,PORT|-PORT], udp:..., unix:/path or unix:@name.',
    },
    connect: {
      type: 'address',
      check: proxyAddress,
      required: true,
      description: 'Address to connect to, same forms as listen.',
    },
    bind: {
      type: 'string',
      check: optional((value) =>
        ['host', 'instance', 'guest', 'container'].includes(value)
          ? undefined
          : 'Invalid binding side given. Must be "host" or "instance"',
      ),
      default: 'host',
      description: 'Which side listens: host or instance.',
    },
    nat: {
      type: 'boolean',
      check: optional(isBool),
      default: 'false',
      description: 'Forward with NAT rules instead of a proxy process (required for VMs).',
    },
    proxy_protocol: {
      type: 'boolean',
      check: optional(isBool),
      default: 'false',
      description: 'Send the HAProxy PROXY header to the target.',
    },
    uid: {
      type: 'integer',
      check: optional(unixId),
      description: 'Owner of a listening unix socket.',
    },
    gid: {
      type: 'integer',
      check: optional(unixId),
      description: 'Group of a listening unix socket.',
    },
    mode: {
      type: 'string',
      check: optional(isOctalMode),
      description: 'Octal permissions of a listening unix socket.',
    },
    'security.uid': {
      type: 'integer',
      check: optional(unixId),
      default: '0',
      description: 'User the proxy process runs as.',
    },
    'security.gid': {
      type: 'integer',
      check: optional(unixId),
      default: '0',
      description: 'Group the proxy process runs as.',
    },
  }),
  rules: [
    ({ device, instanceType }) =>
      instanceType === 'virtual-machine' && isFalseOrEmpty(device.nat)
        ? { key: 'nat', reason: 'Only NAT mode is supported for proxies on VM instances' }
        : undefined,
    ({ device }) => {
      const parsed = proxyAddresses(device);
      if (parsed === undefined) return undefined;
      const { listen, connect } = parsed;
      if (
        (listen.connType !== 'unix' && connect.ports.length > listen.ports.length) ||
        (listen.connType === 'unix' && connect.ports.length > 1)
      ) {
        return {
          key: 'connect',
          reason: 'Mismatch between listen port(s) and connect port(s) count',
        };
      }
      return undefined;
    },
    ({ device }) =>
      isTrue(device.proxy_protocol) &&
      (!(device.connect ?? '').startsWith('tcp') || isTrue(device.nat))
        ? {
            key: 'proxy_protocol',
            reason: 'The PROXY header can only be sent to tcp servers in non-nat mode',
          }
        : undefined,
    ({ device }) => {
      const listen = device.listen ?? '';
      const unixFile = listen.startsWith('unix:') && !listen.startsWith('unix:@');
      const key = ['uid', 'gid', 'mode'].find((name) => device[name]);
      return !unixFile && key !== undefined
        ? {
            key,
            reason:
              'Only proxy devices for non-abstract unix sockets can carry uid, gid, or mode properties',
          }
        : undefined;
    },
    ({ device }) => {
      if (!isTrue(device.nat)) return undefined;
      if (device.bind && device.bind !== 'host')
        return { key: 'bind', reason: 'Only host-bound proxies can use NAT' };
      const parsed = proxyAddresses(device);
      if (parsed === undefined) return undefined;
      const { listen, connect } = parsed;
      if (
        listen.connType === 'unix' ||
        connect.connType === 'unix' ||
        listen.connType !== connect.connType
      ) {
        return {
          key: 'connect',
          reason: `Proxying ${listen.connType} <-> ${connect.connType} is not supported when using NAT`,
        };
      }
      if (listen.address === '' || WILDCARDS.includes(listen.address)) {
        return {
          key: 'listen',
          reason: `Cannot listen on wildcard address ${quote(listen.address)} when in nat mode`,
        };
      }
      if (ipVersion(listen.address) !== ipVersion(connect.address)) {
        return {
          key: 'connect',
          reason: 'Cannot mix IP versions between listen and connect in nat mode',
        };
      }
      return undefined;
    },
    // Last: LXD's own rules first, then what Berth cannot do yet.
    ({ device, instanceType }) =>
      instanceType === 'container' ? containerProxyGap(device) : undefined,
  ],
};

const none: DeviceTypeDef = {
  description: 'Hides a device of the same name inherited from a profile.',
  appliesTo: 'both',
  keys: {},
  rules: [],
};

/** The device table: type → keys and rules. */
export const deviceTypes: Readonly<Record<DeviceType, DeviceTypeDef>> = Object.freeze({
  disk,
  nic,
  'unix-char': unixChar,
  proxy,
  none,
});

function isDeviceType(type: string): type is DeviceType {
  return (DEVICE_TYPES as readonly string[]).includes(type);
}

/**
 * LXD's `IsDeviceName`, stricter on one point: no `/`. A device name becomes
 * part of host paths (sockets, mount points) and volatile keys; LXD escapes it
 * for paths, we simply refuse it.
 */
export function deviceNameProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > 63) return 'Name must be 1-63 characters long';
  if (name.startsWith('.')) return 'Name must not start with "." character';
  if (name.includes('/')) return 'Name cannot contain "/" (it is used in host paths)';
  if (!/^[-.:_a-zA-Z0-9]+$/.test(name)) {
    return 'Name can only contain alphanumeric, hyphen, colon, underscore and full stop characters';
  }
  return undefined;
}

export interface ValidDevicesOptions {
  /** The devices belong to a profile (no instance type, no root disk needed). */
  profile: boolean;
  /**
   * The instance's expanded devices (profiles then local): a root disk is
   * required, and devices of a type the instance cannot use are skipped (a
   * profile may serve containers and VMs), as LXD's validDevices does.
   */
  expanded: boolean;
  instanceType?: InstanceType;
}

export interface DeviceProblem {
  device: string;
  key?: string;
  notImplemented?: boolean;
  /** `devices["eth0"]["mtu"]`, the field an API error names. */
  field: string;
  reason: string;
}

export function deviceField(device: string, key?: string): string {
  return key === undefined
    ? `devices[${quote(device)}]`
    : `devices[${quote(device)}][${quote(key)}]`;
}

const TYPE_LABEL: Record<InstanceType, string> = {
  container: 'containers',
  'virtual-machine': 'virtual machines',
};

function problemsOfDevice(
  name: string,
  device: Device,
  devices: Devices,
  options: ValidDevicesOptions,
): DeviceProblem[] | 'skip' {
  const problem = (reason: string, key?: string): DeviceProblem =>
    key === undefined
      ? { device: name, field: deviceField(name), reason }
      : { device: name, key, field: deviceField(name, key), reason };

  const nameProblem = deviceNameProblem(name);
  if (nameProblem !== undefined) return [problem(`Invalid device name: ${nameProblem}`)];

  const type = device.type ?? '';
  if (type === '') return [problem('Missing device type', 'type')];
  if (!isDeviceType(type)) {
    return [
      problem(
        `Unsupported device type ${quote(type)} (Berth supports ${DEVICE_TYPES.join(', ')})`,
        'type',
      ),
    ];
  }
  const def = deviceTypes[type];
  const instanceType = options.profile ? undefined : options.instanceType;
  if (instanceType !== undefined && def.appliesTo !== 'both' && def.appliesTo !== instanceType) {
    if (options.expanded) return 'skip';
    return [problem(`${type} devices are only supported on ${TYPE_LABEL[def.appliesTo]}`, 'type')];
  }

  const problems: DeviceProblem[] = [];
  for (const key of Object.keys(device).sort()) {
    if (key === 'type' || key.startsWith('user.')) continue;
    const keyDef = def.keys[key];
    if (keyDef === undefined) {
      problems.push(problem(`Invalid device option ${quote(key)} for ${type} devices`, key));
      continue;
    }
    // An empty required key is reported once, below, as missing.
    if (keyDef.required && !device[key]) continue;
    const reason = schemaProblem(keyDef.validate, device[key] ?? '');
    if (reason !== undefined) problems.push(problem(reason, key));
  }
  for (const [key, keyDef] of Object.entries(def.keys)) {
    if (keyDef.required && !device[key]) problems.push(problem('Required value', key));
  }
  problems.sort((a, b) => (a.key ?? '').localeCompare(b.key ?? ''));
  if (problems.length > 0) return problems;

  const context: DeviceContext = { name, device, devices, instanceType };
  for (const rule of def.rules) {
    const failure = rule(context);
    if (failure !== undefined) {
      const found = problem(failure.reason, failure.key);
      return [failure.notImplemented ? { ...found, notImplemented: true } : found];
    }
  }
  return [];
}

/** Every problem in a set of devices, by device name then key. */
export function deviceProblems(devices: Devices, options: ValidDevicesOptions): DeviceProblem[] {
  const problems: DeviceProblem[] = [];
  for (const name of Object.keys(devices).sort()) {
    const result = problemsOfDevice(name, devices[name] ?? {}, devices, options);
    if (result !== 'skip') problems.push(...result);
  }
  if (options.expanded && !options.profile) {
    const roots = Object.keys(devices).filter((name) => isRootDisk(devices[name] ?? {}));
    if (roots.length === 0) {
      problems.push({
        device: '',
        field: 'devices',
        reason: 'No root device could be found (a disk device with path=/ and a pool)',
      });
    } else if (roots.length > 1) {
      problems.push({
        device: '',
        field: 'devices',
        reason: `More than one root device found: ${roots.sort().join(', ')}`,
      });
    }
  }
  return problems;
}

/**
 * LXD's `validDevices`: throws an INVALID_ARGUMENT `EngineError` for the
 * first problem, naming the device and key, e.g.
 * `devices["eth0"]["mtu"]: Out of MTU range (1280-16384) "100"`.
 */
export function validDevices(devices: Devices, options: ValidDevicesOptions): void {
  const [first] = deviceProblems(devices, options);
  if (first === undefined) return;
  if (first.notImplemented) {
    throw new EngineError('NOT_IMPLEMENTED', `${first.field}: ${first.reason}`, {
      field: first.field,
    });
  }
  throw EngineError.invalid(first.field, first.reason);
}

/** The root disk's name and config, if there is exactly one. */
export function rootDiskOf(devices: Devices): [string, Device] | undefined {
  const roots = Object.entries(devices).filter(([, device]) => isRootDisk(device));
  return roots.length === 1 ? roots[0] : undefined;
}

/** LXD's defaults for the `restricted.devices.*` project keys. */
export const DEVICE_RESTRICTION_DEFAULTS: Readonly<Record<string, string>> = {
  'restricted.devices.unix-char': 'block',
  'restricted.devices.proxy': 'block',
  'restricted.devices.nic': 'managed',
  'restricted.devices.disk': 'managed',
  'restricted.devices.disk.paths': '',
};

/**
 * The components of an absolute path after `.`, `..` and repeated slashes
 * are resolved the way `path.posix.normalize` does (`..` at `/` stays at `/`);
 * undefined for a relative path. Kept free of `node:path`: this module is
 * shared with the browser.
 */
export function absolutePathComponents(value: string): string[] | undefined {
  if (!value.startsWith('/')) return undefined;
  const parts: string[] = [];
  for (const part of value.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts;
}

/** `/a/b/../c` → `/a/c`; undefined for a relative path. */
export function normalizeAbsolutePath(value: string): string | undefined {
  const parts = absolutePathComponents(value);
  return parts === undefined ? undefined : `/${parts.join('/')}`;
}

/**
 * Whether `candidate` is `parent` or inside it, comparing whole path
 * components after normalisation: `/srv/sh` does not hold `/srv/share`, and
 * `/tmp/allowed/../../etc` is `/etc`. Pure: symlinks are the caller's to
 * resolve first (the engine passes host-resolved paths, see
 * project-restrictions.ts), and a relative path is never within anything.
 */
export function isPathWithin(candidate: string, parent: string): boolean {
  const inner = absolutePathComponents(candidate);
  const outer = absolutePathComponents(parent);
  if (inner === undefined || outer === undefined || outer.length > inner.length) return false;
  return outer.every((part, i) => inner[i] === part);
}

/** A disk that bind-mounts a host path (not the root disk, a pool volume or cloud-init). */
export function isHostPathDisk(device: Device): boolean {
  if (device.type !== 'disk' || device.pool) return false;
  if (device.path === '/' && !device.source) return false;
  if (!device.path && device.source === CLOUD_INIT_SOURCE) return false;
  return (device.source ?? '') !== '';
}

/** `restricted.devices.disk.paths` as a list (empty: any path, as in LXD). */
export function allowedDiskPaths(project: Record<string, string>): string[] {
  return (project['restricted.devices.disk.paths'] ?? '')
    .split(',')
    .map((path) => path.trim())
    .filter((path) => path !== '');
}

/**
 * The devices a restricted project refuses, sorted, as LXD's
 * `checkRestrictions`: unix-char and proxy unless allowed, NICs not on a
 * managed network, disks other than the root disk not backed by a pool, host
 * paths outside `restricted.devices.disk.paths` (by path component, after
 * `..` is resolved) and relative host paths. `project` unset means a
 * restricted project with defaults; a project without `restricted=true`
 * refuses nothing. (`restricted.networks.access` needs the network list, so
 * the network service checks it; symlinks on the host are resolved by the
 * engine before it asks, see `checkEffectiveRestrictions`.)
 */
export function restrictedDevicesIn(
  devices: Devices,
  options: {
    project?: Record<string, string>;
    /** `restricted.devices.disk.paths` as the host resolved them (default: the project's, as written). */
    diskPaths?: readonly string[];
  } = {},
): string[] {
  const project = options.project;
  if (project !== undefined && !isTrue(project.restricted)) return [];
  const restrictions = { ...DEVICE_RESTRICTION_DEFAULTS, ...project };
  const setting = (key: string) => restrictions[key] ?? '';

  const refused = (device: Device): boolean => {
    switch (device.type) {
      case 'unix-char':
        return setting('restricted.devices.unix-char') !== 'allow';
      case 'proxy':
        return setting('restricted.devices.proxy') !== 'allow';
      case 'nic': {
        const rule = setting('restricted.devices.nic');
        return rule === 'block' || (rule === 'managed' && !device.network);
      }
      case 'disk': {
        if (device.path === '/' && device.pool) return false;
        if (!device.path && device.source === CLOUD_INIT_SOURCE) return false;
        const rule = setting('restricted.devices.disk');
        if (rule === 'block') return true;
        if (rule === 'managed') return !device.pool;
        if (device.pool) return false;
        const source = device.source ?? '';
        // A relative host path means whatever the mounting process's directory is.
        if (!source.startsWith('/')) return true;
        const allowed = options.diskPaths ?? allowedDiskPaths(restrictions);
        return allowed.length > 0 && !allowed.some((path) => isPathWithin(source, path));
      }
      default:
        return false;
    }
  };
  return Object.keys(devices)
    .filter((name) => refused(devices[name] ?? {}))
    .sort();
}

export interface DeviceKeyHint {
  key: string;
  type: DeviceKeyType;
  required: boolean;
  default: string | undefined;
  description: string;
}

/** What a UI needs to offer a device type's keys. */
export function deviceKeyHints(type: DeviceType): DeviceKeyHint[] {
  return Object.entries(deviceTypes[type].keys).map(([key, def]) => ({
    key,
    type: def.type,
    required: def.required,
    default: def.default,
    description: def.description,
  }));
}
