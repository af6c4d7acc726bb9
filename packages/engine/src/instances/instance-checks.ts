// What an instance would be after a create, copy or update, and the checks
// it must pass before it is written: project limits, managed networks,
// generated MACs, and the whole expanded validation for configs that come
// back later (a snapshot restored, a backup's snapshot imported).
import type { ProfileRecord, Stores } from '@berth/db';
import { EngineError, isEngineError } from '../errors.ts';
import type { InstanceType } from '../schemas/index.ts';
import { nextInterfaceHwaddr } from '../validation/index.ts';
import { checkProjectLimits, type InstanceUsage } from '../projects/project-limits.ts';
import { expandInstance } from '../config/expanded-instances.ts';
import { validateExpanded, type InstanceShape } from '../projects/validate-instance.ts';
import { projectSetting } from '../projects/project-config.ts';
import {
  expandedListOf,
  projectOf,
  resolveProfiles,
  type InstanceContext,
} from './instance-context.ts';

/** An instance as it would be with this config, devices and profiles (not yet written). */
export function shapeOf(
  name: string,
  type: InstanceType,
  config: Record<string, string>,
  devices: Record<string, Record<string, string>>,
  profiles: ProfileRecord[],
): InstanceShape {
  const expanded = expandInstance(
    {
      id: 0,
      project: '',
      name,
      type,
      architecture: '',
      ephemeral: false,
      stateful: false,
      description: '',
      createdAt: new Date(),
      lastUsedAt: null,
      expiresAt: null,
      node: 'none',
      config,
      devices,
      profiles: profiles.map((p) => p.name),
    },
    profiles,
  );
  return {
    name,
    type,
    localConfig: { ...config },
    localDevices: devices,
    expandedConfig: expanded.expandedConfig,
    expandedDevices: expanded.expandedDevices,
  };
}

/** An instance as it would be: its local config and devices, and its profiles. */
export interface WouldBe {
  name: string;
  type: InstanceType;
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
  profiles: string[];
}

/**
 * A config `name` would take on in `project` (a snapshot to restore, a
 * backup's snapshot to import): expanded with those profiles of the
 * project, validated whole, and allowed by the project's restrictions.
 * Throws the first problem, naming `what`.
 */
export async function checkWouldBe(
  ctx: InstanceContext,
  project: string,
  would: WouldBe,
  what: string,
): Promise<void> {
  const projectRecord = await projectOf(ctx.db, project);
  const profiles = await resolveProfiles(ctx.db, project, would.profiles);
  await validateExpanded(
    shapeOf(would.name, would.type, would.config, would.devices, profiles),
    projectRecord.config,
    what,
  );
}

/**
 * The project's limits with `instance` as it would be. Expanding every
 * instance of the project costs a query per instance's profiles, so it is
 * only done when the project has a limit at all.
 */
export async function checkLimits(
  tx: Stores,
  projectConfig: Record<string, string>,
  project: string,
  instance: InstanceUsage,
): Promise<void> {
  if (!Object.keys(projectConfig).some((key) => key.startsWith('limits.'))) return;
  const others = (await expandedListOf(tx, project)).filter((i) => i.name !== instance.name);
  checkProjectLimits(projectConfig, [...others, instance]);
}

/** A nic on a managed network needs that network to exist (LXD refuses it too). */
export async function checkNetworks(ctx: InstanceContext, shape: InstanceShape): Promise<void> {
  for (const [dev, device] of Object.entries(shape.expandedDevices)) {
    if (device.type !== 'nic' || device.network === undefined) continue;
    await ctx.networks.get(device.network).catch((error: unknown) => {
      if (!isEngineError(error, 'NOT_FOUND')) throw error;
      throw new EngineError(
        'NOT_FOUND',
        `devices["${dev}"]["network"]: network "${device.network}" not found`,
        { field: `devices["${dev}"]["network"]` },
      );
    });
  }
}

/**
 * Every nic gets a stable MAC in `volatile.<dev>.hwaddr` (unless the device
 * sets one), unique among all instances on this database.
 */
export async function assignHwaddrs(tx: Stores, shape: InstanceShape): Promise<void> {
  const nics = Object.entries(shape.expandedDevices).filter(
    ([, d]) => d.type === 'nic' && !d.hwaddr,
  );
  const missing = nics.filter(([dev]) => !shape.localConfig[`volatile.${dev}.hwaddr`]);
  if (missing.length === 0) return;
  const taken = new Set(
    await tx.instances.configValues({ startsWith: 'volatile.', endsWith: '.hwaddr' }),
  );
  for (const [dev] of missing) {
    const hwaddr = nextInterfaceHwaddr(taken);
    taken.add(hwaddr);
    shape.localConfig[`volatile.${dev}.hwaddr`] = hwaddr;
    shape.expandedConfig[`volatile.${dev}.hwaddr`] = hwaddr;
  }
}

/**
 * A `disk` naming a custom volume (`pool` + `source`) needs the pool and the
 * volume to exist in the instance's project, with LXD's messages (its disk
 * device's validateConfig); a block volume cannot go on a container.
 */
export async function checkDiskVolumes(
  ctx: InstanceContext,
  project: string,
  shape: InstanceShape,
): Promise<void> {
  // LXD's StorageVolumeProject: a project without features.storage.volumes uses default's.
  const record = await ctx.db.projects.get(project);
  const volumeProject =
    record && projectSetting(record.config, 'features.storage.volumes') === 'true'
      ? project
      : 'default';
  for (const [dev, device] of Object.entries(shape.expandedDevices)) {
    const source = device.source ?? '';
    if (device.type !== 'disk' || !device.pool || device.path === '/') continue;
    if (source === '' || source.startsWith('/')) continue;
    const invalid = (key: string, reason: string) =>
      new EngineError(
        'INVALID_ARGUMENT',
        `Invalid devices: Device validation failed for "${dev}": ${reason}`,
        { field: `devices["${dev}"]["${key}"]` },
      );
    if (!(await ctx.db.storage.getPool(device.pool)))
      throw invalid('pool', `Failed to get storage pool "${device.pool}": Storage pool not found`);
    const volume = await ctx.db.storage.getVolume(device.pool, volumeProject, 'custom', source);
    if (!volume) throw invalid('source', 'Failed loading custom volume: Storage volume not found');
    if (volume.contentType === 'block' && shape.type === 'container')
      throw invalid('source', 'Custom block volumes cannot be used on containers');
  }
}
