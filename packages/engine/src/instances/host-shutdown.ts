// The host is going down (LXD's instancesShutdown, on SIGPWR or
// `lxd shutdown`): every running instance is shut down cleanly within its
// `boot.host_shutdown_timeout` (forced after), highest `boot.stop.priority`
// batch first, and is then recorded as RUNNING again, so the next engine
// start brings back exactly what ran (reconcile: `boot.autostart` unset
// means "as it was", `false` means never). An ordinary engine close leaves
// instances running and never comes here.
import { expandInstance, type ExpandedInstance } from '../config/expanded-instances.ts';
import { CREATING_POWER } from './instance-create.ts';
import { profilesFor, viewOf, type InstanceContext } from './instance-context.ts';
import { changeStateAndWait } from './instance-lifecycle.ts';

const DEFAULT_TIMEOUT_S = 30;

export async function shutdownForHost(ctx: InstanceContext): Promise<string[]> {
  const records = await ctx.db.instances.list();
  const profiles = await profilesFor(ctx.db, records);
  const running: ExpandedInstance[] = [];
  for (const record of records) {
    if (record.config['volatile.last_state.power'] === CREATING_POWER) continue;
    const instance = expandInstance(record, profiles(record.project));
    if (!ctx.drivers.has(instance.type)) continue;
    const status = await ctx.drivers.get(instance.type).status(await viewOf(ctx, instance));
    if (status !== 'Stopped') running.push(instance);
  }
  const priority = (i: ExpandedInstance) =>
    Number.parseInt(i.expandedConfig['boot.stop.priority'] ?? '0', 10) || 0;
  const batches = [...new Set(running.map(priority))].sort((a, b) => b - a);
  const stopped: string[] = [];
  for (const batch of batches) {
    await Promise.all(
      running
        .filter((i) => priority(i) === batch)
        .map(async (instance) => {
          if (await stopOne(ctx, instance))
            stopped.push(`${instance.record.project}/${instance.name}`);
        }),
    );
  }
  return stopped;
}

async function stopOne(ctx: InstanceContext, instance: ExpandedInstance): Promise<boolean> {
  const { project } = instance.record;
  const { name } = instance;
  const configured = Number.parseInt(
    instance.expandedConfig['boot.host_shutdown_timeout'] ?? '',
    10,
  );
  const timeout = Number.isNaN(configured) ? DEFAULT_TIMEOUT_S : configured;
  try {
    await changeStateAndWait(ctx, project, name, { action: 'stop', timeout });
  } catch (error) {
    ctx.events.logging(
      project,
      'warning',
      `Failed shutting down instance "${name}", forcefully stopping: ${String(error)}`,
    );
    try {
      await changeStateAndWait(ctx, project, name, { action: 'stop', force: true });
    } catch (forced) {
      ctx.events.logging(project, 'error', `Failed stopping instance "${name}": ${String(forced)}`);
      return false;
    }
  }
  // The stop recorded STOPPED; the instance ran when the host went down, so it runs again
  // at the next start (an ephemeral one was deleted by its stop and has no row left).
  const record = await ctx.db.instances.get(project, name);
  if (record)
    await ctx.db.instances.setConfigKeys(record.id, { 'volatile.last_state.power': 'RUNNING' });
  return true;
}
