// The state of a running VM: its QEMU's CPU time, the memory it was given,
// its root disk's use, and from the guest agent its interfaces and OS
// (agent-state.ts); without an agent, each NIC with the address dnsmasq
// leased to its MAC.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { linkInfo } from '../../network/bridge-link.ts';
import { readNetworkLeases } from '../../network/lease-file.ts';
import type { InstanceState } from '../../schemas/index.ts';
import type { DriverInstance } from '../driver.ts';
import {
  networkFromAgent,
  networkFromLeases,
  osInfoFromAgent,
  type GuestInterface,
  type GuestOsInfo,
  type HostNic,
} from './agent-state.ts';
import { vmMemoryBytes } from './qemu-args.ts';
import type { VmPaths } from './qemu-paths.ts';
import { rootDiskPlan, rootDiskUsage } from './root-disk.ts';
import { hostNics, tapCounters } from './vm-nics.ts';
import { cpuNsFromStat, type VmRuntime } from './vm-runtime.ts';

const AGENT_ANSWER_MS = 5_000;

/** `idle`: the state with the VM's status; `pid`: its running QEMU. */
export async function runningVmState(
  idle: InstanceState,
  instance: DriverInstance,
  running: { paths: VmPaths; pid: number },
  runtime: VmRuntime,
  dataDir: string,
): Promise<InstanceState> {
  const { paths, pid } = running;
  let cpuNs = 0;
  try {
    cpuNs = cpuNsFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    // exited meanwhile
  }
  // Guest memory use needs a balloon; report what the VM was given, as LXD does without one.
  const memory = vmMemoryBytes(instance.expandedConfig, os.totalmem());
  const nics = hostNics(instance, paths.name, dataDir);
  const guest =
    idle.status === 'Running'
      ? await runtime.askAgentForState(paths, async (agent) => {
          const interfaces = await agent.execute<GuestInterface[]>(
            'guest-network-get-interfaces',
            undefined,
            AGENT_ANSWER_MS,
          );
          const info = await agent.execute<GuestOsInfo>(
            'guest-get-osinfo',
            undefined,
            AGENT_ANSWER_MS,
          );
          const host = await agent
            .execute<{ 'host-name': string }>('guest-get-host-name', undefined, AGENT_ANSWER_MS)
            .then((h) => h['host-name'])
            .catch(() => '');
          return {
            network: networkFromAgent(interfaces, nics),
            osInfo: osInfoFromAgent(info, host),
          };
        })
      : undefined;
  return {
    ...idle,
    disk: rootDiskState(instance),
    memory: { ...idle.memory, usage: memory, usage_peak: memory },
    network: guest?.network ?? (await leaseNetwork(nics, dataDir)),
    pid,
    processes: -1,
    cpu: { usage: cpuNs },
    ...(guest ? { os_info: guest.osInfo } : {}),
  };
}

/**
 * The root disk device's usage: what the instance's own qcow2 overlay
 * occupies on the host (its allocated bytes), as LXD reports a VM volume's
 * usage, not the image's disk beside it that the overlay only reads.
 * Running or not.
 */
export function rootDiskState(instance: DriverInstance): InstanceState['disk'] {
  const { device } = rootDiskPlan(instance.expandedDevices);
  return device ? { [device]: { usage: rootDiskUsage(instance.paths.dir) } } : {};
}

/** Without an agent: each NIC with the address dnsmasq leased to its MAC. */
async function leaseNetwork(
  nics: readonly HostNic[],
  dataDir: string,
): Promise<InstanceState['network']> {
  if (nics.length === 0) return null;
  const leases = [];
  const prefixes = new Map<string, string>();
  for (const network of new Set(nics.flatMap((n) => (n.network ? [n.network] : [])))) {
    leases.push(...(await readNetworkLeases(dataDir, network)));
    const link = await linkInfo(network).catch(() => null);
    const inet = link?.addr_info?.find((a) => a.family === 'inet');
    if (inet) prefixes.set(network, String(inet.prefixlen));
  }
  return networkFromLeases(nics, leases, tapCounters, (nic) =>
    nic.network ? (prefixes.get(nic.network) ?? '24') : '24',
  );
}
