// dnsmasq's command line for one managed bridge (LXD's driver_bridge.go
// `setup()`), with what docs/notes/lxc-host.md found on this host:
// `--no-ping` (a new MAC waits 3 s for its lease without it), `--port=0`
// (DHCP only; Berth serves no DNS yet), and everything in files of the
// network's own folder so that we find, and kill, only our own daemon.
import path from 'node:path';

export interface DnsmasqFiles {
  pid: string;
  leases: string;
  hosts: string;
  log: string;
}

export function dnsmasqFiles(networkDir: string): DnsmasqFiles {
  return {
    pid: path.join(networkDir, 'dnsmasq.pid'),
    leases: path.join(networkDir, 'dnsmasq.leases'),
    hosts: path.join(networkDir, 'dnsmasq.hosts'),
    log: path.join(networkDir, 'dnsmasq.log'),
  };
}

export interface DnsmasqSetup {
  bridge: string;
  /** The bridge's own address, e.g. 10.1.2.1. */
  gateway: string;
  /** `start,end` pairs, with the subnet's netmask. */
  ranges: { start: string; end: string }[];
  netmask: string;
  /** dnsmasq's lease time syntax: `1h`, `30m`, `infinite`. */
  leaseTime: string;
  files: DnsmasqFiles;
}

export function buildDnsmasqArgs(s: DnsmasqSetup): string[] {
  return [
    // Nothing from /etc/dnsmasq.conf or /etc/dnsmasq.d: only what is here.
    '--conf-file=/dev/null',
    '--strict-order',
    // Sockets bound to this bridge only, never the wildcard on other interfaces.
    '--bind-interfaces',
    `--interface=${s.bridge}`,
    '--except-interface=lo',
    `--listen-address=${s.gateway}`,
    '--port=0',
    ...s.ranges.map((r) => `--dhcp-range=${r.start},${r.end},${s.netmask},${s.leaseTime}`),
    '--dhcp-no-override',
    '--dhcp-authoritative',
    '--no-ping',
    `--dhcp-leasefile=${s.files.leases}`,
    `--dhcp-hostsfile=${s.files.hosts}`,
    `--pid-file=${s.files.pid}`,
    `--log-facility=${s.files.log}`,
    '--log-dhcp',
  ];
}

/** `a-b,c-d` (LXD's `ipv4.dhcp.ranges`) → pairs; null when malformed. */
export function parseDhcpRanges(text: string): { start: string; end: string }[] | null {
  const out: { start: string; end: string }[] = [];
  for (const part of text.split(',')) {
    const [start, end, extra] = part.trim().split('-');
    if (!start || !end || extra !== undefined) return null;
    out.push({ start: start.trim(), end: end.trim() });
  }
  return out.length > 0 ? out : null;
}

/**
 * Is the process with this command line our dnsmasq for this bridge? A pid
 * file can outlive its process and the pid be reused, so a pid is trusted
 * only when its cmdline says dnsmasq, our interface and our pid file.
 */
export function isOurDnsmasq(cmdline: readonly string[], bridge: string, pidFile: string): boolean {
  const exe = cmdline[0] ?? '';
  return (
    path.basename(exe) === 'dnsmasq' &&
    cmdline.includes(`--interface=${bridge}`) &&
    cmdline.includes(`--pid-file=${pidFile}`)
  );
}
