import type { Outputs } from '~/lib/trpc.ts';

export type InstanceRow = Outputs['instances']['list'][number];

/** Global IPv4 addresses from the instance's state, as `lxc list` shows them. */
export function ipv4Of(instance: Pick<InstanceRow, 'state'>): string[] {
  const out: string[] = [];
  for (const [device, net] of Object.entries(instance.state?.network ?? {})) {
    if (device === 'lo') continue;
    for (const a of net.addresses)
      if (a.family === 'inet' && a.scope === 'global') out.push(`${a.address} (${device})`);
  }
  return out;
}

/** "busybox 1.35" from the image.* keys the instance was created with. */
export function imageOf(instance: Pick<InstanceRow, 'config'>): string {
  const os = instance.config['image.os'] ?? '';
  const release = instance.config['image.release'] ?? '';
  return `${os} ${release}`.trim() || instance.config['image.description'] || '—';
}
