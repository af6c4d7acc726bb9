// A project's instances with their profiles applied: what limits,
// restrictions and profile updates are checked against.
import type { InstanceRecord, ProfileRecord, Stores } from '@berth/db';
import type { ConfigMap, DeviceMap, InstanceType } from '../schemas/index.ts';
import { expand } from './expand-config.ts';

export interface ExpandedInstance {
  record: InstanceRecord;
  name: string;
  type: InstanceType;
  expandedConfig: ConfigMap;
  expandedDevices: DeviceMap;
}

export function expandInstance(
  record: InstanceRecord,
  profiles: readonly ProfileRecord[],
): ExpandedInstance {
  const byName = new Map(profiles.map((p) => [p.name, p]));
  const layers = record.profiles.flatMap((n) => byName.get(n) ?? []);
  const expanded = expand(layers, { config: record.config, devices: record.devices });
  return {
    record,
    name: record.name,
    type: record.type as InstanceType,
    expandedConfig: expanded.config,
    expandedDevices: expanded.devices,
  };
}

export async function expandedInstancesOf(
  stores: Stores,
  project: string,
  profileProject: string,
): Promise<ExpandedInstance[]> {
  const [records, profiles] = await Promise.all([
    stores.instances.list(project),
    stores.profiles.list(profileProject),
  ]);
  return records.map((r) => expandInstance(r, profiles));
}
