// A VM's NICs on the host: one tap device per `nic` device, made before QEMU
// starts (`ip tuntap add ... mode tap`, enslaved to the bridge, up) and
// removed after it exits. QEMU only opens it (`-netdev tap,ifname=...,
// script=no,downscript=no`). The tap's name is derived from the engine's
// data dir, the VM and the device (unless the device sets `host_name`), so
// a restarted engine finds it again; the names in use are also written to
// the VM's runtime dir, so what a VM that died with the engine down left
// behind is removed at its next start or delete.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { EngineError } from '../../errors.ts';
import { runCommand } from '../../host/run-command.ts';
import type { ConfigMap, DeviceMap } from '../../schemas/index.ts';
import type { DriverEnvironment, DriverInstance } from '../driver.ts';
import { planNics, resolveBridge, type NicPlan } from '../nic-plan.ts';
import type { HostNic } from './agent-state.ts';

const IP_TIMEOUT_MS = 10_000;

/** A NIC with its bridge and tap resolved. */
export interface VmNic {
  device: string;
  /** Interface name in the guest (informative: the guest names its NICs itself). */
  name: string;
  bridge: string;
  tap: string;
  hwaddr: string;
  mtu?: number;
  /** The managed network, for its leases. */
  network?: string;
}

/** `vt` + 12 hex digits: 14 characters, under IFNAMSIZ (15). */
export function tapName(dataDir: string, vm: string, device: string): string {
  const hash = createHash('sha256').update(`${dataDir}\0${vm}\0${device}`).digest('hex');
  return `vt${hash.slice(0, 12)}`;
}

/** The NIC plans of a VM (bridged NICs and managed networks, as for containers); every VM NIC needs a MAC. */
export function planVmNics(
  config: ConfigMap,
  devices: DeviceMap,
): (NicPlan & { hwaddr: string })[] {
  return planNics(config, devices).map((plan) => {
    if (!plan.hwaddr) {
      throw new EngineError(
        'INTERNAL',
        `devices["${plan.device}"]: no MAC address (volatile.${plan.device}.hwaddr is missing)`,
      );
    }
    return { ...plan, hwaddr: plan.hwaddr };
  });
}

type VmDevices = Pick<DriverInstance, 'expandedConfig' | 'expandedDevices'>;

/** The VM's NICs with bridges resolved (managed networks brought up) and taps named. */
export async function resolveVmNics(
  instance: VmDevices,
  vm: string,
  env: Pick<DriverEnvironment, 'dataDir' | 'ensureNetwork'>,
): Promise<VmNic[]> {
  const nics: VmNic[] = [];
  for (const plan of planVmNics(instance.expandedConfig, instance.expandedDevices)) {
    const { bridge, mtu } = await resolveBridge(plan, env);
    nics.push({
      device: plan.device,
      name: plan.name,
      bridge,
      tap: plan.hostName ?? tapName(env.dataDir, vm, plan.device),
      hwaddr: plan.hwaddr,
      ...(mtu ? { mtu } : {}),
      ...(plan.network !== undefined ? { network: plan.network } : {}),
    });
  }
  return nics;
}

/** NICs as the host sees them, without bringing networks up (state must not create bridges). */
export function hostNics(instance: VmDevices, vm: string, dataDir: string): HostNic[] {
  try {
    return planVmNics(instance.expandedConfig, instance.expandedDevices).map((plan) => ({
      name: plan.name,
      hwaddr: plan.hwaddr,
      tap: plan.hostName ?? tapName(dataDir, vm, plan.device),
      ...(plan.mtu ? { mtu: plan.mtu } : {}),
      ...(plan.network !== undefined ? { network: plan.network } : {}),
    }));
  } catch {
    return [];
  }
}

async function ip(args: string[], allowFailure = false) {
  return runCommand('ip', args, { timeoutMs: IP_TIMEOUT_MS, allowFailure });
}

export async function deleteTap(name: string): Promise<void> {
  await ip(['link', 'del', 'dev', name], true);
}

/** Makes the tap (replacing a stale one of that name), on the bridge, up. */
export async function createTap(nic: VmNic): Promise<void> {
  await deleteTap(nic.tap);
  await ip(['tuntap', 'add', 'dev', nic.tap, 'mode', 'tap']);
  try {
    await ip(['link', 'set', 'dev', nic.tap, 'master', nic.bridge]);
    if (nic.mtu) await ip(['link', 'set', 'dev', nic.tap, 'mtu', String(nic.mtu)]);
    await ip(['link', 'set', 'dev', nic.tap, 'up']);
  } catch (error) {
    await deleteTap(nic.tap);
    throw error;
  }
}

/** The taps a VM's last start made (its runtime dir's `taps` file). */
export function recordedTaps(file: string): string[] {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return Array.isArray(parsed)
      ? parsed.filter((n): n is string => typeof n === 'string' && /^[A-Za-z0-9_.-]{1,15}$/.test(n))
      : [];
  } catch {
    return [];
  }
}

export function recordTaps(file: string, taps: readonly string[]): void {
  writeFileSync(file, `${JSON.stringify(taps)}\n`, { mode: 0o600 });
}

/** Host-side counters of a tap, as the guest sees them (the host's rx is the guest's tx). */
export function tapCounters(tap: string) {
  const read = (name: string) => {
    try {
      const n = Number(readFileSync(`/sys/class/net/${tap}/statistics/${name}`, 'utf8').trim());
      return Number.isFinite(n) ? n : 0;
    } catch {
      return 0;
    }
  };
  return {
    bytes_received: read('tx_bytes'),
    bytes_sent: read('rx_bytes'),
    packets_received: read('tx_packets'),
    packets_sent: read('rx_packets'),
    errors_received: read('tx_errors'),
    errors_sent: read('rx_errors'),
    packets_dropped_outbound: read('rx_dropped'),
    packets_dropped_inbound: read('tx_dropped'),
  };
}
