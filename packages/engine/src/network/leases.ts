// dnsmasq's lease file: one line per IPv4 lease,
// `<expiry epoch> <hwaddr> <ip> <hostname|*> <client-id|*>`; IPv6 leases
// follow a `duid ...` line and have an IAID in the hwaddr column.
export interface Lease {
  hwaddr: string;
  address: string;
  /** '' when the client sent none (`*`). */
  hostname: string;
  /** Null for infinite leases (expiry 0). */
  expiresAt: Date | null;
}

const mac = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function parseLeases(text: string): Lease[] {
  const out: Lease[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4) continue;
    const [expiry, hwaddr, address, hostname] = fields as [string, string, string, string];
    if (!/^\d+$/.test(expiry) || !mac.test(hwaddr) || !/^\d{1,3}(\.\d{1,3}){3}$/.test(address))
      continue;
    const seconds = Number(expiry);
    out.push({
      hwaddr: hwaddr.toLowerCase(),
      address,
      hostname: hostname === '*' ? '' : hostname,
      expiresAt: seconds === 0 ? null : new Date(seconds * 1000),
    });
  }
  return out;
}
