// What the host tells the engine about instances: changes made outside an
// engine call, and at start what really runs (instances outlive the engine).
import type { StorageVolumeRecord } from '@berth/db';
import { apiUrl } from '../api-url.ts';
import type { InstanceHostEvent } from '../drivers/driver.ts';
import { expandInstance, type ExpandedInstance } from '../config/expanded-instances.ts';
import { poolOf, profilesFor, viewOf, type InstanceContext } from './instance-context.ts';
import { WarningType } from '../warnings/warnings.ts';
import { CREATING_POWER } from './instance-create.ts';
import { changeStateAndWait, deleteUnlocked } from './instance-lifecycle.ts';

/**
 * Something happened to an instance outside an engine call: a `poweroff`
 * inside the container, or a reboot. Engine-made changes were announced by
 * the action itself and are skipped here.
 */
export async function handleHostEvent(
  ctx: InstanceContext,
  event: InstanceHostEvent,
): Promise<void> {
  const key = `${event.project}/${event.name}`;
  const expected = ctx.expected.get(key);
  if (expected && expected.type === event.type && expected.until > Date.now()) {
    ctx.expected.delete(key);
    return;
  }
  if (event.type === 'stopping') return;
  const record = await ctx.db.instances.get(event.project, event.name);
  if (!record) return;
  const url = apiUrl.instance(event.project, event.name);
  if (event.type === 'started') {
    await ctx.db.instances.setConfigKeys(record.id, { 'volatile.last_state.power': 'RUNNING' });
    ctx.events.lifecycle(event.project, 'instance-started', url);
    return;
  }
  if (event.target === 'reboot') {
    ctx.events.lifecycle(event.project, 'instance-restarted', url);
    return;
  }
  await ctx.db.instances.setConfigKeys(record.id, { 'volatile.last_state.power': 'STOPPED' });
  ctx.events.lifecycle(event.project, 'instance-stopped', url);
  if (record.ephemeral && !ctx.locks.held(event.project, event.name)) {
    await ctx.locks
      .with(event.project, event.name, 'delete', () =>
        deleteUnlocked(ctx, event.project, event.name),
      )
      .catch(() => {});
  }
}

/**
 * At engine start: the database learns what really runs (instances outlive
 * the engine), and instances that should run come up, as LXD does for
 * `boot.autostart` (or, when unset, for those running at the last stop).
 */
export async function reconcile(ctx: InstanceContext): Promise<void> {
  const records = await ctx.db.instances.list();
  const profiles = await profilesFor(ctx.db, records);
  const toStart: ExpandedInstance[] = [];
  // Each pool's volumes read once, not once per instance.
  const pools = new Map<string, Promise<StorageVolumeRecord[]>>();
  const poolVolumes = (pool: string) => {
    if (!pools.has(pool)) pools.set(pool, ctx.db.storage.listVolumes(pool));
    return pools.get(pool) as Promise<StorageVolumeRecord[]>;
  };
  for (const record of records) {
    const instance = expandInstance(record, profiles(record.project));
    if (record.config['volatile.last_state.power'] === CREATING_POWER) {
      // Its create operation died with the engine that ran it (kill -9, power loss):
      // what it made goes, as its reverter would have undone it.
      await deleteUnlocked(ctx, record.project, record.name);
      ctx.events.logging(
        record.project,
        'warning',
        `Removed instance "${record.name}", whose creation was interrupted`,
      );
      continue;
    }
    await removeUnrecordedSnapshots(ctx, instance, poolVolumes);
    if (!ctx.drivers.has(instance.type)) continue;
    const driver = ctx.drivers.get(instance.type);
    const view = await viewOf(ctx, instance);
    let status = await driver.status(view);
    if (status === 'Frozen' && record.config['volatile.last_state.power'] === 'RUNNING') {
      // Frozen yet recorded running: a freeze asked for records FROZEN, so this is a copy or
      // backup of the engine that died freezing (a VM: pausing) it for its copy. Thaw it.
      await driver.unfreeze(view);
      status = 'Running';
      ctx.events.logging(
        record.project,
        'warning',
        `Unfroze instance "${record.name}", frozen for a copy that was interrupted`,
      );
    }
    const power = status === 'Stopped' ? 'STOPPED' : status === 'Frozen' ? 'FROZEN' : 'RUNNING';
    const autostart = instance.expandedConfig['boot.autostart'];
    const wanted =
      autostart === 'true' ||
      (autostart === undefined && record.config['volatile.last_state.power'] === 'RUNNING');
    if (status === 'Stopped' && wanted) toStart.push(instance);
    else if (record.config['volatile.last_state.power'] !== power) {
      await ctx.db.instances.setConfigKeys(record.id, { 'volatile.last_state.power': power });
    }
  }
  toStart.sort(
    (a, b) =>
      Number(b.expandedConfig['boot.autostart.priority'] ?? 0) -
      Number(a.expandedConfig['boot.autostart.priority'] ?? 0),
  );
  for (const instance of toStart) {
    const project = instance.record.project;
    const entityUrl = apiUrl.instance(project, instance.name);
    await changeStateAndWait(ctx, project, instance.name, { action: 'start' }).then(
      () => ctx.warnings.resolve(WarningType.instanceAutostartFailure, { project, entityUrl }),
      async (error: unknown) => {
        const message = `Failed to start instance "${instance.name}" at boot: ${error instanceof Error ? error.message : String(error)}`;
        ctx.events.logging(project, 'error', message);
        // Kept for the operator (`lxc warning list`), as LXD does.
        await ctx.warnings.raise({
          type: WarningType.instanceAutostartFailure,
          severity: 'low',
          project,
          entityUrl,
          message,
        });
      },
    );
  }
}

/**
 * A snapshot's volume is made before its row (snapshots.ts): an engine killed
 * between the two leaves a volume no snapshot owns, which nothing would ever
 * list or delete. It goes, as the snapshot's reverter would have removed it.
 */
async function removeUnrecordedSnapshots(
  ctx: InstanceContext,
  instance: ExpandedInstance,
  poolVolumes: (pool: string) => Promise<StorageVolumeRecord[]>,
): Promise<void> {
  const { record } = instance;
  const pool = poolOf(instance);
  const prefix = `${record.name}/`;
  const volumes = (await poolVolumes(pool)).filter(
    (v) => v.project === record.project && v.type === record.type && v.name.startsWith(prefix),
  );
  if (volumes.length === 0) return;
  const recorded = new Set((await ctx.db.snapshots.list(record.id)).map((s) => s.name));
  for (const volume of volumes) {
    const snapshot = volume.name.slice(prefix.length);
    if (recorded.has(snapshot)) continue;
    await ctx.storage.deleteSnapshotVolume(
      pool,
      record.project,
      record.name,
      record.type,
      snapshot,
    );
    ctx.events.logging(
      record.project,
      'warning',
      `Removed snapshot volume "${volume.name}", whose snapshot was interrupted`,
    );
  }
}
