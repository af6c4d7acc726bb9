// Managed bridge networks (LXD's lxd/network/driver_bridge.go): a Linux
// bridge the engine creates, addresses and removes, with DHCP from a dnsmasq
// bound to that bridge only, and optional NAT in Berth's own nftables table.
//
// Restart-safe: the bridge and dnsmasq outlive the engine process (so do the
// containers using them); `ensureUp` finds them again (the interface by name,
// dnsmasq by its pid file, checked against /proc/<pid>/cmdline) and reuses
// them when they match the config, repairing only what differs.
//
// Berth deviates from LXD on one default: `ipv4.nat` is false unless asked
// for. NAT needs host-wide IPv4 forwarding and lets every guest reach the
// outside world; Berth's test machines and offline hosts want neither, and a
// guest that finds no route fails fast instead of retrying out there.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { NetworkRecord, Stores } from '@berth/db';
import { apiUrl } from '../api-url.ts';
import { EngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import { runCommand } from '../host/run-command.ts';
import { parseInput } from '../parse-input.ts';
import { Reverter } from '../reverter.ts';
import {
  NetworkPatch,
  NetworkPut,
  NetworksPost,
  type Network,
  type NetworkLease,
  type NetworkState,
} from '../schemas/network.ts';
import { KeyedLock } from '../keyed-lock.ts';
import {
  addBridge,
  configureBridge,
  deleteLink,
  hostRoutesAndAddresses,
  isBridge,
  linkInfo,
  linkState,
} from './bridge-link.ts';
import { buildDnsmasqArgs, dnsmasqFiles, parseDhcpRanges } from './dnsmasq-args.ts';
import { findDnsmasq, startDnsmasq, stopDnsmasq } from './dnsmasq-process.ts';
import {
  checkGatewayCidr,
  defaultDhcpRange,
  formatIpv4,
  networkOf,
  overlaps,
  parseCidr,
  pickFreeSubnet,
  usedSubnetsOf,
  type Cidr,
} from './ipv4.ts';
import { parseLeases } from './leases.ts';
import { NAT_TABLE, natAddScript, natChainOf, natRemoveScript } from './nat-rules.ts';
import { isTrue, validateNetworkConfig } from './network-config.ts';

export const DEFAULT_NETWORK = 'berthbr0';
/** Bridges are host-global, so they all live in the default project (LXD with `features.networks=false`). */
const HOME_PROJECT = 'default';
const DEFAULT_MTU = 1500;
const NFT_TIMEOUT_MS = 10_000;

export interface NetworkServiceOptions {
  /** dnsmasq's files go to `<dataDir>/networks/<name>/`. */
  dataDir: string;
  db: Pick<Stores, 'networks'>;
  events?: EventBus;
  /** For subnet picking; [0, 1). */
  random?: () => number;
  /** Which instances use a network (for `used_by`, and to refuse a delete); default: none. */
  usedBy?: NetworkUsage;
}

/** Which instances (API URLs) use a network. */
export type NetworkUsage = (network: string) => Promise<string[]>;

const statusOf: Record<string, string> = {
  CREATED: 'Created',
  PENDING: 'Pending',
  ERRORED: 'Errored',
};

export class NetworkService {
  readonly #dataDir: string;
  readonly #db: Pick<Stores, 'networks'>;
  readonly #events: EventBus | undefined;
  readonly #random: () => number;
  readonly #lock = new KeyedLock();
  readonly #usedBy: NetworkUsage;

  constructor(options: NetworkServiceOptions) {
    this.#dataDir = path.resolve(options.dataDir);
    this.#db = options.db;
    this.#events = options.events;
    this.#random = options.random ?? Math.random;
    this.#usedBy = options.usedBy ?? (async () => []);
  }

  /** The default bridge record (`berthbr0`), created with a free 10.x.y.1/24 on first start. Does not bring it up. */
  async ensureDefault(name = DEFAULT_NETWORK): Promise<Network> {
    const existing = await this.#db.networks.get(HOME_PROJECT, name);
    if (existing) return this.#toApi(existing);
    // A bridge of that name already on the host is a previous Berth's (same
    // data dir rebuilt, or a database reset): adopt it rather than fail.
    return this.#create({ name, description: 'Berth bridge', config: {} }, true);
  }

  async list(): Promise<Network[]> {
    const rows = await this.#db.networks.list(HOME_PROJECT);
    return Promise.all(rows.map((r) => this.#toApi(r)));
  }

  async get(name: string): Promise<Network> {
    return this.#toApi(await this.#record(name));
  }

  /** Records the network and brings it up at once, as LXD does; one that cannot come up is not kept. */
  async create(input: NetworksPost): Promise<Network> {
    const created = await this.#create(input, false);
    try {
      await this.ensureUp(created.name);
    } catch (error) {
      await this.delete(created.name).catch(() => {});
      throw error;
    }
    return this.get(created.name);
  }

  async #create(input: NetworksPost, adoptBridge: boolean): Promise<Network> {
    const req = parseInput(NetworksPost, input);
    validateNetworkConfig(req.config);
    return this.#lock.run(req.name, async () => {
      if (await this.#db.networks.get(HOME_PROJECT, req.name)) {
        throw new EngineError('ALREADY_EXISTS', `Network "${req.name}" already exists`, {
          field: 'name',
        });
      }
      const link = await linkInfo(req.name);
      if (link && !(adoptBridge && isBridge(link))) {
        throw new EngineError('CONFLICT', `A host interface named "${req.name}" already exists`, {
          field: 'name',
        });
      }
      const config = await this.#withDefaults(req.name, req.config, true);
      const row = await this.#db.networks.create(HOME_PROJECT, {
        name: req.name,
        type: req.type,
        description: req.description,
        config,
      });
      if (!row) throw EngineError.notFound(`Project "${HOME_PROJECT}"`);
      this.#events?.lifecycle(HOME_PROJECT, 'network-created', apiUrl.network(row.name));
      return this.#toApi(row);
    });
  }

  /** Replaces description and config (a key set to "" is removed); a network that is up is reconfigured in place (dnsmasq restarted only if its arguments changed). */
  async update(name: string, input: NetworkPut): Promise<Network> {
    const parsed = parseInput(NetworkPut, input);
    // An empty value is no value, as in LXD (`lxc network unset` sends one).
    const req = {
      ...parsed,
      config: Object.fromEntries(Object.entries(parsed.config).filter(([, v]) => v !== '')),
    };
    validateNetworkConfig(req.config);
    return this.#lock.run(name, async () => {
      const current = await this.#record(name);
      const config = await this.#withDefaults(name, req.config, false);
      await this.#db.networks.update(current.id, { description: req.description, config });
      const next: NetworkRecord = { ...current, description: req.description, config };
      this.#up.delete(name);
      if (await linkInfo(name)) {
        try {
          await this.#setUp(next);
        } catch (error) {
          await this.#db.networks.update(current.id, {
            description: current.description,
            config: current.config,
          });
          await this.#setUp(current).catch(() => {});
          throw error;
        }
      }
      this.#events?.lifecycle(HOME_PROJECT, 'network-updated', apiUrl.network(name));
      return this.#toApi(next);
    });
  }

  /** LXD's PATCH: the given keys (and description) over the current ones, then as update. */
  async patch(name: string, input: NetworkPatch): Promise<Network> {
    const req = parseInput(NetworkPatch, input);
    const current = await this.#record(name);
    return this.update(name, {
      description: req.description ?? current.description,
      config: { ...current.config, ...req.config },
    });
  }

  /** Refused while instances use it; stops it (bridge, dnsmasq, NAT) and forgets it. */
  async delete(name: string): Promise<void> {
    await this.#lock.run(name, async () => {
      const row = await this.#record(name);
      const users = await this.#usedBy(name);
      if (users.length > 0)
        throw new EngineError(
          'CONFLICT',
          `The network "${name}" is currently in use by ${users.join(', ')}`,
        );
      this.#up.delete(name);
      await this.#tearDown(name);
      await this.#db.networks.delete(row.id);
      await rm(this.#networkDir(name), { recursive: true, force: true });
      this.#events?.lifecycle(HOME_PROJECT, 'network-deleted', apiUrl.network(name));
    });
  }

  async start(name: string): Promise<{ bridge: string; mtu: number }> {
    return this.ensureUp(name);
  }

  /**
   * Makes the bridge exist, addressed and up, with our dnsmasq serving it and
   * NAT as configured; reuses whatever is already right (cheap when it is up).
   * What the LXC driver calls before starting a container on the network.
   */
  async ensureUp(name: string): Promise<{ bridge: string; mtu: number }> {
    return this.#lock.run(name, async () => {
      const row = await this.#record(name);
      // Every container start calls this: when we set this very config up
      // and the bridge and our dnsmasq are still there, skip the `ip` calls
      // (file reads only, well under a millisecond instead of ~30 ms).
      const key = JSON.stringify(row.config);
      const known = this.#up.get(name);
      if (known && known.key === key && existsSync(`/sys/class/net/${name}/bridge`)) {
        const dhcp =
          row.config['ipv4.dhcp'] !== 'false' && (row.config['ipv4.address'] ?? 'none') !== 'none';
        if (!dhcp || (await findDnsmasq(name, dnsmasqFiles(this.#networkDir(name)).pid)))
          return known.result;
      }
      const result = await this.#setUp(row);
      this.#up.set(name, { key, result });
      return result;
    });
  }

  /** Networks this process brought up, with the config they were brought up with. */
  readonly #up = new Map<string, { key: string; result: { bridge: string; mtu: number } }>();

  /** Kills only our dnsmasq (by its own pid file), removes our NAT chain and deletes the bridge. */
  async stop(name: string): Promise<void> {
    await this.#lock.run(name, async () => {
      this.#up.delete(name);
      await this.#record(name);
      await this.#tearDown(name);
    });
  }

  /** The pid of the network's dnsmasq, or null when none of ours runs. */
  async dnsmasqPid(name: string): Promise<number | null> {
    const found = await findDnsmasq(name, dnsmasqFiles(this.#networkDir(name)).pid);
    return found?.pid ?? null;
  }

  /** DHCP leases from dnsmasq's lease file (the fallback to reading addresses in an instance's netns). */
  async leases(name: string): Promise<(NetworkLease & { expiresAt: Date | null })[]> {
    await this.#record(name);
    let text = '';
    try {
      text = await readFile(dnsmasqFiles(this.#networkDir(name)).leases, 'utf8');
    } catch {
      return [];
    }
    return parseLeases(text).map((l) => ({ ...l, type: 'dynamic', location: 'none' }));
  }

  /** LXD's NetworkState of the bridge; `down` with nothing when it is not up. */
  async state(name: string): Promise<NetworkState> {
    await this.#record(name);
    return linkState(name);
  }

  // -------------------------------------------------------------- internals

  #networkDir(name: string): string {
    if (name.includes('/') || name === '.' || name === '..' || name === '') {
      throw EngineError.invalid('name', `"${name}" is not a network name`);
    }
    return path.join(this.#dataDir, 'networks', name);
  }

  async #record(name: string): Promise<NetworkRecord> {
    const row = await this.#db.networks.get(HOME_PROJECT, name);
    if (!row) throw EngineError.notFound(`Network "${name}"`);
    return row;
  }

  /**
   * Fills LXD's defaults in at creation (written into the stored config, as
   * LXD does) and resolves `ipv4.address=auto`. On update the config is taken
   * as given: no `ipv4.address` then means no IPv4, as in LXD.
   */
  async #withDefaults(
    name: string,
    input: Record<string, string>,
    creating: boolean,
  ): Promise<Record<string, string>> {
    const config = { ...input };
    if (creating) {
      config['ipv6.address'] ??= 'none';
      config['ipv4.nat'] ??= 'false';
      config['ipv4.address'] ??= 'auto';
    }
    const wanted = config['ipv4.address'];
    if (wanted === undefined) return config;
    if (wanted === 'auto') {
      config['ipv4.address'] = await this.#pickSubnet(name);
    } else if (wanted !== 'none') {
      const mine = checkGatewayCidr('config["ipv4.address"]', wanted);
      for (const other of await this.#db.networks.list()) {
        const theirs = other.name === name ? null : parseCidr(other.config['ipv4.address'] ?? '');
        if (theirs && overlaps(theirs, mine)) {
          throw EngineError.invalid(
            'config["ipv4.address"]',
            `${wanted} overlaps network "${other.name}" (${other.config['ipv4.address']})`,
          );
        }
      }
    }
    return config;
  }

  async #pickSubnet(name: string): Promise<string> {
    const host = await hostRoutesAndAddresses();
    const used: Cidr[] = usedSubnetsOf(host.routes, host.addresses);
    for (const other of await this.#db.networks.list()) {
      const c = other.name === name ? null : parseCidr(other.config['ipv4.address'] ?? '');
      if (c) used.push(c);
    }
    const picked = pickFreeSubnet(used, this.#random);
    if (!picked)
      throw new EngineError(
        'CONFLICT',
        'Failed to automatically find an unused IPv4 subnet, set ipv4.address by hand',
      );
    return picked;
  }

  async #setUp(row: NetworkRecord): Promise<{ bridge: string; mtu: number }> {
    const name = row.name;
    const mtu = Number(row.config['bridge.mtu'] ?? DEFAULT_MTU);
    const address = row.config['ipv4.address'];
    const gateway =
      address && address !== 'none' ? checkGatewayCidr('config["ipv4.address"]', address) : null;
    return Reverter.run(async (revert) => {
      let link = await linkInfo(name);
      if (link && !isBridge(link)) {
        throw new EngineError('CONFLICT', `Host interface "${name}" exists and is not a bridge`);
      }
      if (!link) {
        await addBridge(name);
        revert.add(() => deleteLink(name));
        link = await linkInfo(name);
        if (!link)
          throw new EngineError('INTERNAL', `bridge ${name} vanished right after it was created`);
      }
      await configureBridge(link, {
        mtu,
        ...(row.config['bridge.hwaddr'] ? { hwaddr: row.config['bridge.hwaddr'] } : {}),
        ...(gateway ? { ipv4: address } : {}),
      });

      const dir = this.#networkDir(name);
      const files = dnsmasqFiles(dir);
      await mkdir(dir, { recursive: true, mode: 0o755 });
      await writeFile(files.hosts, '', { flag: 'a' });
      const running = await findDnsmasq(name, files.pid);
      const dhcp = gateway !== null && row.config['ipv4.dhcp'] !== 'false';
      if (dhcp && gateway) {
        const range = defaultDhcpRange(gateway);
        const args = buildDnsmasqArgs({
          bridge: name,
          gateway: formatIpv4(gateway.address),
          ranges: parseDhcpRanges(row.config['ipv4.dhcp.ranges'] ?? '') ?? [range],
          netmask: range.netmask,
          leaseTime: row.config['ipv4.dhcp.expiry'] ?? '1h',
          files,
        });
        const same =
          running !== null &&
          running.args.length === args.length &&
          running.args.every((a, i) => a === args[i]);
        if (!same) {
          if (running) await stopDnsmasq(name, files.pid);
          await startDnsmasq(name, args, files.pid);
          revert.add(async () => {
            await stopDnsmasq(name, files.pid);
          });
        }
      } else if (running) {
        await stopDnsmasq(name, files.pid);
      }

      if (gateway && isTrue(row.config['ipv4.nat'])) {
        const subnet = `${formatIpv4(networkOf(gateway))}/${gateway.prefix}`;
        await runCommand('nft', ['-f', '-'], {
          input: natAddScript(name, subnet),
          timeoutMs: NFT_TIMEOUT_MS,
        });
        revert.add(() => this.#removeNat(name));
        // Masquerading is pointless without forwarding; LXD turns it on the same way.
        await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
      } else {
        await this.#removeNat(name);
      }
      return { bridge: name, mtu };
    });
  }

  async #tearDown(name: string): Promise<void> {
    await stopDnsmasq(name, dnsmasqFiles(this.#networkDir(name)).pid);
    await this.#removeNat(name);
    const link = await linkInfo(name);
    if (link && isBridge(link)) await deleteLink(name);
  }

  /** Removes our chain for this network, and our table once it holds no chain. Never touches other tables. */
  async #removeNat(name: string): Promise<void> {
    const chain = await runCommand('nft', ['list', 'chain', 'ip', NAT_TABLE, natChainOf(name)], {
      timeoutMs: NFT_TIMEOUT_MS,
      allowFailure: true,
    }).catch(() => null);
    if (!chain || chain.exitCode !== 0) return;
    await runCommand('nft', ['-f', '-'], {
      input: natRemoveScript(name),
      timeoutMs: NFT_TIMEOUT_MS,
    });
    const table = await runCommand('nft', ['-j', 'list', 'table', 'ip', NAT_TABLE], {
      timeoutMs: NFT_TIMEOUT_MS,
      allowFailure: true,
    });
    if (table.exitCode === 0 && !table.stdout.includes('"chain"')) {
      await runCommand('nft', ['delete', 'table', 'ip', NAT_TABLE], {
        timeoutMs: NFT_TIMEOUT_MS,
        allowFailure: true,
      });
    }
  }

  async #toApi(row: NetworkRecord): Promise<Network> {
    return {
      name: row.name,
      description: row.description,
      type: row.type,
      managed: true,
      status: statusOf[row.state] ?? 'Unknown',
      config: row.config,
      used_by: await this.#usedBy(row.name),
      locations: ['none'],
    };
  }
}
