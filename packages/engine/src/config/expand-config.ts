// Profile expansion, as LXD's `db.ExpandInstanceConfig`/`ExpandInstanceDevices`:
// the instance's profiles are applied in order, then its own config on top.
// Config merges key by key; a device is replaced whole by a later one with the
// same name (a profile's `eth0` is not merged key-wise into another's).
import type { ConfigMap, DeviceMap } from '../schemas/index.ts';

export interface ProfileLayer {
  config: ConfigMap;
  devices: DeviceMap;
}

export function expandConfig(
  profiles: readonly Pick<ProfileLayer, 'config'>[],
  local: ConfigMap,
): ConfigMap {
  const out: ConfigMap = {};
  for (const profile of profiles) Object.assign(out, profile.config);
  return Object.assign(out, local);
}

export function expandDevices(
  profiles: readonly Pick<ProfileLayer, 'devices'>[],
  local: DeviceMap,
): DeviceMap {
  const out: DeviceMap = {};
  for (const layer of [...profiles.map((p) => p.devices), local]) {
    for (const [name, device] of Object.entries(layer)) out[name] = { ...device };
  }
  return out;
}

export function expand(profiles: readonly ProfileLayer[], local: ProfileLayer): ProfileLayer {
  return {
    config: expandConfig(profiles, local.config),
    devices: expandDevices(profiles, local.devices),
  };
}
