// What every part of the instance service shares (create, lifecycle, exec,
// queries, host events): the services it works over and the little state
// kept per engine, plus the readers all parts use (project, expanded
// instance, profiles, the driver's view, the live status).
import type { Database, InstanceRecord, ProfileRecord, Stores } from '@berth/db';
import { EngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { InstanceStatus } from '../schemas/index.ts';
import { profileProjectOf } from '../projects/projects.ts';
import type { DriverRegistry } from '../drivers/registry.ts';
import type { DriverInstance, InstanceHostEvent } from '../drivers/driver.ts';
import type { OperationService } from '../operations/operations.ts';
import type { StoragePoolService } from '../storage/storage-pools.ts';
import type { ImageService } from '../images/images.ts';
import type { WarningService } from '../warnings/warnings.ts';
import type { BackupFiles } from '../backups/backup-files.ts';
import { rootDiskOf } from '../config/devices.ts';
import { expandInstance, type ExpandedInstance } from '../config/expanded-instances.ts';
import type { InstanceLocks } from './instance-lock.ts';

export interface InstanceContext {
  readonly db: Database;
  readonly events: EventBus;
  readonly operations: OperationService;
  readonly drivers: DriverRegistry;
  readonly storage: StoragePoolService;
  readonly images: ImageService;
  readonly networks: { get(name: string): Promise<unknown> };
  readonly locks: InstanceLocks;
  /** The backup directory: listed in the full view, moved and removed with the instance. */
  readonly backupFiles: BackupFiles;
  readonly warnings: WarningService;
  /**
   * Host events the engine caused itself (a start, a stop) and already
   * announced, by `project/name`: the host's report of them is skipped.
   */
  readonly expected: Map<string, { type: InstanceHostEvent['type']; until: number }>;
  /** Root volume usage by `project/name`, reused for a few seconds; snapshots' by `snapshot/<id>/<created>`, kept (they never change). */
  readonly usage: Map<string, { bytes: number; at: number }>;
}

/** The pool of an instance's root disk (validated expanded devices always have one). */
export function poolOf(instance: {
  expandedDevices: Record<string, Record<string, string>>;
}): string {
  return rootDiskOf(instance.expandedDevices)?.[1].pool ?? 'default';
}

export async function projectOf(tx: Stores, project: string) {
  const record = await tx.projects.get(project);
  if (!record) throw EngineError.notFound('Project', { field: 'project' });
  return record;
}

export async function expandedOf(
  tx: Stores,
  project: string,
  name: string,
): Promise<ExpandedInstance> {
  const projectRecord = await projectOf(tx, project);
  const record = await tx.instances.get(project, name);
  if (!record) throw EngineError.notFound('Instance', { field: 'name' });
  const profiles = await tx.profiles.getMany(
    profileProjectOf(project, projectRecord.config),
    record.profiles,
  );
  return expandInstance(record, profiles);
}

/** Profiles per project of `records`, loaded once per project. */
export async function profilesFor(
  tx: Stores,
  records: InstanceRecord[],
): Promise<(project: string) => ProfileRecord[]> {
  const byProject = new Map<string, ProfileRecord[]>();
  for (const project of new Set(records.map((r) => r.project))) {
    const record = await projectOf(tx, project);
    byProject.set(project, await tx.profiles.list(profileProjectOf(project, record.config)));
  }
  return (project) => byProject.get(project) ?? [];
}

/** Instances of a project (or of all projects) with their profiles applied. */
export async function expandedListOf(
  tx: Stores,
  project: string | undefined,
): Promise<ExpandedInstance[]> {
  const records = await tx.instances.list(project);
  const profiles = await profilesFor(tx, records);
  return records.map((r) => expandInstance(r, profiles(r.project)));
}

/** The named profiles of a project, in order; each must exist and appear once. */
export async function resolveProfiles(
  tx: Stores,
  project: string,
  names: string[],
): Promise<ProfileRecord[]> {
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (seen.has(n)) throw EngineError.invalid(`profiles[${i}]`, `profile "${n}" is listed twice`);
    seen.add(n);
  });
  const projectRecord = await projectOf(tx, project);
  const records = await tx.profiles.getMany(profileProjectOf(project, projectRecord.config), names);
  names.forEach((n, i) => {
    if (!records.some((r) => r.name === n)) {
      throw new EngineError('NOT_FOUND', `profiles[${i}]: Profile "${n}" not found`, {
        field: `profiles[${i}]`,
      });
    }
  });
  return records;
}

/** The instance as its driver sees it. */
export async function viewOf(
  ctx: InstanceContext,
  instance: ExpandedInstance,
): Promise<DriverInstance> {
  return {
    id: instance.record.id,
    project: instance.record.project,
    name: instance.name,
    type: instance.type,
    architecture: instance.record.architecture,
    expandedConfig: instance.expandedConfig,
    expandedDevices: instance.expandedDevices,
    localConfig: instance.record.config,
    paths: await ctx.storage.instancePaths(
      poolOf(instance),
      instance.record.project,
      instance.name,
      instance.type,
    ),
  };
}

/** The live status; an instance whose driver is unavailable here is stopped. */
export async function statusOf(
  ctx: InstanceContext,
  instance: ExpandedInstance,
): Promise<InstanceStatus> {
  if (!ctx.drivers.has(instance.type)) return 'Stopped';
  return ctx.drivers.get(instance.type).status(await viewOf(ctx, instance));
}

/** The engine announced this host event itself: its report is skipped for a while. */
export function expectHostEvent(
  ctx: InstanceContext,
  project: string,
  name: string,
  type: InstanceHostEvent['type'],
): void {
  ctx.expected.set(`${project}/${name}`, { type, until: Date.now() + 10_000 });
}
