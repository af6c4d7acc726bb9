// State changes (start, stop, restart, freeze, unfreeze) as operations
// under the instance's lock, the restriction check every start passes, and
// removing a stopped instance (a delete, an ephemeral instance's stop).
import { EngineError, isEngineError } from '../errors.ts';
import { apiUrl } from '../api-url.ts';
import { InstanceStatePut, type Operation } from '../schemas/index.ts';
import { parseInput } from '../parse-input.ts';
import type { DriverInstance, InstanceDriver } from '../drivers/driver.ts';
import { checkEffectiveRestrictions } from '../projects/project-restrictions.ts';
import type { ExpandedInstance } from '../config/expanded-instances.ts';
import { startTemplates } from '../templates/template-start.ts';
import {
  expandedOf,
  expectHostEvent,
  poolOf,
  projectOf,
  viewOf,
  type InstanceContext,
} from './instance-context.ts';

const descriptions = {
  start: 'Starting instance',
  stop: 'Stopping instance',
  restart: 'Restarting instance',
  freeze: 'Freezing instance',
  unfreeze: 'Unfreezing instance',
} as const;

/**
 * start / stop / restart / freeze / unfreeze, as an operation under the
 * instance's lock; `failed` is told the work's own error (the operation
 * keeps only its message).
 */
export async function changeState(
  ctx: InstanceContext,
  project: string,
  name: string,
  input: InstanceStatePut,
  failed: (error: unknown) => void = () => {},
): Promise<Operation> {
  const req = parseInput(InstanceStatePut, input);
  const current = await expandedOf(ctx.db, project, name);
  const driver = ctx.drivers.get(current.type);
  // Refused at once, so every caller gets FORBIDDEN rather than a failed operation.
  if (req.action === 'start' || req.action === 'restart') await startable(ctx, current);
  checkStateful(current, req, driver);
  const timeoutMs = req.timeout < 0 ? Number.MAX_SAFE_INTEGER : req.timeout * 1000;
  return ctx.operations.start({
    project,
    description: descriptions[req.action],
    resources: { instances: [apiUrl.instance(project, name)] },
    run: () =>
      ctx.locks
        .with(project, name, req.action, async () => {
          const instance = await expandedOf(ctx.db, project, name);
          const view = await viewOf(ctx, instance);
          const status = await driver.status(view);
          const url = apiUrl.instance(project, name);
          switch (req.action) {
            case 'start': {
              if (status !== 'Stopped')
                throw new EngineError('CONFLICT', `The instance is already running (${status})`);
              const checked = await startable(ctx, instance);
              // Again under the lock, on the record as it is now.
              checkStateful(instance, req, driver);
              const restoreState = req.stateful ?? instance.record.stateful;
              const templates = await startTemplates(
                ctx,
                checked,
                instance.record.ephemeral,
                driver,
              );
              expectHostEvent(ctx, project, name, 'started');
              // A state that is not loaded is dropped (LXD's stateless start).
              await driver.start(checked, { restoreState });
              if (instance.record.stateful)
                await ctx.db.instances.setStateful(instance.record.id, false);
              templates.afterStart();
              await recordPower(ctx, instance, 'RUNNING');
              ctx.events.lifecycle(project, 'instance-started', url);
              break;
            }
            case 'stop': {
              if (status === 'Stopped')
                throw new EngineError('CONFLICT', 'The instance is already stopped');
              expectHostEvent(ctx, project, name, 'stopped');
              if (req.stateful) {
                checkStateful(instance, req, driver);
                await driver.savedState!.stop(view);
                await ctx.db.instances.setStateful(instance.record.id, true);
              } else if (req.force || req.timeout === 0) await driver.stop(view);
              else await driver.shutdown(view, timeoutMs);
              await recordPower(ctx, instance, 'STOPPED');
              ctx.events.lifecycle(
                project,
                req.force ? 'instance-stopped' : 'instance-shutdown',
                url,
              );
              if (instance.record.ephemeral) await deleteUnlocked(ctx, project, name);
              break;
            }
            case 'restart': {
              if (status === 'Stopped')
                throw new EngineError('CONFLICT', 'The instance is not running');
              // Checked before it stops: a refused restart leaves it running.
              const checked = await startable(ctx, instance);
              expectHostEvent(ctx, project, name, 'stopped');
              if (req.force) await driver.stop(view);
              else await driver.shutdown(view, timeoutMs);
              const templates = await startTemplates(
                ctx,
                checked,
                instance.record.ephemeral,
                driver,
              );
              expectHostEvent(ctx, project, name, 'started');
              await driver.start(checked);
              templates.afterStart();
              await recordPower(ctx, instance, 'RUNNING');
              ctx.events.lifecycle(project, 'instance-restarted', url);
              break;
            }
            case 'freeze':
              if (status !== 'Running')
                throw new EngineError('CONFLICT', `The instance is not running (${status})`);
              await driver.freeze(view);
              await recordPower(ctx, instance, 'FROZEN');
              ctx.events.lifecycle(project, 'instance-paused', url);
              break;
            case 'unfreeze':
              if (status !== 'Frozen')
                throw new EngineError('CONFLICT', `The instance is not frozen (${status})`);
              await driver.unfreeze(view);
              await recordPower(ctx, instance, 'RUNNING');
              ctx.events.lifecycle(project, 'instance-resumed', url);
              break;
          }
        })
        .catch((error: unknown) => {
          failed(error);
          throw error;
        }),
  });
}

/**
 * What a stateful stop or start needs, in LXD's words: a driver that saves
 * state (a VM; containers would need CRIU), `migration.stateful=true`, and
 * for a start asked to restore, a saved state; an ephemeral instance is
 * deleted at its stop, so it keeps no state. A start with `stateful`
 * unset is judged as a restore when a state is saved (it restores one).
 */
function checkStateful(
  instance: ExpandedInstance,
  req: { action: string; stateful?: boolean | undefined },
  driver: InstanceDriver,
): void {
  const asked = req.stateful === true && (req.action === 'stop' || req.action === 'start');
  if (!asked && !(req.action === 'start' && req.stateful === undefined && instance.record.stateful))
    return;
  const verb = req.action === 'stop' ? 'stop' : 'start';
  if (!driver.savedState)
    throw new EngineError(
      'NOT_IMPLEMENTED',
      `stateful: stateful ${verb} of containers (CRIU) is not supported`,
      { field: 'stateful' },
    );
  if (instance.expandedConfig['migration.stateful'] !== 'true')
    throw new EngineError(
      'CONFLICT',
      `Stateful ${verb} requires migration.stateful to be set to true`,
      { field: 'stateful' },
    );
  if (verb === 'stop' && instance.record.ephemeral)
    throw new EngineError('CONFLICT', 'Ephemeral instances cannot be stopped statefully', {
      field: 'stateful',
    });
  if (verb === 'start' && req.stateful === true && !instance.record.stateful)
    throw new EngineError('CONFLICT', 'Instance has no existing state to restore', {
      field: 'stateful',
    });
}

/** Starts or stops and waits; throws the work's own EngineError (a refused start stays FORBIDDEN). */
export async function changeStateAndWait(
  ctx: InstanceContext,
  project: string,
  name: string,
  input: InstanceStatePut,
): Promise<void> {
  let failure: unknown;
  const op = await changeState(ctx, project, name, input, (error) => {
    failure = error;
  });
  const done = await ctx.operations.wait(op.id);
  if (done.status === 'Success') return;
  if (isEngineError(failure) && failure.code === 'FORBIDDEN') throw failure;
  throw new EngineError('CONFLICT', done.err);
}

/**
 * What a start hands the driver: the instance as it is now, refused
 * (FORBIDDEN, naming the field) when its project's restrictions forbid it,
 * which covers an instance made before the project was restricted and
 * host paths whose symlinks changed since they were set. Host-path disks
 * are mounted from the paths resolved here, so what is mounted is what
 * was checked.
 */
async function startable(
  ctx: InstanceContext,
  instance: ExpandedInstance,
): Promise<DriverInstance> {
  const projectRecord = await projectOf(ctx.db, instance.record.project);
  const devices = await checkEffectiveRestrictions(projectRecord.config, {
    what: `instance "${instance.name}"`,
    type: instance.type,
    config: instance.expandedConfig,
    devices: instance.expandedDevices,
  });
  return { ...(await viewOf(ctx, instance)), expandedDevices: devices };
}

async function recordPower(
  ctx: InstanceContext,
  instance: ExpandedInstance,
  power: 'RUNNING' | 'STOPPED' | 'FROZEN',
): Promise<void> {
  await ctx.db.instances.setConfigKeys(instance.record.id, {
    'volatile.last_state.power': power,
  });
  if (power === 'RUNNING') await ctx.db.instances.touch(instance.record.id);
}

/** Removes a stopped instance everywhere: driver files, storage, records (caller holds the lock). */
export async function deleteUnlocked(
  ctx: InstanceContext,
  project: string,
  name: string,
): Promise<void> {
  const current = await expandedOf(ctx.db, project, name);
  const view = await viewOf(ctx, current);
  if (ctx.drivers.has(current.type)) await ctx.drivers.get(current.type).delete(view);
  await ctx.storage
    .deleteInstanceVolume(poolOf(current), project, name, current.type)
    .catch((error: unknown) => {
      // An instance created before its volume existed (or whose volume is gone) still goes.
      if (!isEngineError(error, 'NOT_FOUND')) throw error;
    });
  await ctx.db.instances.delete(current.record.id);
  await ctx.backupFiles.removeAll(project, name);
  ctx.events.lifecycle(project, 'instance-deleted', apiUrl.instance(project, name));
}
