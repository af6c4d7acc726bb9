// Changing an existing instance: its config (PUT and PATCH, applied live to
// a running one), its name, its removal, and a profile change reaching the
// instances that use the profile.
import type { z } from 'zod';
import { EngineError } from '../errors.ts';
import { apiUrl } from '../api-url.ts';
import {
  InstancePatch,
  InstancePut,
  type Instance,
  type InstanceStatus,
  type Operation,
} from '../schemas/index.ts';
import { parseInput } from '../parse-input.ts';
import { validInstanceName } from '../validation/index.ts';
import { Reverter } from '../reverter.ts';
import type { ExpandedInstance } from '../config/expanded-instances.ts';
import { validateExpanded, validateLocal } from '../projects/validate-instance.ts';
import {
  expandedOf,
  expectHostEvent,
  poolOf,
  projectOf,
  resolveProfiles,
  statusOf,
  viewOf,
  type InstanceContext,
} from './instance-context.ts';
import {
  assignHwaddrs,
  checkDiskVolumes,
  checkLimits,
  checkNetworks,
  shapeOf,
} from './instance-checks.ts';
import { deleteUnlocked } from './instance-lifecycle.ts';
import { getInstance } from './instance-queries.ts';
import { deferTemplateApply } from '../templates/template-start.ts';

/** PUT: replaces description, config, devices, profiles, ephemeral. Volatile keys are kept. */
export async function updateInstance(
  ctx: InstanceContext,
  project: string,
  name: string,
  input: InstancePut,
): Promise<Instance> {
  // Parsed before the lock too: bad input fails at once.
  const req = parseInput(InstancePut, input);
  return rewrite(ctx, project, name, () => req);
}

/** PATCH: config and devices merge into the current ones. */
export async function patchInstance(
  ctx: InstanceContext,
  project: string,
  name: string,
  input: InstancePatch,
): Promise<Instance> {
  const req = parseInput(InstancePatch, input);
  return rewrite(ctx, project, name, (record) => ({
    description: req.description ?? record.description,
    config: { ...localConfigOf(record.config), ...req.config },
    devices: { ...record.devices, ...req.devices },
    profiles: req.profiles ?? record.profiles,
    ephemeral: req.ephemeral ?? record.ephemeral,
  }));
}

/** Sets config keys ("" removes one) and leaves the rest of the instance as it is. */
export async function setConfigKeys(
  ctx: InstanceContext,
  project: string,
  name: string,
  keys: Readonly<Record<string, string | undefined>>,
): Promise<Instance> {
  return rewrite(ctx, project, name, (record) => {
    const config = localConfigOf(record.config);
    for (const [key, value] of Object.entries(keys)) {
      if (value === undefined || value === '') delete config[key];
      else config[key] = value;
    }
    const { description, devices, profiles, ephemeral } = record;
    return { description, config, devices, profiles, ephemeral };
  });
}

/** The config a caller edits: without the engine's `volatile.*` keys. */
function localConfigOf(config: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith('volatile.')));
}

/**
 * Reads the instance and writes what `next` makes of it, both under the
 * instance's lock, so no change made meanwhile is lost.
 */
async function rewrite(
  ctx: InstanceContext,
  project: string,
  name: string,
  next: (record: ExpandedInstance['record']) => InstancePut,
): Promise<Instance> {
  return ctx.locks.with(project, name, 'update', async () => {
    const current = await expandedOf(ctx.db, project, name);
    const req = parseInput(InstancePut, next(current.record));
    return replaceLocked(ctx, project, name, current, req);
  });
}

/** Replaces what PUT replaces (the caller holds the lock and read `current` under it). */
async function replaceLocked(
  ctx: InstanceContext,
  project: string,
  name: string,
  current: ExpandedInstance,
  req: z.output<typeof InstancePut>,
): Promise<Instance> {
  validateLocal(current.type, req.config, req.devices);
  await ctx.db.transaction(async (tx) => {
    const projectRecord = await projectOf(tx, project);
    const profileRecords = await resolveProfiles(tx, project, req.profiles);
    const volatile = Object.fromEntries(
      Object.entries(current.record.config).filter(([k]) => k.startsWith('volatile.')),
    );
    const shape = shapeOf(
      name,
      current.type,
      { ...req.config, ...volatile },
      req.devices,
      profileRecords,
    );
    await assignHwaddrs(tx, shape);
    await validateExpanded(shape, projectRecord.config);
    await checkNetworks(ctx, shape);
    await checkDiskVolumes(ctx, project, shape);
    await checkLimits(tx, projectRecord.config, project, {
      name,
      type: current.type,
      expandedConfig: shape.expandedConfig,
    });
    await tx.instances.update(current.record.id, {
      description: req.description,
      ephemeral: req.ephemeral,
      config: shape.localConfig,
      devices: req.devices,
      profileIds: profileRecords.map((p) => p.id),
    });
  });
  try {
    await applyLive(ctx, project, name, current);
  } catch (error) {
    // As LXD: a change the running instance refuses is not kept. The
    // record goes back, then the driver is asked to undo what it applied.
    const attempted = await expandedOf(ctx.db, project, name);
    await ctx.db.transaction(async (tx) => {
      const profiles = await resolveProfiles(tx, project, current.record.profiles);
      await tx.instances.update(current.record.id, {
        description: current.record.description,
        ephemeral: current.record.ephemeral,
        config: current.record.config,
        devices: current.record.devices,
        profileIds: profiles.map((p) => p.id),
      });
    });
    await applyLive(ctx, project, name, attempted).catch(() => {});
    throw error;
  }
  ctx.events.lifecycle(project, 'instance-updated', apiUrl.instance(project, name));
  return getInstance(ctx, project, name);
}

/** What a running instance may not do (a delete without force), in LXD's words. */
const refusedWhileRunning = {
  delete: 'Instance is running',
  rename: 'Renaming of running instance not allowed',
} as const;

function refuseRunning(status: InstanceStatus, action: keyof typeof refusedWhileRunning): void {
  if (status !== 'Stopped') throw new EngineError('CONFLICT', refusedWhileRunning[action]);
}

/** PUT as an operation (LXD answers it with one); the work is updateInstance's. */
export async function startUpdate(
  ctx: InstanceContext,
  project: string,
  name: string,
  input: InstancePut,
): Promise<Operation> {
  const req = parseInput(InstancePut, input);
  await expandedOf(ctx.db, project, name);
  return startTask(ctx, project, name, 'Updating instance', () =>
    updateInstance(ctx, project, name, req),
  );
}

/**
 * A rename as an operation. A running instance is refused at once (CONFLICT,
 * LXD's words), before any operation exists, as LXD refuses it.
 */
export async function startRename(
  ctx: InstanceContext,
  project: string,
  name: string,
  newName: string,
): Promise<Operation> {
  await checkStopped(ctx, project, name, 'rename');
  return startTask(ctx, project, name, 'Renaming instance', () =>
    renameInstance(ctx, project, name, newName),
  );
}

/** A delete as an operation; a running instance without `force` is refused at once, as a rename. */
export async function startDelete(
  ctx: InstanceContext,
  project: string,
  name: string,
  options: { force?: boolean },
): Promise<Operation> {
  if (!options.force) await checkStopped(ctx, project, name, 'delete');
  else await expandedOf(ctx.db, project, name);
  return startTask(ctx, project, name, 'Deleting instance', () =>
    deleteInstance(ctx, project, name, options),
  );
}

async function checkStopped(
  ctx: InstanceContext,
  project: string,
  name: string,
  action: keyof typeof refusedWhileRunning,
): Promise<void> {
  refuseRunning(await statusOf(ctx, await expandedOf(ctx.db, project, name)), action);
}

function startTask(
  ctx: InstanceContext,
  project: string,
  name: string,
  description: string,
  work: () => Promise<unknown>,
): Promise<Operation> {
  const resources = { instances: [apiUrl.instance(project, name)] };
  return ctx.operations.startTask({ project, description, resources }, work);
}

export async function renameInstance(
  ctx: InstanceContext,
  project: string,
  name: string,
  newName: string,
): Promise<Instance> {
  validInstanceName(newName);
  await ctx.locks.with(project, name, 'rename', async () => {
    const current = await expandedOf(ctx.db, project, name);
    refuseRunning(await statusOf(ctx, current), 'rename');
    const view = await viewOf(ctx, current);
    const pool = poolOf(current);
    await Reverter.run(async (revert) => {
      await ctx.db.transaction(async (tx) => {
        if (await tx.instances.get(project, newName)) {
          throw new EngineError('ALREADY_EXISTS', `Instance "${newName}" already exists`, {
            field: 'name',
          });
        }
        await tx.instances.rename(current.record.id, newName);
      });
      revert.add(() => ctx.db.instances.rename(current.record.id, name));
      await ctx.storage.renameInstanceVolume(pool, project, name, current.type, newName);
      revert.add(() =>
        ctx.storage
          .renameInstanceVolume(pool, project, newName, current.type, name)
          .then(() => undefined),
      );
      if (ctx.drivers.has(current.type)) await ctx.drivers.get(current.type).rename(view, newName);
    });
    // As LXD: the image's `rename` templates apply at the next start.
    await deferTemplateApply(ctx.db, current.record.id, 'rename');
  });
  await ctx.backupFiles.moveInstance(project, name, newName);
  ctx.events.lifecycle(project, 'instance-renamed', apiUrl.instance(project, newName), {
    old_name: name,
  });
  return getInstance(ctx, project, newName);
}

/** Deletes a stopped instance; a running one only with `force` (stopped first). */
export async function deleteInstance(
  ctx: InstanceContext,
  project: string,
  name: string,
  options: { force?: boolean },
): Promise<void> {
  await ctx.locks.with(project, name, 'delete', async () => {
    const current = await expandedOf(ctx.db, project, name);
    const status = await statusOf(ctx, current);
    if (status !== 'Stopped') {
      if (!options.force) refuseRunning(status, 'delete');
      expectHostEvent(ctx, project, name, 'stopped');
      await ctx.drivers.get(current.type).stop(await viewOf(ctx, current));
    }
    await deleteUnlocked(ctx, project, name);
  });
}

async function applyLive(
  ctx: InstanceContext,
  project: string,
  name: string,
  previous: ExpandedInstance,
): Promise<void> {
  if (!ctx.drivers.has(previous.type) || (await statusOf(ctx, previous)) === 'Stopped') return;
  const next = await expandedOf(ctx.db, project, name);
  await ctx.drivers.get(previous.type).update(await viewOf(ctx, next), await viewOf(ctx, previous));
}

/** Running instances pick up a profile change (called by the profile service). */
export async function applyProfileChange(
  ctx: InstanceContext,
  users: { project: string; name: string }[],
): Promise<void> {
  for (const user of users) {
    const current = await expandedOf(ctx.db, user.project, user.name);
    if (!ctx.drivers.has(current.type) || (await statusOf(ctx, current)) === 'Stopped') continue;
    await ctx.drivers
      .get(current.type)
      .update(await viewOf(ctx, current), await viewOf(ctx, current));
  }
}
