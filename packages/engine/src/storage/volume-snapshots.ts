// Snapshots of custom volumes (LXD's lxd/storage_volumes_snapshot.go):
// a copy of the volume's folder and a row named `<volume>/<snapshot>`
// holding the volume's config at the time, its description and expiry.
// Create, rename and delete are operations (as LXD's); restore replaces the
// volume's content (refused while a running instance uses it). The
// schedule (`snapshots.schedule`, `.pattern`, `.expiry` on the volume) runs
// from the engine's every-minute tick with the instance scheduler's matcher.
import { EngineError } from '../errors.ts';
import { parseInput } from '../parse-input.ts';
import { expiryDate } from '../config/snapshot-expiry.ts';
import { parseSchedule, tryParseSchedule } from '../config/snapshot-schedule.ts';
import { scheduleFires } from '../instances/snapshot-schedule-match.ts';
import { nextSnapshotName } from '../instances/snapshots.ts';
import { validSnapshotName } from '../validation/index.ts';
import type { Operation } from '../schemas/index.ts';
import {
  StorageVolumeSnapshotPut,
  StorageVolumeSnapshotsPost,
  type StorageVolumeSnapshot,
} from '../schemas/storage-volume.ts';
import { Reverter } from '../reverter.ts';
import { volumeSnapshotToApi } from './volume-api.ts';
import { CUSTOM, type VolumeCore } from './volume-core.ts';
import {
  removeDirsAfter,
  renameDirsThen,
  restoreVolumeDir,
  snapshotVolumeDir,
} from './volume-disk.ts';
import { removeIfEmpty } from './pool-layout.ts';

function parseExpiresAt(value: string | undefined): Date | null | undefined {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime()))
    throw EngineError.invalid('expires_at', `"${value}" is not an RFC 3339 time`);
  return at;
}

export class VolumeSnapshotService {
  constructor(readonly core: VolumeCore) {}

  async list(pool: string, project: string, volume: string): Promise<StorageVolumeSnapshot[]> {
    project = await this.core.storageProject(project);
    await this.core.volume(pool, project, volume);
    return (await this.core.snapshotsOf(pool, project, volume)).map(volumeSnapshotToApi);
  }

  async get(
    pool: string,
    project: string,
    volume: string,
    snapshot: string,
  ): Promise<StorageVolumeSnapshot> {
    project = await this.core.storageProject(project);
    return volumeSnapshotToApi(await this.core.snapshot(pool, project, volume, snapshot));
  }

  /** Starts the snapshot as an operation; the name comes from `snapshots.pattern` when not given. */
  async create(
    pool: string,
    project: string,
    volume: string,
    input: StorageVolumeSnapshotsPost = {},
  ): Promise<Operation> {
    const requestProject = project;
    project = await this.core.storageProject(project);
    const req = parseInput(StorageVolumeSnapshotsPost, input);
    const c = this.core;
    const row = await c.volume(pool, project, volume);
    const existing = (await c.snapshotsOf(pool, project, volume)).map((r) =>
      r.name.slice(volume.length + 1),
    );
    const name =
      req.name || nextSnapshotName(row.config['snapshots.pattern'] || 'snap%d', existing);
    validSnapshotName(name);
    if (existing.includes(name)) {
      throw new EngineError('ALREADY_EXISTS', `Snapshot "${name}" already in use`, {
        field: 'name',
      });
    }
    const now = new Date();
    const expiresAt =
      parseExpiresAt(req.expires_at) ?? expiryDate(now, row.config['snapshots.expiry'] ?? '');
    const url = c.url(pool, project, `${volume}/${name}`);
    return c.operations.start({
      project: requestProject,
      description: 'Creating storage volume snapshot',
      resources: {
        storage_volumes: [c.url(pool, project, volume)],
        storage_volume_snapshots: [url],
      },
      run: async () => {
        await this.#take(pool, project, volume, name, expiresAt);
        c.events.lifecycle(project, 'storage-volume-snapshot-created', url, { type: CUSTOM });
      },
    });
  }

  /** Takes the snapshot now (the scheduler's path and the operation's work). */
  async #take(
    pool: string,
    project: string,
    volume: string,
    name: string,
    expiresAt: Date | null,
  ): Promise<void> {
    const c = this.core;
    await c.withVolume(pool, project, volume, async () => {
      const current = await c.volume(pool, project, volume);
      const full = `${volume}/${name}`;
      if (await c.db.storage.getVolume(pool, project, CUSTOM, full)) {
        throw new EngineError('ALREADY_EXISTS', `Snapshot "${name}" already in use`, {
          field: 'name',
        });
      }
      const { dir } = await c.paths(pool, project, volume);
      const snapDir = await c.snapshotDir(pool, project, volume, name);
      await Reverter.run(async (revert) => {
        await snapshotVolumeDir(dir, snapDir);
        revert.add(() => removeDirsAfter([snapDir], async () => {}));
        const created = await c.db.storage.createVolume(pool, project, {
          name: full,
          type: CUSTOM,
          contentType: current.contentType,
          description: current.description,
          config: current.config,
          expiresAt,
        });
        if (!created) throw EngineError.notFound(`Project "${project}"`, { field: 'project' });
      });
    });
  }

  /** PUT: the snapshot's description and expiry (its config is the volume's at the time: not writable, as LXD). */
  async update(
    pool: string,
    project: string,
    volume: string,
    snapshot: string,
    input: StorageVolumeSnapshotPut,
  ): Promise<StorageVolumeSnapshot> {
    project = await this.core.storageProject(project);
    const req = parseInput(StorageVolumeSnapshotPut, input);
    const c = this.core;
    const row = await c.snapshot(pool, project, volume, snapshot);
    await c.db.storage.updateVolume(row.id, { description: req.description, config: row.config });
    await c.db.storage.setVolumeExpiry(row.id, parseExpiresAt(req.expires_at) ?? null);
    c.events.lifecycle(
      project,
      'storage-volume-snapshot-updated',
      c.url(pool, project, row.name),
      {},
    );
    return this.get(pool, project, volume, snapshot);
  }

  async rename(
    pool: string,
    project: string,
    volume: string,
    snapshot: string,
    newName: string,
  ): Promise<Operation> {
    const requestProject = project;
    project = await this.core.storageProject(project);
    const c = this.core;
    await c.snapshot(pool, project, volume, snapshot);
    if (newName === '') throw EngineError.invalid('name', 'No name provided');
    if (newName.includes('/'))
      throw EngineError.invalid('name', 'Storage volume names may not contain slashes');
    validSnapshotName(newName);
    if (await c.db.storage.getVolume(pool, project, CUSTOM, `${volume}/${newName}`)) {
      throw new EngineError('ALREADY_EXISTS', `Snapshot "${newName}" already in use`, {
        field: 'name',
      });
    }
    return c.operations.start({
      project: requestProject,
      description: 'Renaming storage volume snapshot',
      resources: { storage_volume_snapshots: [c.url(pool, project, `${volume}/${snapshot}`)] },
      run: async () => {
        await c.withVolume(pool, project, volume, async () => {
          const row = await c.snapshot(pool, project, volume, snapshot);
          await renameDirsThen(
            [
              [
                await c.snapshotDir(pool, project, volume, snapshot),
                await c.snapshotDir(pool, project, volume, newName),
              ],
            ],
            () => c.db.storage.renameVolume(row.id, `${volume}/${newName}`),
          );
        });
        c.events.lifecycle(
          project,
          'storage-volume-snapshot-renamed',
          c.url(pool, project, `${volume}/${newName}`),
          { old_name: snapshot },
        );
      },
    });
  }

  async delete(
    pool: string,
    project: string,
    volume: string,
    snapshot: string,
  ): Promise<Operation> {
    const requestProject = project;
    project = await this.core.storageProject(project);
    const c = this.core;
    await c.snapshot(pool, project, volume, snapshot);
    return c.operations.start({
      project: requestProject,
      description: 'Deleting storage volume snapshot',
      resources: { storage_volume_snapshots: [c.url(pool, project, `${volume}/${snapshot}`)] },
      run: () => this.deleteNow(pool, project, volume, snapshot),
    });
  }

  /** Deletes at once (the operation's work, the expiry pruner's). */
  async deleteNow(pool: string, project: string, volume: string, snapshot: string): Promise<void> {
    const c = this.core;
    await c.withVolume(pool, project, volume, async () => {
      const row = await c.snapshot(pool, project, volume, snapshot);
      const snapDir = await c.snapshotDir(pool, project, volume, snapshot);
      await removeDirsAfter([snapDir], () => c.db.storage.deleteVolume(row.id));
      await removeIfEmpty((await c.paths(pool, project, volume)).snapshots);
    });
    c.events.lifecycle(
      project,
      'storage-volume-snapshot-deleted',
      c.url(pool, project, `${volume}/${snapshot}`),
      {},
    );
  }

  /**
   * The volume's content replaced with the snapshot's (LXD's
   * RestoreCustomVolume); refused while a running instance uses it. The
   * snapshot's files carry the ids they had when it was taken: its
   * `volatile.idmap.last` comes back with them, so the next attach shifts
   * them to the instance's map if that changed meanwhile.
   */
  async restore(pool: string, project: string, volume: string, snapshot: string): Promise<void> {
    project = await this.core.storageProject(project);
    const c = this.core;
    await c.snapshot(pool, project, volume, snapshot);
    if ((await c.runningUsers({ pool, project, name: volume })).length > 0) {
      throw new EngineError('CONFLICT', 'Cannot restore custom volume used by running instances');
    }
    await c.withVolume(pool, project, volume, async () => {
      const current = await c.volume(pool, project, volume);
      const snap = await c.snapshot(pool, project, volume, snapshot);
      const { dir } = await c.paths(pool, project, volume);
      await restoreVolumeDir(await c.snapshotDir(pool, project, volume, snapshot), dir);
      const config = { ...current.config };
      for (const key of ['volatile.idmap.last', 'volatile.idmap.next']) {
        if (snap.config[key] === undefined) delete config[key];
        else config[key] = snap.config[key];
      }
      await c.db.storage.updateVolume(current.id, { description: current.description, config });
    });
    c.events.lifecycle(project, 'storage-volume-restored', c.url(pool, project, volume), {
      snapshot,
    });
  }

  /**
   * Takes the snapshots whose volume's `snapshots.schedule` fires in the
   * minute of `at`, then prunes expired ones. Failures are logged, not thrown.
   */
  async runSchedule(at = new Date(), options: { startup?: boolean } = {}): Promise<string[]> {
    const c = this.core;
    const made: string[] = [];
    for (const pool of await c.db.storage.listPools()) {
      for (const row of await c.db.storage.listVolumes(pool.name)) {
        const schedule = row.config['snapshots.schedule'];
        if (row.type !== CUSTOM || row.name.includes('/') || !schedule) continue;
        const triggers = tryParseSchedule(schedule);
        if (
          !triggers.ok ||
          !scheduleFires(triggers.value, at, parseSchedule, options.startup ?? false)
        )
          continue;
        try {
          const existing = (await c.snapshotsOf(pool.name, row.project, row.name)).map((r) =>
            r.name.slice(row.name.length + 1),
          );
          const name = nextSnapshotName(row.config['snapshots.pattern'] || 'snap%d', existing, at);
          await this.#take(
            pool.name,
            row.project,
            row.name,
            name,
            expiryDate(at, row.config['snapshots.expiry'] ?? ''),
          );
          made.push(`${pool.name}/${row.project}/${row.name}/${name}`);
        } catch (error) {
          c.events.logging(
            row.project,
            'warning',
            `Scheduled snapshot of volume "${row.name}" failed: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    }
    await this.pruneExpired(at);
    return made;
  }

  async pruneExpired(now = new Date()): Promise<string[]> {
    const pruned: string[] = [];
    for (const row of await this.core.db.storage.expiredVolumeSnapshots(now)) {
      if (row.type !== CUSTOM) continue;
      const [volume = '', snapshot = ''] = row.name.split('/');
      try {
        await this.deleteNow(row.pool, row.project, volume, snapshot);
        pruned.push(`${row.pool}/${row.project}/${row.name}`);
      } catch (error) {
        this.core.events.logging(
          row.project,
          'warning',
          `Could not prune volume snapshot ${row.name}: ${String(error)}`,
        );
      }
    }
    return pruned;
  }
}
