// Key/value config rows <-> plain maps, shared by every store.

export type ConfigMap = Record<string, string>;
export type DeviceMap = Record<string, ConfigMap>;

export function rowsToMap(rows: readonly { key: string; value: string }[]): ConfigMap {
  const out: ConfigMap = {};
  for (const row of rows) out[row.key] = row.value;
  return out;
}

export function mapToRows(map: ConfigMap): { key: string; value: string }[] {
  return Object.entries(map).map(([key, value]) => ({ key, value }));
}

/** Devices are stored as (name, type) rows with their other keys beside. */
export function devicesFromRows(
  rows: readonly {
    name: string;
    type: string;
    config: readonly { key: string; value: string }[];
  }[],
): DeviceMap {
  const out: DeviceMap = {};
  for (const row of rows) out[row.name] = { ...rowsToMap(row.config), type: row.type };
  return out;
}

export function devicesToRows(
  devices: DeviceMap,
): { name: string; type: string; config: { key: string; value: string }[] }[] {
  return Object.entries(devices).map(([name, device]) => {
    const { type = 'none', ...rest } = device;
    return { name, type, config: mapToRows(rest) };
  });
}
