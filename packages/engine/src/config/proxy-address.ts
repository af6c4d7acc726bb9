import { EngineError } from '../errors';
import type { Parsed } from './parse-cpuset';
import { ipVersion, quote } from './value-checks';

/** A proxy device's `listen` or `connect`: `tcp:127.0.0.1:80`, `udp:[::1]:53,60-61`, `unix:/run/x.sock`, `unix:@abstract`. */
export interface ProxyAddress {
  connType: 'tcp' | 'udp' | 'unix';
  /** A unix socket in the abstract namespace (`unix:@name`). */
  abstract: boolean;
  /** IP (without brackets; empty for a wildcard) or socket path. */
  address: string;
  /** Every port, ranges expanded; empty for unix sockets. */
  ports: number[];
}

function fail<T>(reason: string): Parsed<T> {
  return { ok: false, reason };
}

/** Go's `net.SplitHostPort`, which LXD uses: IPv6 hosts must be bracketed. */
function splitHostPort(text: string): Parsed<{ host: string; port: string }> {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return fail(`address ${text}: missing ']' in address`);
    if (text[close + 1] !== ':') return fail(`address ${text}: missing port in address`);
    return { ok: true, value: { host: text.slice(1, close), port: text.slice(close + 2) } };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return fail(`address ${text}: missing port in address`);
  const host = text.slice(0, colon);
  if (host.includes(':')) return fail(`address ${text}: too many colons in address`);
  return { ok: true, value: { host, port: text.slice(colon + 1) } };
}

function parsePort(text: string): Parsed<number> {
  if (!/^[0-9]+$/.test(text)) return fail(`Invalid port ${quote(text)}`);
  const port = Number(text);
  // LXD takes any int64 here; a TCP/UDP port is 1-65535.
  if (port < 1 || port > 65535) return fail(`Port ${text} is out of range (1-65535)`);
  return { ok: true, value: port };
}

/** Parses a proxy address as LXD's `ProxyParseAddr` does, with ports bounded to 1-65535. */
export function tryParseProxyAddress(value: string): Parsed<ProxyAddress> {
  const colon = value.indexOf(':');
  const protocol = colon < 0 ? value : value.slice(0, colon);
  const rest = colon < 0 ? '' : value.slice(colon + 1);
  if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'unix')
    return fail(`Unknown protocol type ${quote(protocol)}`);
  if (rest === '') return fail('Missing address');

  if (protocol === 'unix') {
    const abstract = rest.startsWith('@');
    // Stricter than LXD: a relative socket path would land in the daemon's working directory.
    if (!abstract && !rest.startsWith('/'))
      return fail('Unix socket path must be absolute (or @name for an abstract socket)');
    return { ok: true, value: { connType: 'unix', abstract, address: rest, ports: [] } };
  }

  const split = splitHostPort(rest);
  if (!split.ok) return split;
  const { host, port } = split.value;
  if (host !== '' && ipVersion(host) === undefined) return fail(`Not an IP address ${quote(host)}`);

  const ports: number[] = [];
  for (const item of port.split(',')) {
    const bounds = item.split('-');
    if (bounds.length > 2) return fail(`Invalid port range ${quote(item)}`);
    const [firstText = '', lastText] = bounds;
    const first = parsePort(firstText);
    if (!first.ok) return first;
    const last = lastText === undefined ? first : parsePort(lastText);
    if (!last.ok) return last;
    if (lastText !== undefined && last.value <= first.value)
      return fail('End port should be higher than start port');
    for (let p = first.value; p <= last.value; p++) ports.push(p);
  }
  return { ok: true, value: { connType: protocol, abstract: false, address: host, ports } };
}

export function parseProxyAddress(value: string, field = 'address'): ProxyAddress {
  const parsed = tryParseProxyAddress(value);
  if (!parsed.ok) throw EngineError.invalid(field, parsed.reason);
  return parsed.value;
}
