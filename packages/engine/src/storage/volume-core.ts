// What the custom volume service and its snapshot service share: the
// database, the pools (for paths), the per-volume lock, the lookups with
// LXD's not-found messages, and who uses a volume.
import path from 'node:path';
import type { Database, StorageVolumeRecord } from '@berth/db';
import { EngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import { KeyedLock } from '../keyed-lock.ts';
import { projectSetting } from '../projects/project-config.ts';
import type { OperationService } from '../operations/operations.ts';
import type { StoragePoolService } from './storage-pools.ts';
import { volumeUrl } from './volume-api.ts';
import { usedByUrls, volumeUsers, type VolumeRef, type VolumeUsers } from './volume-users.ts';

export const CUSTOM = 'custom';

export interface StorageVolumeServiceOptions {
  db: Database;
  pools: StoragePoolService;
  events: EventBus;
  operations: OperationService;
  /** Whether an instance runs now (the instance service answers; it is built later). */
  instanceRunning: (project: string, name: string) => Promise<boolean>;
}

export interface CustomVolumePaths {
  /** The volume: `<pool>/custom/<project>_<name>` (a filesystem volume's content, or `root.img`). */
  dir: string;
  /** `<pool>/custom-snapshots/<project>_<name>`: its snapshots. */
  snapshots: string;
}

export class VolumeCore {
  readonly db: Database;
  readonly pools: StoragePoolService;
  readonly events: EventBus;
  readonly operations: OperationService;
  readonly lock = new KeyedLock();
  readonly #instanceRunning: StorageVolumeServiceOptions['instanceRunning'];

  constructor(options: StorageVolumeServiceOptions) {
    this.db = options.db;
    this.pools = options.pools;
    this.events = options.events;
    this.operations = options.operations;
    this.#instanceRunning = options.instanceRunning;
  }

  /**
   * The project whose custom volumes `project` uses (LXD's
   * StorageVolumeProject): itself with `features.storage.volumes`, else `default`.
   */
  async storageProject(project: string): Promise<string> {
    const record = await this.db.projects.get(project);
    if (!record) throw EngineError.notFound('Project', { field: 'project' });
    return projectSetting(record.config, 'features.storage.volumes') === 'true'
      ? project
      : 'default';
  }

  /** The pool, or LXD's "Storage pool not found". */
  async requirePool(pool: string): Promise<void> {
    if (!(await this.db.storage.getPool(pool))) {
      throw new EngineError('NOT_FOUND', 'Storage pool not found', { field: 'pool' });
    }
  }

  /** A custom volume's row, or LXD's "Storage volume not found". */
  async volume(pool: string, project: string, name: string): Promise<StorageVolumeRecord> {
    await this.requirePool(pool);
    const row = await this.db.storage.getVolume(pool, project, CUSTOM, name);
    if (!row) throw new EngineError('NOT_FOUND', 'Storage volume not found', { field: 'name' });
    return row;
  }

  async snapshot(
    pool: string,
    project: string,
    name: string,
    snapshot: string,
  ): Promise<StorageVolumeRecord> {
    await this.volume(pool, project, name);
    const row = await this.db.storage.getVolume(pool, project, CUSTOM, `${name}/${snapshot}`);
    if (!row)
      throw new EngineError('NOT_FOUND', 'Storage volume snapshot not found', { field: 'name' });
    return row;
  }

  /** The snapshot rows of a volume, oldest first. */
  async snapshotsOf(pool: string, project: string, name: string): Promise<StorageVolumeRecord[]> {
    const rows = await this.db.storage.listVolumes(pool, project);
    return rows
      .filter((r) => r.type === CUSTOM && r.name.startsWith(`${name}/`))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id - b.id);
  }

  async paths(pool: string, project: string, name: string): Promise<CustomVolumePaths> {
    const { dir } = await this.pools.instancePaths(pool, project, name, CUSTOM);
    // The pool service hands out one snapshot's folder; their parent is the volume's snapshots folder.
    const probe = await this.pools.snapshotPaths(pool, project, name, CUSTOM, 'x');
    return { dir, snapshots: path.dirname(probe.dir) };
  }

  async snapshotDir(pool: string, project: string, name: string, snapshot: string) {
    return (await this.pools.snapshotPaths(pool, project, name, CUSTOM, snapshot)).dir;
  }

  users(ref: VolumeRef): Promise<VolumeUsers> {
    return volumeUsers(this.db, ref);
  }

  async usedBy(ref: VolumeRef): Promise<string[]> {
    return usedByUrls(ref, await this.users(ref));
  }

  /** The names of the instances using the volume that are running now. */
  async runningUsers(ref: VolumeRef): Promise<string[]> {
    const running: string[] = [];
    for (const i of (await this.users(ref)).instances) {
      if (await this.#instanceRunning(ref.project, i.name)) running.push(i.name);
    }
    return running;
  }

  url(pool: string, project: string, name: string): string {
    return volumeUrl(pool, project, CUSTOM, name);
  }

  /** Serialises changes to one volume and its snapshots. */
  withVolume<T>(pool: string, project: string, name: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(`${pool}\0${project}\0${name}`, fn);
  }
}
