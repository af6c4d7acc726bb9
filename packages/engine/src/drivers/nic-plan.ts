// What a `nic` device asks of the host, for both drivers: a bridged NIC on
// a parent bridge or on a managed network, with its MAC, MTU and host-side
// name if the device or its volatile keys set them. A container gets a veth
// on that bridge (lxc-config.ts), a VM a tap (qemu/vm-nics.ts). Pure but for
// `resolveBridge`, which brings a managed network up.
import { EngineError } from '../errors.ts';
import type { ConfigMap, DeviceMap } from '../schemas/index.ts';
import { devicesOf } from './driver-common.ts';
import type { DriverEnvironment } from './driver.ts';

/** What a NIC needs before its bridge is known: parent bridge or managed network. */
export interface NicPlan {
  device: string;
  name: string;
  parent?: string;
  network?: string;
  hwaddr?: string;
  mtu?: number;
  hostName?: string;
}

export function planNics(config: ConfigMap, devices: DeviceMap): NicPlan[] {
  return devicesOf(devices, 'nic').map(([device, nic]) => {
    const field = `devices["${device}"]`;
    if (!nic.network && (nic.nictype ?? 'bridged') !== 'bridged') {
      throw new EngineError(
        'NOT_IMPLEMENTED',
        `${field}: nictype "${nic.nictype}" is not supported (bridged only)`,
      );
    }
    if (!nic.network && !nic.parent)
      throw EngineError.invalid(`${field}.parent`, 'a bridged NIC needs a parent bridge');
    const plan: NicPlan = { device, name: nic.name || config[`volatile.${device}.name`] || device };
    if (nic.network) plan.network = nic.network;
    else plan.parent = nic.parent;
    const hwaddr = nic.hwaddr || config[`volatile.${device}.hwaddr`];
    if (hwaddr) plan.hwaddr = hwaddr;
    if (nic.mtu) plan.mtu = Number(nic.mtu);
    if (nic.host_name) plan.hostName = nic.host_name;
    return plan;
  });
}

/** The NIC's bridge and MTU: its parent, or its managed network's (brought up); the device's MTU wins. */
export async function resolveBridge(
  plan: NicPlan,
  env: Pick<DriverEnvironment, 'ensureNetwork'>,
): Promise<{ bridge: string; mtu?: number }> {
  if (plan.network === undefined)
    return { bridge: plan.parent ?? '', ...(plan.mtu ? { mtu: plan.mtu } : {}) };
  const network = await env.ensureNetwork(plan.network);
  const mtu = plan.mtu ?? network.mtu;
  return { bridge: network.bridge, ...(mtu ? { mtu } : {}) };
}
