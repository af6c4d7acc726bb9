// IPv4 arithmetic for bridge subnets: parsing CIDRs, overlap checks, and
// picking a free 10.x.y.0/24 the way LXD's randomSubnetV4 does (random
// candidates checked against what the host already routes).
import { EngineError } from '../errors.ts';

export interface Cidr {
  /** The address as written (host part kept), as an unsigned 32-bit number. */
  address: number;
  prefix: number;
}

export function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let out = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    out = out * 256 + n;
  }
  return out;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `10.1.2.1/24` → address and prefix; a bare address is a /32. Null when malformed. */
export function parseCidr(text: string): Cidr | null {
  const [addr, prefixText, extra] = text.split('/');
  if (addr === undefined || extra !== undefined) return null;
  const address = parseIpv4(addr);
  if (address === null) return null;
  if (prefixText === undefined) return { address, prefix: 32 };
  if (!/^\d{1,2}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > 32) return null;
  return { address, prefix };
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function networkOf(c: Cidr): number {
  return (c.address & maskOf(c.prefix)) >>> 0;
}

export function broadcastOf(c: Cidr): number {
  return (networkOf(c) | (~maskOf(c.prefix) >>> 0)) >>> 0;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  return networkOf({ address: a.address, prefix }) === networkOf({ address: b.address, prefix });
}

/**
 * Checks a bridge's `ipv4.address`: a host address (not the network or
 * broadcast address) with a prefix from /8 to /30.
 */
export function checkGatewayCidr(field: string, text: string): Cidr {
  const c = parseCidr(text);
  if (!c || !text.includes('/'))
    throw EngineError.invalid(
      field,
      `"${text}" is not an IPv4 address with a prefix (e.g. 10.0.3.1/24)`,
    );
  if (c.prefix < 8 || c.prefix > 30)
    throw EngineError.invalid(field, `prefix /${c.prefix} must be between /8 and /30`);
  if (c.address === networkOf(c) || c.address === broadcastOf(c)) {
    throw EngineError.invalid(
      field,
      `"${text}" is the network or broadcast address of its subnet, not a host address`,
    );
  }
  return c;
}

/** IPv4 prefixes the host uses, from `ip -j -4 route show table all` and `ip -j -4 addr show`. */
export function usedSubnetsOf(routes: unknown, addresses: unknown): Cidr[] {
  const out: Cidr[] = [];
  if (Array.isArray(routes)) {
    for (const r of routes as { dst?: unknown }[]) {
      if (typeof r?.dst !== 'string' || r.dst === 'default') continue;
      const c = parseCidr(r.dst);
      if (c) out.push(c);
    }
  }
  if (Array.isArray(addresses)) {
    for (const link of addresses as {
      addr_info?: { family?: string; local?: unknown; prefixlen?: unknown }[];
    }[]) {
      for (const a of link?.addr_info ?? []) {
        if (a.family !== 'inet' || typeof a.local !== 'string' || typeof a.prefixlen !== 'number')
          continue;
        const c = parseCidr(`${a.local}/${a.prefixlen}`);
        if (c) out.push(c);
      }
    }
  }
  return out;
}

/**
 * A free `10.x.y.1/24`: random candidates (LXD tries 100 of them) that
 * overlap nothing in `used`. `random()` returns [0, 1), injectable for tests.
 */
export function pickFreeSubnet(
  used: readonly Cidr[],
  random: () => number = Math.random,
  attempts = 100,
): string | null {
  for (let i = 0; i < attempts; i++) {
    const x = Math.floor(random() * 256);
    const y = Math.floor(random() * 256);
    const candidate: Cidr = { address: ((10 << 24) | (x << 16) | (y << 8) | 1) >>> 0, prefix: 24 };
    if (!used.some((u) => overlaps(u, candidate))) return `${formatIpv4(candidate.address)}/24`;
  }
  return null;
}

/** The default DHCP range of a subnet: gateway's subnet from .2 to the last host address, skipping the gateway. */
export function defaultDhcpRange(gateway: Cidr): { start: string; end: string; netmask: string } {
  const net = networkOf(gateway);
  const last = broadcastOf(gateway) - 1;
  let start = net + 1;
  if (start === gateway.address) start += 1;
  let end = last;
  if (end === gateway.address) end -= 1;
  return {
    start: formatIpv4(start),
    end: formatIpv4(end),
    netmask: formatIpv4(maskOf(gateway.prefix)),
  };
}
