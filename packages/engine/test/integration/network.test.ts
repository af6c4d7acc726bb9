// The managed bridge against the real host: a bridge and a dnsmasq of our
// own, a veth into a fresh network namespace, and busybox udhcpc as the
// DHCP client. Names are random so nothing can collide; everything created
// is removed by its own name or pid. NAT stays off (no traffic leaves).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '@berth/db';
import { NetworkService } from '../../src/network/networks.ts';
import { EventBus } from '../../src/events/event-bus.ts';
import type { Event } from '../../src/schemas/index.ts';
import { errorOf } from './helpers.ts';

const suffix = randomBytes(3).toString('hex');
const bridge = `bt${suffix}`;
const netns = `berth-test-${suffix}`;
const vethHost = `bv${suffix}h`;
const vethGuest = `bv${suffix}g`;

let dataDir: string;
let db: Database;
let networks: NetworkService;
/** Instances the test says use the bridge (what the instance service would report). */
let users: string[] = [];
const events: Event[] = [];
const pidsSeen = new Set<number>();

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function linkJson(
  name: string,
): { flags: string[]; addr_info: { family: string; local: string; prefixlen: number }[] } | null {
  try {
    return JSON.parse(sh('ip', ['-j', 'addr', 'show', 'dev', name]))[0] ?? null;
  } catch {
    return null;
  }
}

/** Running (a zombie waiting for PID 1 to reap it counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = execFileSync('cat', [`/proc/${pid}/stat`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-network-test-'));
  const url = `file:${dataDir}/berth.db`;
  db = await openDatabase({ url });
  await db.projects.create({ name: 'default' });
  const bus = new EventBus();
  bus.subscribe({}, (e) => events.push(e));
  networks = new NetworkService({
    dataDir,
    db,
    events: bus,
    usedBy: async (name) => (name === bridge ? users : []),
  });
});

afterAll(async () => {
  // Only what this test made, by its own names and pids.
  for (const pid of pidsSeen) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(`--interface=${bridge}\0`)) process.kill(pid, 'SIGKILL');
  }
  try {
    sh('ip', ['netns', 'del', netns]);
  } catch {
    // not created or already gone
  }
  for (const link of [vethHost, bridge]) {
    if (linkJson(link)) sh('ip', ['link', 'del', 'dev', link]);
  }
  await db?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('managed bridge network', () => {
  it('creates it with a free subnet, NAT off, IPv6 none, and brings it up', async () => {
    const net = await networks.create({ name: bridge, config: {} });
    expect(net).toMatchObject({
      name: bridge,
      type: 'bridge',
      managed: true,
      status: 'Created',
      used_by: [],
      locations: ['none'],
    });
    expect(net.config['ipv4.address']).toMatch(/^10\.\d+\.\d+\.1\/24$/);
    expect(net.config['ipv4.nat']).toBe('false');
    expect(net.config['ipv6.address']).toBe('none');
    expect(events.map((e) => (e.metadata as { action: string }).action)).toContain(
      'network-created',
    );
    expect(linkJson(bridge)?.flags).toContain('UP'); // up at once, as LXD's
    expect((await errorOf(networks.create({ name: bridge }))).code).toBe('ALREADY_EXISTS');
    expect((await errorOf(networks.create({ name: 'lo' }))).code).toBe('CONFLICT');
    expect((await errorOf(networks.create({ name: 'x'.repeat(16) }))).field).toBe('name');
    expect((await errorOf(networks.create({ name: 'a/b' }))).field).toBe('name');
  });

  it('starts the bridge and a dnsmasq bound only to it; ensureUp reuses them', async () => {
    const t0 = performance.now();
    expect(await networks.start(bridge)).toEqual({ bridge, mtu: 1500 });
    const startMs = performance.now() - t0;

    const net = await networks.get(bridge);
    const [gw, prefix] = net.config['ipv4.address']!.split('/');
    const link = linkJson(bridge)!;
    expect(link.flags).toContain('UP');
    expect(link.addr_info.filter((a) => a.family === 'inet')).toEqual([
      expect.objectContaining({ local: gw, prefixlen: Number(prefix) }),
    ]);

    const pid = (await networks.dnsmasqPid(bridge))!;
    pidsSeen.add(pid);
    expect(alive(pid)).toBe(true);
    // Every socket of that dnsmasq is bound to our bridge: `0.0.0.0%<bridge>:67`.
    const sockets = sh('ss', ['-H', '-a', '-n', '-u', '-t', '-p'])
      .split('\n')
      .filter((l) => l.includes(`pid=${pid},`));
    expect(sockets.length).toBeGreaterThan(0);
    for (const s of sockets) expect(s).toContain(`%${bridge}:`);

    const t1 = performance.now();
    await networks.ensureUp(bridge);
    const reuseMs = performance.now() - t1;
    expect(await networks.dnsmasqPid(bridge)).toBe(pid);
    console.log(
      `bridge+dnsmasq start ${startMs.toFixed(1)} ms, ensureUp when up ${reuseMs.toFixed(1)} ms`,
    );

    const state = await networks.state(bridge);
    expect(state).toMatchObject({ state: 'up', mtu: 1500, type: 'broadcast' });
    expect(state.addresses).toContainEqual({
      family: 'inet',
      address: gw,
      netmask: prefix,
      scope: 'global',
    });
    expect(state.hwaddr).toMatch(/^[0-9a-f:]{17}$/);
    expect(state.bridge?.upper_devices).toEqual([]);
  });

  it('leases an address to a DHCP client in a netns on the bridge', async () => {
    sh('ip', ['netns', 'add', netns]);
    sh('ip', ['link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethGuest]);
    sh('ip', ['link', 'set', vethGuest, 'netns', netns]);
    sh('ip', ['link', 'set', vethHost, 'master', bridge, 'up']);
    sh('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', vethGuest, 'up']);
    const mac = JSON.parse(
      sh('ip', ['netns', 'exec', netns, 'ip', '-j', 'link', 'show', vethGuest]),
    )[0].address as string;

    // udhcpc runs a script on `bound`; ours writes what it was given.
    const script = path.join(dataDir, 'udhcpc.sh');
    const got = path.join(dataDir, 'udhcpc.out');
    await writeFile(script, `#!/bin/sh\n[ "$1" = bound ] && echo "$ip" > ${got}\nexit 0\n`, {
      mode: 0o755,
    });
    const t0 = performance.now();
    sh('ip', [
      'netns',
      'exec',
      netns,
      'busybox',
      'udhcpc',
      '-i',
      vethGuest,
      '-n',
      '-q',
      '-f',
      '-t',
      '5',
      '-T',
      '1',
      '-x',
      'hostname:leasetest',
      '-s',
      script,
    ]);
    const leaseMs = performance.now() - t0;
    const address = (await readFile(got, 'utf8')).trim();
    const gw = (await networks.get(bridge)).config['ipv4.address']!.split('/')[0]!;
    expect(address.split('.').slice(0, 3)).toEqual(gw.split('.').slice(0, 3));
    expect(address).not.toBe(gw);
    console.log(`DHCP lease for a new MAC in ${leaseMs.toFixed(0)} ms`);

    const leases = await networks.leases(bridge);
    expect(leases).toContainEqual(
      expect.objectContaining({ hwaddr: mac, address, hostname: 'leasetest', type: 'dynamic' }),
    );
    expect((await networks.state(bridge)).bridge?.upper_devices).toEqual([vethHost]);
  });

  it('restarts dnsmasq on a DHCP config change, keeping the bridge', async () => {
    const before = (await networks.dnsmasqPid(bridge))!;
    const net = await networks.get(bridge);
    await networks.update(bridge, {
      description: 'changed',
      config: { ...net.config, 'ipv4.dhcp.expiry': '2h' },
    });
    const after = (await networks.dnsmasqPid(bridge))!;
    pidsSeen.add(after);
    expect(after).not.toBe(before);
    expect(alive(before)).toBe(false);
    expect(linkJson(bridge)?.flags).toContain('UP');
    expect((await networks.get(bridge)).description).toBe('changed');
  });

  it("masquerades its subnet in Berth's own nftables table when ipv4.nat=true, and removes it when off", async () => {
    // No guest on the bridge sends anything: only the rules are checked.
    const forward = await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8');
    const chain = `pstrt.${bridge}`;
    const current = await networks.get(bridge);
    try {
      await networks.update(bridge, {
        description: current.description,
        config: { ...current.config, 'ipv4.nat': 'true' },
      });
      const rules = sh('nft', ['list', 'chain', 'ip', 'berth', chain]);
      const subnet = current.config['ipv4.address']!.replace(/\.1\//, '.0/');
      expect(rules).toContain(`ip saddr ${subnet}`);
      expect(rules).toContain('masquerade');
      await networks.update(bridge, {
        description: current.description,
        config: { ...current.config, 'ipv4.nat': 'false' },
      });
      expect(() => sh('nft', ['list', 'chain', 'ip', 'berth', chain])).toThrow();
    } finally {
      await writeFile('/proc/sys/net/ipv4/ip_forward', forward);
    }
  });

  it('refuses to delete a network in use', async () => {
    users = ['/1.0/instances/c1'];
    expect((await networks.get(bridge)).used_by).toEqual(['/1.0/instances/c1']);
    expect((await errorOf(networks.delete(bridge))).code).toBe('CONFLICT');
    users = [];
  });

  it('stops: dnsmasq and bridge gone; a pid file naming another process kills nothing', async () => {
    const pid = (await networks.dnsmasqPid(bridge))!;
    const t0 = performance.now();
    await networks.stop(bridge);
    console.log(`stop (dnsmasq + bridge) ${(performance.now() - t0).toFixed(1)} ms`);
    expect(linkJson(bridge)).toBeNull();
    expect(alive(pid)).toBe(false);
    expect(await networks.dnsmasqPid(bridge)).toBeNull();
    expect((await networks.state(bridge)).state).toBe('down');

    // A stale pid file pointing at an unrelated live process (this one).
    await writeFile(path.join(dataDir, 'networks', bridge, 'dnsmasq.pid'), `${process.pid}\n`);
    await networks.stop(bridge);
    expect(alive(process.pid)).toBe(true);
  });

  it('deletes the record and its folder', async () => {
    await networks.delete(bridge);
    expect((await errorOf(networks.get(bridge))).code).toBe('NOT_FOUND');
    await expect(
      readFile(path.join(dataDir, 'networks', bridge, 'dnsmasq.hosts')),
    ).rejects.toThrow();
    expect(linkJson(bridge)).toBeNull();
  });
});
