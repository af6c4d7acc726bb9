// Changing an existing instance: its config (PUT and PATCH, applied live to
// a running one), its name, its removal, and a profile change reaching the
// instances that use the profile.
import { EngineError } from '../errors.ts';
import { apiUrl } from '../api-url.ts';
import { InstancePatch, InstancePut, type Instance } from '../schemas/index.ts';
import { parseInput } from '../parse-input.ts';
import { validInstanceName } from '../validation/index.ts';
import { Reverter } from '../reverter.ts';
import type { ExpandedInstance } from './expanded-instances.ts';
import { validateExpanded, validateLocal } from './validate-instance.ts';
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
import { assignHwaddrs, checkLimits, checkNetworks, shapeOf } from './instance-checks.ts';
import { deleteUnlocked } from './instance-lifecycle.ts';
import { getInstance } from './instance-queries.ts';

/** PUT: replaces description, config, devices, profiles, ephemeral. Volatile keys are kept. */
export async function updateInstance(
  ctx: InstanceContext,
  project: string,
  name: string,
  input: InstancePut,
): Promise<Instance> {
  const req = parseInput(InstancePut, input);
  return ctx.locks.with(project, name, 'update', async () => {
    const current = await expandedOf(ctx.db, project, name);
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
  });
}

/** PATCH: config and devices merge into the current ones. */
export async function patchInstance(
  ctx: InstanceContext,
  project: string,
  name: string,
  input: InstancePatch,
): Promise<Instance> {
  const req = parseInput(InstancePatch, input);
  const current = await expandedOf(ctx.db, project, name);
  const localConfig = Object.fromEntries(
    Object.entries(current.record.config).filter(([k]) => !k.startsWith('volatile.')),
  );
  return updateInstance(ctx, project, name, {
    description: req.description ?? current.record.description,
    config: { ...localConfig, ...req.config },
    devices: { ...current.record.devices, ...req.devices },
    profiles: req.profiles ?? current.record.profiles,
    ephemeral: req.ephemeral ?? current.record.ephemeral,
  });
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
    if ((await statusOf(ctx, current)) !== 'Stopped') {
      throw new EngineError('CONFLICT', 'Renaming of running instance not allowed');
    }
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
  });
  await ctx.companions?.renamed(project, name, newName);
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
      if (!options.force)
        throw new EngineError(
          'CONFLICT',
          'Instance is running; stop it first or delete with force',
        );
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
