// Attaching a custom volume is an instance's disk device naming it
// (`{type: disk, pool, source: <volume>, path}`), as `lxc storage volume
// attach` writes it; detaching removes those devices. Pure, for the tests.
export type DeviceMap = Record<string, Record<string, string>>;

/** The devices of `devices` that mount `volume` of `pool`. */
export function volumeDiskNames(devices: DeviceMap, pool: string, volume: string): string[] {
  return Object.entries(devices)
    .filter(([, d]) => d.type === 'disk' && d.pool === pool && d.source === volume)
    .map(([name]) => name);
}

/** A device name for the volume not yet used by the instance: the volume's, else `<volume>-2`, … */
export function freeDeviceName(devices: DeviceMap, volume: string): string {
  if (!(volume in devices)) return volume;
  for (let i = 2; ; i++) if (!(`${volume}-${i}` in devices)) return `${volume}-${i}`;
}

export function volumeDisk(pool: string, volume: string, path: string): Record<string, string> {
  return { type: 'disk', pool, source: volume, path };
}

/**
 * The PUT that detaches `volume`: the instance's local devices without its
 * disks, the rest as it is. Volatile keys are left out (the engine keeps
 * them on a PUT and refuses a user's value for them). A PATCH cannot do it:
 * it merges devices, never removes one.
 */
export function putWithoutVolume(
  instance: {
    description: string;
    config: Record<string, string>;
    devices: DeviceMap;
    profiles: string[];
    ephemeral: boolean;
  },
  pool: string,
  volume: string,
) {
  const drop = new Set(volumeDiskNames(instance.devices, pool, volume));
  return {
    description: instance.description,
    config: Object.fromEntries(
      Object.entries(instance.config).filter(([k]) => !k.startsWith('volatile.')),
    ),
    devices: Object.fromEntries(Object.entries(instance.devices).filter(([n]) => !drop.has(n))),
    profiles: instance.profiles,
    ephemeral: instance.ephemeral,
  };
}

/** `v1/snap0` → `snap0` (snapshots of a volume are listed under its name). */
export function snapshotNameOf(name: string): string {
  const slash = name.indexOf('/');
  return slash < 0 ? name : name.slice(slash + 1);
}

/** A create's server errors under the dialog's fields: `volume.name` → `name`, `config["size"]` → `size`. */
export function volumeFormField(field: string): string {
  const config = /^(?:volume\.|put\.|patch\.)?config\["((?:[^"\\]|\\.)*)"\]$/.exec(field);
  if (config) return config[1]!;
  return field.replace(/^(?:volume|put|patch|post)\./, '').replace(/^config\./, '');
}
