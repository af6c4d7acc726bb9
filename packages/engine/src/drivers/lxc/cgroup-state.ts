// What a running container uses, read from the host without entering it
// (notes §7): cgroup v1 files for memory, CPU, processes and the freezer;
// `ip -j -s addr` in the container's network namespace for interfaces.
import {
  existsSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { EngineError } from '../../errors.ts';
import { runCommand } from '../../host/run-command.ts';
import type { InstanceState } from '../../schemas/index.ts';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/** `/proc/<pid>/cgroup` → controller → path (`cpu,cpuacct` lines give both names). */
export function parseProcCgroup(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const cgroupPath = line.slice(second + 1);
    if (controllers === '') paths.set('unified', cgroupPath);
    for (const controller of controllers.split(',')) {
      if (controller !== '') paths.set(controller.replace(/^name=/, ''), cgroupPath);
    }
  }
  return paths;
}

export class ProcessCgroups {
  readonly #paths: Map<string, string>;

  constructor(paths: Map<string, string>) {
    this.#paths = paths;
  }

  static ofPid(pid: number): ProcessCgroups {
    return new ProcessCgroups(parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, 'utf8')));
  }

  file(controller: string, name: string): string | undefined {
    const at = this.#paths.get(controller);
    return at === undefined ? undefined : path.join(CGROUP_ROOT, controller, at, name);
  }

  readNumber(controller: string, name: string): number {
    const file = this.file(controller, name);
    if (file === undefined) return 0;
    try {
      const value = Number(readFileSync(file, 'utf8').trim());
      return Number.isFinite(value) ? value : 0;
    } catch {
      return 0;
    }
  }

  readText(controller: string, name: string): string | undefined {
    const file = this.file(controller, name);
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  write(controller: string, name: string, value: string): void {
    const file = this.file(controller, name);
    if (file === undefined)
      throw new EngineError('INTERNAL', `No ${controller} cgroup for this container`);
    writeFileSync(file, value);
  }
}

export interface CgroupUsage {
  memory: InstanceState['memory'];
  cpuNs: number;
  processes: number;
}

export function readCgroupUsage(cgroups: ProcessCgroups): CgroupUsage {
  const usage = cgroups.readNumber('memory', 'memory.usage_in_bytes');
  const peak = cgroups.readNumber('memory', 'memory.max_usage_in_bytes');
  const memsw = cgroups.readNumber('memory', 'memory.memsw.usage_in_bytes');
  const memswPeak = cgroups.readNumber('memory', 'memory.memsw.max_usage_in_bytes');
  return {
    memory: {
      usage,
      usage_peak: peak,
      swap_usage: memsw > usage ? memsw - usage : 0,
      swap_usage_peak: memswPeak > peak ? memswPeak - peak : 0,
    },
    cpuNs: cgroups.readNumber('cpuacct', 'cpuacct.usage'),
    processes: cgroups.readNumber('pids', 'pids.current'),
  };
}

// --- network ---------------------------------------------------------------

interface IpAddrInfo {
  family?: string;
  local?: string;
  prefixlen?: number;
  scope?: string;
}

interface IpStats {
  bytes?: number;
  packets?: number;
  errors?: number;
  dropped?: number;
}

interface IpLink {
  ifname?: string;
  mtu?: number;
  operstate?: string;
  flags?: string[];
  link_type?: string;
  address?: string;
  addr_info?: IpAddrInfo[];
  stats64?: { rx?: IpStats; tx?: IpStats };
}

type StateNetwork = NonNullable<InstanceState['network']>[string];

/** `ip -j -s addr` output → LXD's `network` map. `hostNames`: interface → host-side veth. */
export function parseIpAddr(
  json: string,
  hostNames: ReadonlyMap<string, string>,
): Record<string, StateNetwork> {
  let links: IpLink[];
  try {
    links = JSON.parse(json) as IpLink[];
  } catch (error) {
    throw new EngineError(
      'INTERNAL',
      `Unreadable "ip -j addr" output: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const network: Record<string, StateNetwork> = {};
  for (const link of Array.isArray(links) ? links : []) {
    if (!link.ifname) continue;
    const rx = link.stats64?.rx ?? {};
    const tx = link.stats64?.tx ?? {};
    const up = (link.flags ?? []).includes('UP');
    network[link.ifname] = {
      addresses: (link.addr_info ?? [])
        .filter((a) => (a.family === 'inet' || a.family === 'inet6') && a.local)
        .map((a) => ({
          family: a.family as 'inet' | 'inet6',
          address: a.local as string,
          netmask: String(a.prefixlen ?? ''),
          // LXD says `local` where iproute2 says `host`.
          scope: a.scope === 'host' ? 'local' : (a.scope ?? 'global'),
        })),
      counters: {
        bytes_received: rx.bytes ?? 0,
        bytes_sent: tx.bytes ?? 0,
        packets_received: rx.packets ?? 0,
        packets_sent: tx.packets ?? 0,
        errors_received: rx.errors ?? 0,
        errors_sent: tx.errors ?? 0,
        packets_dropped_outbound: tx.dropped ?? 0,
        packets_dropped_inbound: rx.dropped ?? 0,
      },
      hwaddr: link.link_type === 'loopback' ? '' : (link.address ?? ''),
      host_name: hostNames.get(link.ifname) ?? '',
      mtu: link.mtu ?? 0,
      state: up ? 'up' : 'down',
      type: link.link_type === 'loopback' ? 'loopback' : 'broadcast',
    };
  }
  return network;
}

export async function readNetwork(
  pid: number,
  hostNames: ReadonlyMap<string, string>,
): Promise<Record<string, StateNetwork>> {
  // Host binaries in the container's netns only: nothing of the container runs.
  const result = await runCommand(
    'nsenter',
    [`--target=${pid}`, '--net', '--', 'ip', '-j', '-s', 'addr', 'show'],
    {
      timeoutMs: 5_000,
    },
  );
  return parseIpAddr(result.stdout, hostNames);
}

// --- clean-up ------------------------------------------------------------------

/** Every cgroup v1 hierarchy mounted under /sys/fs/cgroup, once each (cpu → cpu,cpuacct). */
function hierarchies(): string[] {
  const seen = new Set<string>();
  const list: string[] = [];
  let names: string[];
  try {
    names = readdirSync(CGROUP_ROOT);
  } catch {
    return [];
  }
  for (const name of names) {
    let real: string;
    try {
      real = realpathSync(path.join(CGROUP_ROOT, name));
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    list.push(real);
  }
  return list;
}

function removeDir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    // ENOENT: nothing to do; EBUSY/ENOTEMPTY: still in use (another container, a process).
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * Removes what LXC leaves behind after a container stopped (notes §2): the
 * container's own cgroups if still there, the engine's parents when they are
 * empty, and LXC's `lxc.pivot` when empty. Only paths this engine names (and
 * LXC's one fixed pivot name) are touched; a busy cgroup is left alone.
 * `bases`: where LXC created them, relative to each hierarchy (the caller's
 * cgroup at lxc-start time, `/` when the engine ran in the root).
 */
export function removeContainerCgroups(leaves: readonly string[], bases: readonly string[]): void {
  for (const hierarchy of hierarchies()) {
    for (const base of new Set(bases)) {
      const at = path.join(hierarchy, base);
      for (const leaf of leaves) {
        removeDir(path.join(at, leaf));
        const parent = path.dirname(leaf);
        if (parent !== '.' && parent !== '/') removeDir(path.join(at, parent));
      }
      removeDir(path.join(at, 'lxc.pivot'));
    }
  }
}

/** This process's cgroup per hierarchy directory name (where a container it starts lands). */
export function ownCgroupBases(): string[] {
  try {
    return [
      ...new Set(['/', ...parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8')).values()]),
    ];
  } catch {
    return ['/'];
  }
}

/** The cgroup directories of `leaves` still there, in any hierarchy under any of `bases`. */
export function leftoverCgroups(leaves: readonly string[], bases: readonly string[]): string[] {
  const found: string[] = [];
  for (const hierarchy of [
    'pids',
    'memory',
    'cpu',
    'cpuacct',
    'cpuset',
    'freezer',
    'devices',
    'blkio',
    'systemd',
    'unified',
  ]) {
    for (const base of bases) {
      for (const leaf of leaves) {
        const dir = path.join(CGROUP_ROOT, hierarchy, base, leaf);
        if (existsSync(dir)) found.push(dir);
      }
    }
  }
  return found;
}
