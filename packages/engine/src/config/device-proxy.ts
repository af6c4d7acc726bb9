// The proxy device: connections forwarded between the host and the
// instance (listen → connect), and what Berth's forwarder cannot do yet.
import { type ProxyAddress, tryParseProxyAddress } from './proxy-address';
import {
  type Check,
  isBool,
  isFalseOrEmpty,
  isOctalMode,
  isTrue,
  ipVersion,
  optional,
  quote,
} from './value-checks';
import {
  keys,
  unixId,
  type Device,
  type DeviceRuleFailure,
  type DeviceTypeDef,
} from './device-table';

const proxyAddress: Check = (value) => {
  const parsed = tryParseProxyAddress(value);
  return parsed.ok ? undefined : parsed.reason;
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

export const proxy: DeviceTypeDef = {
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
