// The config keys a managed bridge accepts (a subset of LXD's
// driver_bridge.go `Validate`), checked one by one with the key named.
import { EngineError } from '../errors.ts';
import { checkGatewayCidr } from './ipv4.ts';
import { parseDhcpRanges } from './dnsmasq-args.ts';
import { parseIpv4 } from './ipv4.ts';

const bool = (key: string, v: string) => {
  if (!['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(v.toLowerCase())) {
    throw EngineError.invalid(`config["${key}"]`, `"${v}" is not a boolean`);
  }
};

const validators: Record<string, (key: string, value: string) => void> = {
  'ipv4.address': (key, v) => {
    if (v !== 'none' && v !== 'auto') checkGatewayCidr(`config["${key}"]`, v);
  },
  'ipv4.nat': bool,
  'ipv4.dhcp': bool,
  'ipv4.dhcp.ranges': (key, v) => {
    const ranges = parseDhcpRanges(v);
    if (!ranges || ranges.some((r) => parseIpv4(r.start) === null || parseIpv4(r.end) === null)) {
      throw EngineError.invalid(
        `config["${key}"]`,
        `"${v}" is not a list of start-end IPv4 ranges`,
      );
    }
  },
  'ipv4.dhcp.expiry': (key, v) => {
    if (v !== 'infinite' && !/^\d+[smhdw]?$/.test(v))
      throw EngineError.invalid(`config["${key}"]`, `"${v}" is not a lease time (e.g. 1h)`);
  },
  'ipv6.address': (key, v) => {
    // IPv6 on managed bridges is not implemented yet; say so rather than ignore it.
    if (v !== 'none')
      throw new EngineError(
        'NOT_IMPLEMENTED',
        `config["${key}"]: only "none" is supported for now`,
        { field: `config["${key}"]` },
      );
  },
  'bridge.mtu': (key, v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1280 || n > 65535)
      throw EngineError.invalid(`config["${key}"]`, `"${v}" is not an MTU from 1280 to 65535`);
  },
  'bridge.hwaddr': (key, v) => {
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(v))
      throw EngineError.invalid(`config["${key}"]`, `"${v}" is not a MAC address`);
  },
};

export function validateNetworkConfig(config: Record<string, string>): void {
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith('user.')) continue;
    const check = validators[key];
    if (!check)
      throw EngineError.invalid(`config["${key}"]`, 'Invalid option for a bridge network');
    check(key, value);
  }
}

export function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['true', '1', 'yes', 'on'].includes(value.toLowerCase());
}
