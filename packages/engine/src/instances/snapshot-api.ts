// A snapshot record as the API shows it: pure, so the snapshot service and
// the instance service's full view (which lists snapshots without the
// snapshot service) build the same object.
import type { ProfileRecord, SnapshotRecord } from '@berth/db';
import type { InstanceSnapshot } from '../schemas/index.ts';
import { zeroTime } from '../schemas/common.ts';
import { expand } from '../config/expand-config.ts';

export function toInstanceSnapshot(
  record: SnapshotRecord,
  instance: { architecture: string; profiles: string[] },
  profileRecords: readonly ProfileRecord[],
  /** What the snapshot's copy takes on disk (-1 when unknown). */
  size: number,
): InstanceSnapshot {
  const expanded = expand(profileRecords, { config: record.config, devices: record.devices });
  return {
    name: record.name,
    description: record.description,
    architecture: instance.architecture,
    config: record.config,
    devices: record.devices,
    ephemeral: false,
    profiles: instance.profiles,
    stateful: record.stateful,
    created_at: record.createdAt.toISOString(),
    expires_at: record.expiresAt ? record.expiresAt.toISOString() : zeroTime,
    last_used_at: zeroTime,
    expanded_config: expanded.config,
    expanded_devices: expanded.devices,
    size,
  };
}
