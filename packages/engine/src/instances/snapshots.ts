// Instance snapshots: a record of the instance's config and devices at the
// time, and a copy of its storage volume. Restore brings both back (a running
// instance is stopped, restored and started again, as LXD does).
import type { Database, SnapshotRecord } from '@berth/db';
import { EngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { OperationService } from '../operations/operations.ts';
import type { StoragePoolService } from '../storage/storage-pools.ts';
import { apiUrl } from '../api-url.ts';
import {
  SnapshotSchedulePut,
  SnapshotsPost,
  type Instance,
  type InstanceSnapshot,
  type Operation,
} from '../schemas/index.ts';
import { parseInput } from '../parse-input.ts';
import { validSnapshotName } from '../validation/index.ts';
import { expiryDate } from '../config/snapshot-expiry.ts';
import { parseSchedule, tryParseSchedule } from '../config/snapshot-schedule.ts';
import { scheduleFires } from './snapshot-schedule-match.ts';
import { toInstanceSnapshot } from './snapshot-api.ts';
import { profileProjectOf } from '../projects/projects.ts';
import type { InstanceService } from './instances.ts';
import type { ExpandedInstance } from '../config/expanded-instances.ts';
import type { DriverInstance } from '../drivers/driver.ts';
import { Reverter } from '../reverter.ts';

/** `snapshots.pattern` (default `snap%d`): `%d` is the next free number. */
export function nextSnapshotName(
  pattern: string,
  existing: readonly string[],
  now = new Date(),
): string {
  const rendered = pattern.replace(
    /\{\{\s*creation_date\s*\}\}/g,
    now.toISOString().replace(/[:.]/g, '-'),
  );
  if (!rendered.includes('%d')) {
    if (!existing.includes(rendered)) return rendered;
    return nextSnapshotName(`${rendered}-%d`, existing, now);
  }
  const [before, after] = [
    rendered.slice(0, rendered.indexOf('%d')),
    rendered.slice(rendered.indexOf('%d') + 2),
  ];
  let highest = -1;
  for (const name of existing) {
    if (!name.startsWith(before) || !name.endsWith(after)) continue;
    const middle = name.slice(before.length, name.length - after.length);
    if (/^\d+$/.test(middle)) highest = Math.max(highest, Number(middle));
  }
  return `${before}${highest + 1}${after}`;
}

/** Volatile keys describe the instance as it runs, not the snapshot: a restore keeps today's. */
function restoredConfig(
  current: Record<string, string>,
  snapshot: Record<string, string>,
): Record<string, string> {
  const volatile = Object.entries(current).filter(([k]) => k.startsWith('volatile.'));
  const kept = Object.entries(snapshot).filter(([k]) => !k.startsWith('volatile.'));
  return Object.fromEntries([...kept, ...volatile]);
}

export class SnapshotService {
  constructor(
    private readonly db: Database,
    private readonly events: EventBus,
    private readonly operations: OperationService,
    private readonly storage: StoragePoolService,
    private readonly instances: InstanceService,
  ) {}

  async list(project: string, instance: string): Promise<InstanceSnapshot[]> {
    const { instance: inst, pool } = await this.instances.resolve(project, instance);
    const records = await this.db.snapshots.list(inst.record.id);
    return Promise.all(
      records.map((r) =>
        this.#toApi(r, inst.record.architecture, inst.record.profiles, pool, inst.type),
      ),
    );
  }

  async get(project: string, instance: string, name: string): Promise<InstanceSnapshot> {
    const { instance: inst, pool } = await this.instances.resolve(project, instance);
    return this.#toApi(
      await this.#record(inst.record.id, name),
      inst.record.architecture,
      inst.record.profiles,
      pool,
      inst.type,
    );
  }

  /** Takes a snapshot as an operation: the record and a copy of the volume, or neither. */
  async create(project: string, instance: string, input: SnapshotsPost = {}): Promise<Operation> {
    const req = parseInput(SnapshotsPost, input);
    const { instance: inst, view, pool } = await this.instances.resolve(project, instance);
    if (req.stateful) await this.#checkStatefulSnapshot(inst, view);
    const existing = (await this.db.snapshots.list(inst.record.id)).map((s) => s.name);
    const name =
      req.name || nextSnapshotName(inst.expandedConfig['snapshots.pattern'] || 'snap%d', existing);
    validSnapshotName(name);
    if (existing.includes(name))
      throw new EngineError('ALREADY_EXISTS', `Snapshot "${name}" already exists`, {
        field: 'name',
      });
    const now = new Date();
    let expiresAt: Date | null = null;
    if (req.expires_at) {
      expiresAt = new Date(req.expires_at);
      if (Number.isNaN(expiresAt.getTime()))
        throw EngineError.invalid('expires_at', `"${req.expires_at}" is not an RFC 3339 date`);
    } else if (inst.expandedConfig['snapshots.expiry']) {
      expiresAt = expiryDate(now, inst.expandedConfig['snapshots.expiry']);
    }
    const url = apiUrl.snapshot(project, instance, name);
    return this.operations.start({
      project,
      description: 'Snapshotting instance',
      resources: { instances: [apiUrl.instance(project, instance)], instances_snapshots: [url] },
      run: () =>
        this.instances.locks.with(project, instance, 'snapshot', async () => {
          await Reverter.run(async (revert) => {
            const copy = async () => {
              await this.storage.snapshotInstanceVolume(pool, project, instance, inst.type, name);
              revert.add(() =>
                this.storage.deleteSnapshotVolume(pool, project, instance, inst.type, name),
              );
            };
            // A running VM is paused for the copy (its disk is whole only then), and with
            // `stateful` its memory saved into the volume first; a container is copied as it runs.
            if (req.stateful)
              await this.instances.driverFor(inst.type).savedState!.withSaved(view, copy);
            else await this.#withQuiescedStorage(inst.type, view, copy);
            await this.db.snapshots.create(inst.record.id, {
              name,
              createdAt: now,
              expiresAt,
              stateful: req.stateful,
              config: inst.record.config,
              devices: inst.record.devices,
            });
          });
          this.events.lifecycle(project, 'instance-snapshot-created', url);
        }),
    });
  }

  /**
   * Restores the volume and the config/devices recorded with the snapshot.
   * What the instance will be afterwards (the snapshot's config and devices
   * under its current profiles and volatile keys) must pass the same checks
   * as an update, restrictions included: a snapshot taken before the project
   * was restricted is refused, and nothing changes. `stateful` (of a
   * stateful snapshot) runs the instance on from the memory saved with it,
   * whether it ran before or not; otherwise it boots again if it ran.
   */
  async restore(
    project: string,
    instance: string,
    name: string,
    options: { stateful?: boolean } = {},
  ): Promise<Operation> {
    const { instance: inst, pool } = await this.instances.resolve(project, instance);
    const snapshot = await this.#record(inst.record.id, name);
    const stateful = options.stateful === true;
    if (stateful && !snapshot.stateful)
      throw EngineError.invalid(
        'stateful',
        `snapshot "${name}" is stateless: it saved no state to restore`,
      );
    // At once, so the caller is told (FORBIDDEN) instead of finding a failed operation.
    await this.#checkRestored(project, inst, snapshot);
    return this.operations.start({
      project,
      description: 'Restoring snapshot',
      resources: {
        instances: [apiUrl.instance(project, instance)],
        instances_snapshots: [apiUrl.snapshot(project, instance, name)],
      },
      run: async () => {
        const wasRunning =
          this.instances.hasDriver(inst.type) &&
          (await this.instances.get(project, instance)).status !== 'Stopped';
        if (wasRunning)
          await this.instances.changeStateAndWait(project, instance, {
            action: 'stop',
            force: true,
          });
        await this.instances.locks
          .with(project, instance, 'restore', async () => {
            // Again under the lock: the project or the profiles may have changed meanwhile.
            const now = (await this.instances.resolve(project, instance)).instance;
            await this.#checkRestored(project, now, snapshot);
            await this.storage.restoreInstanceVolume(pool, project, instance, inst.type, name);
            const profiles = await this.#profiles(project, now.record.profiles);
            await this.db.instances.update(now.record.id, {
              description: now.record.description,
              ephemeral: now.record.ephemeral,
              config: restoredConfig(now.record.config, snapshot.config),
              devices: snapshot.devices,
              profileIds: profiles.map((p) => p.id),
            });
            // The volume is the snapshot's now: its state (if asked for) or none.
            await this.db.instances.setStateful(now.record.id, stateful);
          })
          .catch(async (error: unknown) => {
            // Refused before anything changed (or the restore failed): running again, as it was.
            if (wasRunning)
              await this.instances
                .changeStateAndWait(project, instance, { action: 'start' })
                .catch(() => {});
            throw error;
          });
        this.events.lifecycle(
          project,
          'instance-snapshot-restored',
          apiUrl.snapshot(project, instance, name),
        );
        if (wasRunning || stateful)
          await this.instances.changeStateAndWait(project, instance, {
            action: 'start',
            stateful,
          });
      },
    });
  }

  async rename(
    project: string,
    instance: string,
    name: string,
    newName: string,
  ): Promise<InstanceSnapshot> {
    validSnapshotName(newName);
    const { instance: inst, pool } = await this.instances.resolve(project, instance);
    await this.instances.locks.with(project, instance, 'snapshot rename', async () => {
      const snapshot = await this.#record(inst.record.id, name);
      if (await this.db.snapshots.get(inst.record.id, newName)) {
        throw new EngineError('ALREADY_EXISTS', `Snapshot "${newName}" already exists`, {
          field: 'name',
        });
      }
      await this.storage.renameSnapshotVolume(pool, project, instance, inst.type, name, newName);
      await this.db.snapshots.rename(snapshot.id, newName).catch(async (error: unknown) => {
        await this.storage.renameSnapshotVolume(pool, project, instance, inst.type, newName, name);
        throw error;
      });
    });
    this.events.lifecycle(
      project,
      'instance-snapshot-renamed',
      apiUrl.snapshot(project, instance, newName),
      { old_name: name },
    );
    return this.get(project, instance, newName);
  }

  async delete(project: string, instance: string, name: string): Promise<void> {
    const { instance: inst, pool } = await this.instances.resolve(project, instance);
    await this.instances.locks.with(project, instance, 'snapshot delete', async () => {
      const snapshot = await this.#record(inst.record.id, name);
      await this.storage.deleteSnapshotVolume(pool, project, instance, inst.type, name);
      await this.db.snapshots.delete(snapshot.id);
    });
    this.events.lifecycle(
      project,
      'instance-snapshot-deleted',
      apiUrl.snapshot(project, instance, name),
    );
  }

  /** `rename` as an operation (LXD answers with one); an unknown snapshot is refused at once. */
  async startRename(
    project: string,
    instance: string,
    name: string,
    newName: string,
  ): Promise<Operation> {
    return this.#asOperation(project, instance, name, 'Renaming snapshot', () =>
      this.rename(project, instance, name, newName),
    );
  }

  /** `delete` as an operation; an unknown snapshot is refused at once. */
  async startDelete(project: string, instance: string, name: string): Promise<Operation> {
    return this.#asOperation(project, instance, name, 'Deleting snapshot', () =>
      this.delete(project, instance, name),
    );
  }

  /** Starts `work` on an existing snapshot as an operation (an unknown one is refused at once). */
  async #asOperation(
    project: string,
    instance: string,
    name: string,
    description: string,
    work: () => Promise<unknown>,
  ): Promise<Operation> {
    await this.#record((await this.instances.resolve(project, instance)).instance.record.id, name);
    const resources = {
      instances: [apiUrl.instance(project, instance)],
      instances_snapshots: [apiUrl.snapshot(project, instance, name)],
    };
    return this.operations.startTask({ project, description, resources }, work);
  }

  /**
   * Sets (or, with "", removes) the instance's schedule keys
   * (snapshotScheduleKeys); its other config is left as it is.
   */
  async setSchedule(
    project: string,
    instance: string,
    config: SnapshotSchedulePut,
  ): Promise<Instance> {
    const keys = parseInput(SnapshotSchedulePut, config, 'config');
    return this.instances.setConfigKeys(project, instance, keys);
  }

  /**
   * One pass of the scheduler (the engine runs it every minute): snapshots
   * every instance whose `snapshots.schedule` fires in the minute of `at`
   * (stopped ones only with `snapshots.schedule.stopped=true`), then prunes
   * expired snapshots. Returns `project/instance/snapshot` of what it made.
   */
  async runSchedule(at = new Date(), options: { startup?: boolean } = {}): Promise<string[]> {
    const made: string[] = [];
    for (const instance of await this.instances.list(undefined)) {
      const schedule = instance.expanded_config['snapshots.schedule'];
      if (!schedule) continue;
      const triggers = tryParseSchedule(schedule);
      if (
        !triggers.ok ||
        !scheduleFires(triggers.value, at, parseSchedule, options.startup ?? false)
      )
        continue;
      if (
        instance.status === 'Stopped' &&
        instance.expanded_config['snapshots.schedule.stopped'] !== 'true'
      )
        continue;
      try {
        const op = await this.create(instance.project, instance.name, {});
        const done = await this.operations.wait(op.id);
        if (done.status !== 'Success') throw new Error(done.err);
        const name = (
          await this.db.snapshots.list(
            (await this.instances.resolve(instance.project, instance.name)).instance.record.id,
          )
        ).at(-1)?.name;
        made.push(`${instance.project}/${instance.name}/${name ?? '?'}`);
      } catch (error) {
        this.events.logging(
          instance.project,
          'warning',
          `Scheduled snapshot of "${instance.name}" failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    await this.pruneExpired(at);
    return made;
  }

  /** Deletes snapshots whose expiry has passed (the pruner calls this). */
  async pruneExpired(now = new Date()): Promise<string[]> {
    const pruned: string[] = [];
    for (const snapshot of await this.db.snapshots.expired(now)) {
      try {
        await this.delete(snapshot.project, snapshot.instance, snapshot.name);
        pruned.push(`${snapshot.project}/${snapshot.instance}/${snapshot.name}`);
      } catch (error) {
        this.events.logging(
          snapshot.project,
          'warning',
          `Could not prune snapshot ${snapshot.instance}/${snapshot.name}: ${String(error)}`,
        );
      }
    }
    return pruned;
  }

  /** A stateful snapshot, in LXD's words: a running VM with `migration.stateful=true`. */
  async #checkStatefulSnapshot(instance: ExpandedInstance, view: DriverInstance): Promise<void> {
    const driver = this.instances.hasDriver(instance.type)
      ? this.instances.driverFor(instance.type)
      : undefined;
    if (!driver?.savedState)
      throw new EngineError(
        'NOT_IMPLEMENTED',
        'stateful: stateful snapshots (CRIU) are not supported',
        {
          field: 'stateful',
        },
      );
    if ((await driver.status(view)) === 'Stopped')
      throw new EngineError(
        'CONFLICT',
        "Unable to create a stateful snapshot. The instance isn't running",
        { field: 'stateful' },
      );
    if (instance.expandedConfig['migration.stateful'] !== 'true')
      throw new EngineError(
        'CONFLICT',
        'Stateful snapshot requires migration.stateful to be set to true',
        { field: 'stateful' },
      );
  }

  /** `work` with the instance's storage quiesced by its driver (none here: nothing of it runs). */
  #withQuiescedStorage<T>(
    type: ExpandedInstance['type'],
    view: DriverInstance,
    work: () => Promise<T>,
  ): Promise<T> {
    if (!this.instances.hasDriver(type)) return work();
    return this.instances.driverFor(type).withQuiescedStorage(view, work);
  }

  async #checkRestored(
    project: string,
    instance: ExpandedInstance,
    snapshot: SnapshotRecord,
  ): Promise<void> {
    await this.instances.checkWouldBe(
      project,
      {
        name: instance.name,
        type: instance.type,
        config: restoredConfig(instance.record.config, snapshot.config),
        devices: snapshot.devices,
        profiles: instance.record.profiles,
      },
      `instance "${instance.name}" restored from snapshot "${snapshot.name}"`,
    );
  }

  /** Profiles by name, from the project that holds `project`'s profiles. */
  async #profiles(project: string, names: string[]) {
    const record = await this.db.projects.get(project);
    return this.db.profiles.getMany(profileProjectOf(project, record?.config ?? {}), names);
  }

  async #record(instanceId: number, name: string): Promise<SnapshotRecord> {
    const record = await this.db.snapshots.get(instanceId, name);
    if (!record) throw EngineError.notFound('Snapshot', { field: 'name' });
    return record;
  }

  async #toApi(
    record: SnapshotRecord,
    architecture: string,
    profiles: string[],
    pool: string,
    type: string,
  ): Promise<InstanceSnapshot> {
    const profileRecords = await this.#profiles(record.project, profiles);
    // What the snapshot's copy takes on disk (LXD reports its volume's usage).
    const size = await this.storage
      .volumeUsage(pool, record.project, record.instance, type, record.name)
      .catch(() => -1);
    return toInstanceSnapshot(record, { architecture, profiles }, profileRecords, size);
  }
}
