// A create whose source is another instance (or one of its snapshots): the
// source resolved and its snapshots checked before the record is written,
// then the copy's operation.
import type { z } from 'zod';
import type { InstanceRecord, ProfileRecord, SnapshotRecord } from '@berth/db';
import { EngineError, isEngineError } from '../errors.ts';
import { apiUrl } from '../api-url.ts';
import type { Instance, InstancesPost, InstanceType, Operation } from '../schemas/index.ts';
import { Reverter } from '../reverter.ts';
import { matchVolumeShift } from '../storage/volume-ownership.ts';
import type { ExpandedInstance } from '../config/expanded-instances.ts';
import { validateExpanded } from '../projects/validate-instance.ts';
import { copiedConfig, parseCopySource } from './instance-copy.ts';
import {
  expandedOf,
  poolOf,
  projectOf,
  resolveProfiles,
  viewOf,
  type InstanceContext,
} from './instance-context.ts';
import { shapeOf } from './instance-checks.ts';
import { changeStateAndWait } from './instance-lifecycle.ts';
import { getInstance } from './instance-queries.ts';

type CopyRequest = Extract<z.output<typeof InstancesPost>['source'], { type: 'copy' }>;

/** What a copy is made from, resolved before its record is written. */
export interface CopySource {
  project: string;
  instance: ExpandedInstance;
  /** Copying from this snapshot of `instance` (its content, config and devices). */
  snapshot: SnapshotRecord | undefined;
  instanceOnly: boolean;
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
}

/** The instance (or snapshot) a copy is made from, checked before anything is written. */
export async function copySource(
  ctx: InstanceContext,
  project: string,
  source: CopyRequest,
  requestedType: string | undefined,
): Promise<CopySource> {
  if (source.refresh) {
    throw new EngineError(
      'NOT_IMPLEMENTED',
      'source.refresh: refreshing an existing copy is not supported',
      { field: 'source.refresh' },
    );
  }
  const { instance: name, snapshot } = parseCopySource(source.source);
  const sourceProject = source.project || project;
  if (!(await ctx.db.projects.get(sourceProject))) {
    throw new EngineError('NOT_FOUND', `source.project: project "${sourceProject}" not found`, {
      field: 'source.project',
    });
  }
  const instance = await expandedOf(ctx.db, sourceProject, name).catch((error: unknown) => {
    throw isEngineError(error, 'NOT_FOUND')
      ? new EngineError('NOT_FOUND', `source.source: instance "${name}" not found`, {
          field: 'source.source',
        })
      : error;
  });
  if (requestedType !== undefined && requestedType !== instance.type) {
    throw EngineError.invalid(
      'type',
      `a copy of "${name}" is a ${instance.type} like its source, not a ${requestedType}`,
    );
  }
  const record =
    snapshot === undefined
      ? undefined
      : ((await ctx.db.snapshots.get(instance.record.id, snapshot)) ?? undefined);
  if (snapshot !== undefined && !record) {
    throw new EngineError(
      'NOT_FOUND',
      `source.source: snapshot "${snapshot}" of instance "${name}" not found`,
      { field: 'source.source' },
    );
  }
  return {
    project: sourceProject,
    instance,
    snapshot: record,
    instanceOnly: source.instance_only || source.container_only === true,
    config: record?.config ?? instance.record.config,
    devices: record?.devices ?? instance.record.devices,
  };
}

/** The snapshots a copy takes along (none for a copy of a snapshot, or with instance_only). */
export async function copiedSnapshots(
  ctx: InstanceContext,
  copy: CopySource,
): Promise<SnapshotRecord[]> {
  return copy.snapshot || copy.instanceOnly ? [] : ctx.db.snapshots.list(copy.instance.record.id);
}

/**
 * A copy's snapshots can be restored later, so each must be allowed in
 * the target project as it would be expanded there (restore keeps the
 * instance's profiles and volatile keys, takes the snapshot's config and
 * devices).
 */
export async function checkCopiedSnapshots(
  name: string,
  type: InstanceType,
  snapshots: readonly SnapshotRecord[],
  profiles: ProfileRecord[],
  projectConfig: Record<string, string>,
): Promise<void> {
  for (const snapshot of snapshots) {
    await validateExpanded(
      shapeOf(name, type, copiedConfig(snapshot.config, {}), snapshot.devices, profiles),
      projectConfig,
      `snapshot "${name}/${snapshot.name}" (copied from "${snapshot.instance}/${snapshot.name}")`,
    );
  }
}

/**
 * A copy's operation: the source's volume folder (or its snapshot's) is
 * copied whole, id shift record included, then the source's snapshots,
 * then the driver's create (which re-shifts the rootfs when the copy's id
 * map differs, e.g. another `security.privileged`); under both instances'
 * locks. A running source holds still while its volume is copied (a VM
 * paused with its storage quiesced, a container frozen, as the backup
 * export does), so the copy is consistent. A failure removes the record,
 * the volume and the snapshots made.
 */
export async function startCopy(
  ctx: InstanceContext,
  project: string,
  created: InstanceRecord,
  copy: CopySource,
  start: boolean,
  failed: (error: unknown) => void,
): Promise<{ instance: Instance; operation: Operation }> {
  const name = created.name;
  const url = apiUrl.instance(project, name);
  const sourceName = copy.instance.name;
  const instance = await getInstance(ctx, project, name);
  ctx.events.lifecycle(project, 'instance-created', url);
  const operation = await ctx.operations.start({
    project,
    description: 'Creating instance',
    resources: { instances: [url, apiUrl.instance(copy.project, sourceName)] },
    run: (op) =>
      ctx.locks
        .with(project, name, 'create', () =>
          Reverter.run((revert) => {
            revert.add(async () => {
              await ctx.db.instances.delete(created.id);
              ctx.events.lifecycle(project, 'instance-deleted', url);
            });
            return ctx.locks.with(copy.project, sourceName, 'copy', async () => {
              const target = await expandedOf(ctx.db, project, name);
              const source = await expandedOf(ctx.db, copy.project, sourceName);
              const pool = poolOf(target);
              const sourcePool = poolOf(source);
              const driver = ctx.drivers.has(target.type)
                ? ctx.drivers.get(target.type)
                : undefined;
              const sourceView = await viewOf(ctx, source);
              await op.progress(10, 'Copying root filesystem');
              const copyVolume = async (from: string) => {
                await ctx.storage.createInstanceVolume(pool, project, name, target.type, {
                  fromVolume: from,
                  signal: op.signal,
                });
                revert.add(() =>
                  ctx.storage.deleteInstanceVolume(pool, project, name, target.type),
                );
              };
              if (copy.snapshot) {
                const snap = await ctx.storage.snapshotPaths(
                  sourcePool,
                  copy.project,
                  sourceName,
                  source.type,
                  copy.snapshot.name,
                );
                await copyVolume(snap.dir);
              } else if (!driver) await copyVolume(sourceView.paths.dir);
              else {
                // Quiesced (a running VM is paused: its disk is whole only then), and a
                // container still running is frozen too, so the copy is one point in time.
                await driver.withQuiescedStorage(sourceView, async () => {
                  const running = (await driver.status(sourceView)) === 'Running';
                  if (running) await driver.freeze(sourceView);
                  try {
                    await copyVolume(sourceView.paths.dir);
                  } finally {
                    if (running) await driver.unfreeze(sourceView);
                  }
                });
              }

              const snapshots = await copiedSnapshots(ctx, copy);
              // Again under the locks: a snapshot taken since the request is checked too.
              await checkCopiedSnapshots(
                name,
                target.type,
                snapshots,
                await resolveProfiles(ctx.db, project, target.record.profiles),
                (await projectOf(ctx.db, project)).config,
              );
              const copiedDirs: string[] = [];
              for (const [i, snapshot] of snapshots.entries()) {
                op.signal.throwIfAborted();
                await op.progress(
                  30 + (50 * i) / snapshots.length,
                  `Copying snapshot ${snapshot.name}`,
                );
                const from = await ctx.storage.snapshotPaths(
                  sourcePool,
                  copy.project,
                  sourceName,
                  source.type,
                  snapshot.name,
                );
                const made = await ctx.storage.snapshotInstanceVolume(
                  pool,
                  project,
                  name,
                  target.type,
                  snapshot.name,
                  { from: from.dir, signal: op.signal },
                );
                copiedDirs.push(made.dir);
                await ctx.db.snapshots.create(created.id, {
                  name: snapshot.name,
                  description: snapshot.description,
                  createdAt: snapshot.createdAt,
                  expiresAt: snapshot.expiresAt,
                  // The source's MACs and uuid are not the copy's (restore keeps today's volatile keys).
                  config: copiedConfig(snapshot.config, {}),
                  devices: snapshot.devices,
                });
              }

              if (driver) {
                await op.progress(85, 'Preparing instance');
                const view = await viewOf(ctx, target);
                await driver.create(view, {});
                revert.add(() => driver.delete(view));
                if (target.type === 'container') {
                  for (const dir of copiedDirs) await matchVolumeShift(dir, view.paths.dir);
                }
              }
            });
          }),
        )
        .then(async () => {
          if (start) await changeStateAndWait(ctx, project, name, { action: 'start' });
        })
        .catch((error: unknown) => {
          failed(error);
          throw error;
        }),
  });
  return { instance, operation };
}
