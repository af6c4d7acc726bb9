// A managed network's DHCP leases read straight from its dnsmasq lease file,
// for drivers that know the network only by name (the qemu driver shows a
// VM's address from them when no guest agent answers). Same file and parser
// as NetworkService.leases, without the database lookup.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { dnsmasqFiles } from './dnsmasq-args.ts';
import { parseLeases, type Lease } from './leases.ts';

/** The leases of network `name` under `dataDir`; none when it has no lease file (yet). */
export async function readNetworkLeases(dataDir: string, name: string): Promise<Lease[]> {
  if (name === '' || name.includes('/') || name === '.' || name === '..') return [];
  try {
    const file = dnsmasqFiles(path.join(path.resolve(dataDir), 'networks', name)).leases;
    return parseLeases(await readFile(file, 'utf8'));
  } catch {
    return [];
  }
}
