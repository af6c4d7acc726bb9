// Who uses a custom volume (LXD's VolumeUsedByInstanceDevices and
// VolumeUsedByProfileDevices): instances whose expanded devices hold a
// `disk` with `pool` and `source` naming it, and profiles that hold one;
// and the rewrite of those devices when the volume is renamed or moved
// (LXD's storagePoolVolumeUpdateUsers). Read from the database, so the
// volume service needs no instance service.
import type { Database, Stores } from '@berth/db';
import { apiUrl } from '../api-url.ts';
import { expandInstance } from '../config/expanded-instances.ts';
import type { DeviceMap } from '../schemas/common.ts';
import { profileProjectOf } from '../projects/projects.ts';

export interface VolumeRef {
  pool: string;
  /** The volume's project (custom volumes live in the instance's project here). */
  project: string;
  name: string;
}

export interface VolumeUsers {
  /** Instances of the project using it, by name, with the devices that do. */
  instances: { name: string; devices: string[] }[];
  /** Profiles (of the project's profile project) holding such a device. */
  profiles: { project: string; name: string }[];
}

function usesVolume(device: Record<string, string>, ref: VolumeRef): boolean {
  return (
    device.type === 'disk' &&
    device.pool === ref.pool &&
    device.source === ref.name &&
    device.path !== '/'
  );
}

function devicesUsing(devices: DeviceMap, ref: VolumeRef): string[] {
  return Object.entries(devices)
    .filter(([, d]) => usesVolume(d, ref))
    .map(([n]) => n);
}

async function profileProjectFor(db: Stores, project: string): Promise<string> {
  const record = await db.projects.get(project);
  return record ? profileProjectOf(project, record.config) : project;
}

export async function volumeUsers(db: Stores, ref: VolumeRef): Promise<VolumeUsers> {
  const records = await db.instances.list(ref.project);
  const profileProject = await profileProjectFor(db, ref.project);
  const profiles = await db.profiles.list(profileProject);
  const instances = records
    .map((r) => expandInstance(r, profiles))
    .map((i) => ({ name: i.name, devices: devicesUsing(i.expandedDevices, ref) }))
    .filter((i) => i.devices.length > 0);
  return {
    instances,
    profiles: profiles
      .filter((p) => devicesUsing(p.devices, ref).length > 0)
      .map((p) => ({ project: profileProject, name: p.name })),
  };
}

/** `used_by` as LXD lists it: instance URLs, then profile URLs, sorted. */
export function usedByUrls(ref: VolumeRef, users: VolumeUsers): string[] {
  return [
    ...users.instances.map((i) => apiUrl.instance(ref.project, i.name)).sort(),
    ...users.profiles.map((p) => apiUrl.profile(p.project, p.name)).sort(),
  ];
}

function rewrite(devices: DeviceMap, from: VolumeRef, to: VolumeRef): DeviceMap | null {
  const names = devicesUsing(devices, from);
  if (names.length === 0) return null;
  const out: DeviceMap = { ...devices };
  for (const n of names) out[n] = { ...devices[n], pool: to.pool, source: to.name };
  return out;
}

/**
 * Points the local devices of instances and the devices of profiles that
 * use `from` at `to`, in one transaction. Instances that use it only
 * through a profile follow the profile.
 */
export async function updateVolumeUsers(
  db: Database,
  from: VolumeRef,
  to: VolumeRef,
): Promise<void> {
  await db.transaction(async (tx) => {
    for (const record of await tx.instances.list(from.project)) {
      const devices = rewrite(record.devices, from, to);
      if (!devices) continue;
      const profiles = await tx.profiles.getMany(
        await profileProjectFor(tx, from.project),
        record.profiles,
      );
      const byName = new Map(profiles.map((p) => [p.name, p.id]));
      await tx.instances.update(record.id, {
        description: record.description,
        ephemeral: record.ephemeral,
        config: record.config,
        devices,
        profileIds: record.profiles.flatMap((n) => byName.get(n) ?? []),
      });
    }
    for (const profile of await tx.profiles.list(await profileProjectFor(tx, from.project))) {
      const devices = rewrite(profile.devices, from, to);
      if (!devices) continue;
      await tx.profiles.update(profile.id, {
        description: profile.description,
        config: profile.config,
        devices,
      });
    }
  });
}
