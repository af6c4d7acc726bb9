// What the instances table shows of an instance: a few hundred bytes per row
// instead of the whole recursion=2 object (config, devices, snapshots, ...),
// so a list of hundreds travels and renders quickly.
import type { Instance, InstanceFull, InstanceState } from '@berth/engine/schemas';

export interface InstanceRow {
  name: string;
  description: string;
  status: string;
  type: string;
  /** "10.0.3.5 (eth0)", global addresses only, as `lxc list` shows them. */
  ipv4: string[];
  image: string;
  profiles: string[];
  /** Bytes; 0 when stopped. */
  memory: number;
  /** Nanoseconds of CPU time; 0 when stopped. */
  cpu: number;
  created_at: string;
}

export function toInstanceRow(instance: InstanceFull): InstanceRow {
  return {
    name: instance.name,
    description: instance.description,
    status: instance.status,
    type: instance.type,
    ipv4: ipv4Of(instance.state),
    image: imageOf(instance),
    profiles: instance.profiles,
    memory: instance.state?.memory.usage ?? 0,
    cpu: instance.state?.cpu.usage ?? 0,
    created_at: instance.created_at,
  };
}

/** Global IPv4 addresses from the instance's state, as `lxc list` shows them. */
export function ipv4Of(state: Pick<InstanceState, 'network'> | null | undefined): string[] {
  const out: string[] = [];
  for (const [device, net] of Object.entries(state?.network ?? {})) {
    if (device === 'lo') continue;
    for (const a of net.addresses)
      if (a.family === 'inet' && a.scope === 'global') out.push(`${a.address} (${device})`);
  }
  return out;
}

/** "busybox 1.35" from the image.* keys the instance was created with. */
export function imageOf(instance: Pick<Instance, 'config'>): string {
  const os = instance.config['image.os'] ?? '';
  const release = instance.config['image.release'] ?? '';
  return `${os} ${release}`.trim() || instance.config['image.description'] || '—';
}
