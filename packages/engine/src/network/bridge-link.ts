// The bridge interface itself, through `ip` (iproute2) and sysfs.
import { readFile, readdir } from 'node:fs/promises';
import { runCommand } from '../host/run-command.ts';
import type { NetworkState } from '../schemas/network.ts';

const IP_TIMEOUT_MS = 10_000;

export interface LinkInfo {
  ifname: string;
  flags: string[];
  mtu: number;
  operstate: string;
  address: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

/** `ip -j -d addr show dev NAME`; null when there is no such interface. */
export async function linkInfo(name: string): Promise<LinkInfo | null> {
  const out = await runCommand('ip', ['-j', '-d', 'addr', 'show', 'dev', name], {
    timeoutMs: IP_TIMEOUT_MS,
    allowFailure: true,
  });
  if (out.exitCode !== 0) {
    if (/does not exist/i.test(out.stderr)) return null;
    throw new Error(`ip addr show dev ${name}: ${out.stderr.trim()}`);
  }
  const parsed = JSON.parse(out.stdout) as LinkInfo[];
  return parsed[0] ?? null;
}

export function isBridge(link: LinkInfo): boolean {
  return link.linkinfo?.info_kind === 'bridge';
}

async function ip(args: string[]): Promise<void> {
  await runCommand('ip', args, { timeoutMs: IP_TIMEOUT_MS });
}

export async function addBridge(name: string): Promise<void> {
  await ip(['link', 'add', 'name', name, 'type', 'bridge']);
}

export async function deleteLink(name: string): Promise<void> {
  await ip(['link', 'del', 'dev', name]);
}

/**
 * Brings the bridge to the wanted MTU, MAC, and exactly one IPv4 address
 * (others are removed, so a changed `ipv4.address` does not leave the old
 * one behind), and up.
 */
export async function configureBridge(
  link: LinkInfo,
  want: { mtu: number; hwaddr?: string; ipv4?: string },
): Promise<void> {
  const name = link.ifname;
  if (link.mtu !== want.mtu) await ip(['link', 'set', 'dev', name, 'mtu', String(want.mtu)]);
  if (want.hwaddr && link.address.toLowerCase() !== want.hwaddr.toLowerCase()) {
    await ip(['link', 'set', 'dev', name, 'address', want.hwaddr]);
  }
  for (const a of link.addr_info ?? []) {
    if (a.family === 'inet' && `${a.local}/${a.prefixlen}` !== want.ipv4) {
      await ip(['addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', name]);
    }
  }
  const has = (link.addr_info ?? []).some(
    (a) => a.family === 'inet' && `${a.local}/${a.prefixlen}` === want.ipv4,
  );
  if (want.ipv4 && !has) await ip(['addr', 'add', want.ipv4, 'dev', name]);
  if (!link.flags.includes('UP')) await ip(['link', 'set', 'dev', name, 'up']);
}

async function readSys(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return '';
  }
}

async function readNumber(file: string): Promise<number> {
  const n = Number(await readSys(file));
  return Number.isFinite(n) ? n : 0;
}

/** LXD's NetworkState for a host interface; a missing interface is reported `down` with nothing. */
export async function linkState(name: string): Promise<NetworkState> {
  const link = await linkInfo(name);
  const sys = `/sys/class/net/${name}`;
  if (!link) {
    return {
      addresses: [],
      counters: { bytes_received: 0, bytes_sent: 0, packets_received: 0, packets_sent: 0 },
      hwaddr: '',
      mtu: 0,
      state: 'down',
      type: 'broadcast',
      bond: null,
      bridge: null,
      vlan: null,
      ovn: null,
    };
  }
  const addresses = (link.addr_info ?? [])
    .filter((a) => a.family === 'inet' || a.family === 'inet6')
    .map((a) => ({
      family: a.family as 'inet' | 'inet6',
      address: a.local,
      netmask: String(a.prefixlen),
      scope: a.scope === 'host' ? 'local' : a.scope,
    }));
  let bridge: NetworkState['bridge'] = null;
  if (isBridge(link)) {
    let ports: string[] = [];
    try {
      ports = (await readdir(`${sys}/brif`)).sort();
    } catch {
      ports = [];
    }
    bridge = {
      id: await readSys(`${sys}/bridge/bridge_id`),
      stp: (await readSys(`${sys}/bridge/stp_state`)) === '1',
      forward_delay: await readNumber(`${sys}/bridge/forward_delay`),
      vlan_default: await readNumber(`${sys}/bridge/default_pvid`),
      vlan_filtering: (await readSys(`${sys}/bridge/vlan_filtering`)) === '1',
      upper_devices: ports,
    };
  }
  return {
    addresses,
    counters: {
      bytes_received: await readNumber(`${sys}/statistics/rx_bytes`),
      bytes_sent: await readNumber(`${sys}/statistics/tx_bytes`),
      packets_received: await readNumber(`${sys}/statistics/rx_packets`),
      packets_sent: await readNumber(`${sys}/statistics/tx_packets`),
    },
    hwaddr: link.address,
    mtu: link.mtu,
    state: link.flags.includes('UP') ? 'up' : 'down',
    type: link.flags.includes('LOOPBACK')
      ? 'loopback'
      : link.flags.includes('POINTOPOINT')
        ? 'point-to-point'
        : 'broadcast',
    bond: null,
    bridge,
    vlan: null,
    ovn: null,
  };
}

/** IPv4 prefixes in use on the host, as JSON from iproute2 (for subnet picking). */
export async function hostRoutesAndAddresses(): Promise<{ routes: unknown; addresses: unknown }> {
  const [routes, addresses] = await Promise.all([
    runCommand('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], { timeoutMs: IP_TIMEOUT_MS }),
    runCommand('ip', ['-j', '-4', 'addr', 'show'], { timeoutMs: IP_TIMEOUT_MS }),
  ]);
  return {
    routes: JSON.parse(routes.stdout || '[]'),
    addresses: JSON.parse(addresses.stdout || '[]'),
  };
}
