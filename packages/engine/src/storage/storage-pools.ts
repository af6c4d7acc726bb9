// Storage pools with the `dir` driver (LXD's lxd/storage/drivers/driver_dir*.go):
// a pool is a folder with one sub-folder per volume type; an instance's volume
// is `<pool>/containers/<project>_<name>/` holding `rootfs/`; a snapshot is a
// copy of that folder under `containers-snapshots/` (reflinked where the
// filesystem can share blocks).
//
// Every change that touches the disk is staged in a hidden temporary beside
// its target (same filesystem, so the final `rename` is atomic) and the
// database row is written before that rename: a failure at any step leaves
// the disk and the database as they were, and a crash leaves only hidden
// temporaries, which `ensureDefault()` sweeps at start-up.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Stores, StoragePoolRecord, StorageVolumeRecord } from '@berth/db';
import { apiUrl } from '../api-url.ts';
import { EngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import { Reverter } from '../reverter.ts';
import { parseInput } from '../parse-input.ts';
import {
  StoragePoolsPost,
  type StoragePool,
  type StoragePoolResources,
  type StorageVolume,
} from '../schemas/storage.ts';
import { KeyedLock } from '../keyed-lock.ts';
import {
  checkSegment,
  instancePathsIn,
  snapshotPathsIn,
  snapshotsDirIn,
  tempSiblingOf,
  type InstancePaths,
} from './pool-paths.ts';
import { VOLUME_DIR_MODE, ensureMode, secureVolumeDir } from './data-dir-modes.ts';
import {
  makePoolLayout,
  removeIfEmpty,
  removePoolLayout,
  sweepTemporaries,
} from './pool-layout.ts';
import { poolToApi, volumeToApi } from './storage-api.ts';
import { checkPoolDriver } from './pool-drivers.ts';
import {
  copyPlainTree,
  copyTree,
  filesystemResources,
  markTopOfHierarchies,
  removeTree,
  treeUsage,
} from './tree-ops.ts';

export type { InstancePaths } from './pool-paths.ts';

export const DEFAULT_POOL = 'default';

/** Config keys a `dir` pool accepts (LXD's dir driver: `source` plus rsync tuning, which Berth ignores). */
const dirPoolKeys = new Set([
  'source',
  'rsync.bwlimit',
  'rsync.compression',
  'volatile.initial_source',
]);

export interface StorageServiceOptions {
  /** Pools without an explicit `source` live in `<dataDir>/storage/<pool>/`. */
  dataDir: string;
  db: Pick<Stores, 'storage'>;
  events?: EventBus;
}

export interface CreateVolumeOptions {
  /** An unpacked image rootfs to copy in; without it the rootfs starts empty. */
  fromRootfs?: string;
  /**
   * `fromRootfs` is known to hold only directories, files and symlinks, no
   * extended attributes, and to be small (the image cache's manifest says
   * so): it is copied in process rather than with `cp -a`.
   */
  plainCopy?: boolean;
  /**
   * Another volume's folder (an instance's or a snapshot's) to copy whole,
   * what the driver keeps beside `rootfs/` (the id shift record) included:
   * an instance copy. Every entry is a new inode (reflinked blocks at most).
   */
  fromVolume?: string;
  signal?: AbortSignal;
}

function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await lstat(p)).isDirectory();
  } catch {
    return false;
  }
}

export class StoragePoolService {
  readonly #dataDir: string;
  readonly #db: Pick<Stores, 'storage'>;
  readonly #events: EventBus | undefined;
  readonly #lock = new KeyedLock();

  constructor(options: StorageServiceOptions) {
    this.#dataDir = path.resolve(options.dataDir);
    this.#db = options.db;
    this.#events = options.events;
  }

  // ------------------------------------------------------------------ pools

  /** Where a pool lives when its config names no `source`. */
  defaultSource(pool: string): string {
    return path.join(this.#dataDir, 'storage', checkSegment('name', pool));
  }

  /**
   * The `default` pool, created on first start; on every start its layout is
   * completed and what a crash left half-done (hidden temporaries) is removed
   * from every pool. Call it before any volume work starts.
   */
  async ensureDefault(): Promise<StoragePool> {
    const existing = await this.#db.storage.getPool(DEFAULT_POOL);
    const pool = existing
      ? await poolToApi(existing, await this.#volumesOf(existing))
      : await this.create({ name: DEFAULT_POOL, driver: 'dir' });
    for (const row of await this.#db.storage.listPools()) {
      const source = row.config.source ?? this.defaultSource(row.name);
      await makePoolLayout(source);
      await sweepTemporaries(source);
    }
    return pool;
  }

  /**
   * Every instance volume folder of every pool to LXD's owner and mode
   * (0100, owned by the instance's root on the host, which `rootUidOf`
   * tells): installs made before left them 0711 with a 0755 rootfs below,
   * which any local user could read.
   */
  async secureVolumes(rootUidOf: (type: 'container' | 'virtual-machine', dir: string) => number) {
    const kinds = [
      ['container', 'containers'],
      ['virtual-machine', 'virtual-machines'],
    ] as const;
    for (const row of await this.#db.storage.listPools()) {
      const source = row.config.source ?? this.defaultSource(row.name);
      for (const [type, sub] of kinds) {
        const entries = await readdir(path.join(source, sub), { withFileTypes: true }).catch(
          () => [],
        );
        for (const entry of entries) {
          if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
          const dir = path.join(source, sub, entry.name);
          await secureVolumeDir(dir, rootUidOf(type, dir));
        }
      }
    }
  }

  async list(): Promise<StoragePool[]> {
    const rows = await this.#db.storage.listPools();
    return Promise.all(rows.map(async (r) => poolToApi(r, await this.#volumesOf(r))));
  }

  async get(name: string): Promise<StoragePool> {
    const row = await this.#pool(name);
    return poolToApi(row, await this.#volumesOf(row));
  }

  async create(input: StoragePoolsPost): Promise<StoragePool> {
    const req = parseInput(StoragePoolsPost, input);
    checkPoolDriver(req.driver);
    for (const key of Object.keys(req.config)) {
      if (!dirPoolKeys.has(key) && !key.startsWith('user.')) {
        throw EngineError.invalid(
          `config["${key}"]`,
          `Invalid option for the ${req.driver} driver`,
        );
      }
    }
    if (await this.#db.storage.getPool(req.name)) {
      throw new EngineError('ALREADY_EXISTS', `Storage pool "${req.name}" already exists`, {
        field: 'name',
      });
    }
    const source = req.config.source ?? this.defaultSource(req.name);
    if (!path.isAbsolute(source))
      throw EngineError.invalid('config["source"]', `"${source}" must be an absolute path`);

    const row = await Reverter.run(async (revert) => {
      if (await exists(source)) {
        if (!(await isDirectory(source)))
          throw EngineError.invalid('config["source"]', `"${source}" is not a directory`);
        if ((await readdir(source)).length > 0) {
          throw EngineError.invalid('config["source"]', `Source path "${source}" isn't empty`);
        }
      } else {
        await mkdir(source, { recursive: true, mode: 0o711 });
        revert.add(() => removeTree(source));
      }
      await makePoolLayout(source);
      revert.add(() => removePoolLayout(source));
      return this.#db.storage.createPool({
        name: req.name,
        driver: req.driver,
        description: req.description,
        config: { ...req.config, source },
      });
    });
    this.#events?.lifecycle('default', 'storage-pool-created', apiUrl.storagePool(row.name));
    return poolToApi(row, await this.#volumesOf(row));
  }

  /** Refused while the pool holds volumes. Removes the folder when Berth chose it, else only its layout. */
  async delete(name: string): Promise<void> {
    const row = await this.#pool(name);
    if ((await this.#db.storage.countVolumes(row.id)) > 0) {
      throw new EngineError('CONFLICT', `Storage pool "${name}" is currently in use`);
    }
    const source = row.config.source ?? this.defaultSource(name);
    this.#sources.delete(name);
    await this.#db.storage.deletePool(row.id);
    await sweepTemporaries(source);
    await removePoolLayout(source);
    if (source === this.defaultSource(name)) await removeIfEmpty(source);
    this.#events?.lifecycle('default', 'storage-pool-deleted', apiUrl.storagePool(name));
  }

  /** `GET /1.0/storage-pools/<pool>/resources`: statfs of the pool's filesystem. */
  async poolResources(pool: string): Promise<StoragePoolResources> {
    return filesystemResources(await this.#source(pool));
  }

  async listVolumes(pool: string, project?: string): Promise<StorageVolume[]> {
    await this.#pool(pool);
    const rows = await this.#db.storage.listVolumes(pool, project);
    return rows.map((r) => volumeToApi(r));
  }

  // ------------------------------------------------------- instance volumes

  async instancePaths(
    pool: string,
    project: string,
    name: string,
    type: string,
  ): Promise<InstancePaths> {
    return instancePathsIn(await this.#source(pool), project, name, type);
  }

  async snapshotPaths(
    pool: string,
    project: string,
    name: string,
    type: string,
    snapshot: string,
  ): Promise<InstancePaths> {
    return snapshotPathsIn(await this.#source(pool), project, name, type, snapshot);
  }

  /** Creates the volume folder (with `rootfs/` copied from `fromRootfs`, or empty) and its row. */
  async createInstanceVolume(
    pool: string,
    project: string,
    name: string,
    type: string,
    options: CreateVolumeOptions = {},
  ): Promise<InstancePaths> {
    const source = await this.#source(pool);
    const paths = instancePathsIn(source, project, name, type);
    return this.#lock.run(paths.dir, async () => {
      if (await this.#db.storage.getVolume(pool, project, type, name)) {
        throw new EngineError(
          'ALREADY_EXISTS',
          `Storage volume "${name}" of type ${type} already exists in pool "${pool}"`,
        );
      }
      if (await exists(paths.dir)) {
        throw new EngineError(
          'CONFLICT',
          `Volume folder ${paths.dir} already exists on disk without a database record`,
        );
      }
      if (options.fromRootfs !== undefined && !(await isDirectory(options.fromRootfs))) {
        throw EngineError.invalid('source', `rootfs ${options.fromRootfs} is not a directory`);
      }
      if (options.fromVolume !== undefined && !(await isDirectory(options.fromVolume))) {
        throw EngineError.notFound(`Source volume ${options.fromVolume}`, { field: 'source' });
      }
      const tmp = tempSiblingOf(paths.dir, 'create', randomSuffix());
      await Reverter.run(async (revert) => {
        revert.add(() => removeTree(tmp));
        const rootfs = path.join(tmp, 'rootfs');
        if (options.fromVolume !== undefined)
          await copyTree(options.fromVolume, tmp, options.signal);
        else {
          // Root-only until the driver hands it to the instance's root (secureVolumeDir).
          await mkdir(tmp, { mode: VOLUME_DIR_MODE });
          if (options.fromRootfs !== undefined && options.plainCopy === true)
            await copyPlainTree(options.fromRootfs, rootfs);
          else if (options.fromRootfs !== undefined)
            await copyTree(options.fromRootfs, rootfs, options.signal);
          else await mkdir(rootfs, { mode: 0o755 });
        }
        const row = await this.#db.storage.createVolume(pool, project, { name, type });
        if (!row) throw EngineError.notFound(`Project "${project}"`, { field: 'project' });
        revert.add(() => this.#db.storage.deleteVolume(row.id));
        // A copied volume keeps its source's owner; its mode is this one's whatever the source had.
        await ensureMode(tmp, VOLUME_DIR_MODE);
        await rename(tmp, paths.dir);
      });
      return paths;
    });
  }

  /** Removes the volume, its snapshots and their rows. A volume only on disk, or only in the database, goes too. */
  async deleteInstanceVolume(
    pool: string,
    project: string,
    name: string,
    type: string,
  ): Promise<void> {
    const source = await this.#source(pool);
    const paths = instancePathsIn(source, project, name, type);
    const snapsDir = snapshotsDirIn(source, project, name, type);
    await this.#lock.run(paths.dir, async () => {
      const row = await this.#db.storage.getVolume(pool, project, type, name);
      const onDisk = await exists(paths.dir);
      if (!row && !onDisk)
        throw EngineError.notFound(`Storage volume "${name}" of type ${type} in pool "${pool}"`);
      const random = randomSuffix();
      const trash: string[] = [];
      await Reverter.run(async (revert) => {
        for (const dir of [paths.dir, snapsDir]) {
          if (!(await exists(dir))) continue;
          const hidden = tempSiblingOf(dir, 'delete', random);
          await rename(dir, hidden);
          revert.add(() => rename(hidden, dir));
          trash.push(hidden);
        }
        await this.#db.storage.deleteVolumeTree(pool, project, type, name);
      });
      for (const dir of trash) await removeTree(dir);
    });
  }

  async renameInstanceVolume(
    pool: string,
    project: string,
    name: string,
    type: string,
    newName: string,
  ): Promise<InstancePaths> {
    const source = await this.#source(pool);
    const from = instancePathsIn(source, project, name, type);
    const to = instancePathsIn(source, project, newName, type);
    const fromSnaps = snapshotsDirIn(source, project, name, type);
    const toSnaps = snapshotsDirIn(source, project, newName, type);
    return this.#lock.run(from.dir, () =>
      this.#lock.run(to.dir, async () => {
        if (!(await exists(from.dir)))
          throw EngineError.notFound(`Storage volume "${name}" of type ${type} in pool "${pool}"`);
        if (
          (await this.#db.storage.getVolume(pool, project, type, newName)) ||
          (await exists(to.dir)) ||
          (await exists(toSnaps))
        ) {
          throw new EngineError(
            'ALREADY_EXISTS',
            `Storage volume "${newName}" of type ${type} already exists in pool "${pool}"`,
            {
              field: 'name',
            },
          );
        }
        await Reverter.run(async (revert) => {
          await rename(from.dir, to.dir);
          revert.add(() => rename(to.dir, from.dir));
          if (await exists(fromSnaps)) {
            await rename(fromSnaps, toSnaps);
            revert.add(() => rename(toSnaps, fromSnaps));
          }
          await this.#db.storage.renameVolumeTree(pool, project, type, name, newName);
        });
        return to;
      }),
    );
  }

  /**
   * Copies the volume's folder to `<pool>/containers-snapshots/<project>_<name>/<snapshot>/`;
   * with `from`, that folder instead (another instance's snapshot, for a copy).
   */
  async snapshotInstanceVolume(
    pool: string,
    project: string,
    name: string,
    type: string,
    snapshot: string,
    options: { from?: string; signal?: AbortSignal } = {},
  ): Promise<InstancePaths> {
    const source = await this.#source(pool);
    const paths = instancePathsIn(source, project, name, type);
    const snap = snapshotPathsIn(source, project, name, type, snapshot);
    return this.#lock.run(paths.dir, async () => {
      if (!(await isDirectory(paths.dir)))
        throw EngineError.notFound(`Storage volume "${name}" of type ${type} in pool "${pool}"`);
      const volumeName = `${name}/${snapshot}`;
      if (
        (await this.#db.storage.getVolume(pool, project, type, volumeName)) ||
        (await exists(snap.dir))
      ) {
        throw new EngineError(
          'ALREADY_EXISTS',
          `Snapshot volume "${volumeName}" already exists in pool "${pool}"`,
          { field: 'name' },
        );
      }
      const snapsDir = path.dirname(snap.dir);
      const tmp = tempSiblingOf(snap.dir, 'snapshot', randomSuffix());
      await Reverter.run(async (revert) => {
        if (!(await exists(snapsDir))) {
          await mkdir(snapsDir, { recursive: true, mode: 0o700 });
          revert.add(() => removeIfEmpty(snapsDir));
          // Snapshots taken and expired on a schedule churn inodes: one block group each.
          await markTopOfHierarchies(snapsDir);
        }
        revert.add(() => removeTree(tmp));
        await copyTree(options.from ?? paths.dir, tmp, options.signal);
        const row = await this.#db.storage.createVolume(pool, project, { name: volumeName, type });
        if (!row) throw EngineError.notFound(`Project "${project}"`, { field: 'project' });
        revert.add(() => this.#db.storage.deleteVolume(row.id));
        await rename(tmp, snap.dir);
      });
      return snap;
    });
  }

  /**
   * Replaces the volume's rootfs with the snapshot's: the copy is made beside
   * it first, then two renames swap them, so the rootfs is either wholly the
   * old one or wholly the snapshot's. For a container only `rootfs/` is
   * replaced (the id shift record beside it describes the volume as it is);
   * a VM's whole folder is its disk (the image's disk and boot files in
   * `rootfs/`, the qcow2 overlay beside it), so the whole folder is. The
   * instance must be stopped (the caller's job to ensure).
   */
  async restoreInstanceVolume(
    pool: string,
    project: string,
    name: string,
    type: string,
    snapshot: string,
  ): Promise<void> {
    const source = await this.#source(pool);
    const paths = instancePathsIn(source, project, name, type);
    const snap = snapshotPathsIn(source, project, name, type, snapshot);
    await this.#lock.run(paths.dir, async () => {
      if (!(await isDirectory(paths.dir)))
        throw EngineError.notFound(`Storage volume "${name}" of type ${type} in pool "${pool}"`);
      if (!(await isDirectory(snap.rootfs)))
        throw EngineError.notFound(`Snapshot "${snapshot}" of "${name}" in pool "${pool}"`);
      const whole = type === 'virtual-machine';
      const [from, into] = whole ? [snap.dir, paths.dir] : [snap.rootfs, paths.rootfs];
      const random = randomSuffix();
      const incoming = tempSiblingOf(into, 'restore', random);
      const outgoing = tempSiblingOf(into, 'replaced', random);
      await Reverter.run(async (revert) => {
        revert.add(() => removeTree(incoming));
        await copyTree(from, incoming);
        if (whole) await ensureMode(incoming, VOLUME_DIR_MODE);
        if (await exists(into)) {
          await rename(into, outgoing);
          revert.add(() => rename(outgoing, into));
        }
        await rename(incoming, into);
      });
      await removeTree(outgoing);
    });
  }

  async deleteSnapshotVolume(
    pool: string,
    project: string,
    name: string,
    type: string,
    snapshot: string,
  ): Promise<void> {
    const source = await this.#source(pool);
    const paths = instancePathsIn(source, project, name, type);
    const snap = snapshotPathsIn(source, project, name, type, snapshot);
    await this.#lock.run(paths.dir, async () => {
      const row = await this.#db.storage.getVolume(pool, project, type, `${name}/${snapshot}`);
      const onDisk = await exists(snap.dir);
      if (!row && !onDisk)
        throw EngineError.notFound(`Snapshot "${snapshot}" of "${name}" in pool "${pool}"`);
      const hidden = tempSiblingOf(snap.dir, 'delete', randomSuffix());
      await Reverter.run(async (revert) => {
        if (onDisk) {
          await rename(snap.dir, hidden);
          revert.add(() => rename(hidden, snap.dir));
        }
        if (row) await this.#db.storage.deleteVolume(row.id);
      });
      await removeTree(hidden);
      await removeIfEmpty(path.dirname(snap.dir));
    });
  }

  async renameSnapshotVolume(
    pool: string,
    project: string,
    name: string,
    type: string,
    snapshot: string,
    newSnapshot: string,
  ): Promise<InstancePaths> {
    const source = await this.#source(pool);
    const paths = instancePathsIn(source, project, name, type);
    const from = snapshotPathsIn(source, project, name, type, snapshot);
    const to = snapshotPathsIn(source, project, name, type, newSnapshot);
    return this.#lock.run(paths.dir, async () => {
      const row = await this.#db.storage.getVolume(pool, project, type, `${name}/${snapshot}`);
      if (!row || !(await exists(from.dir)))
        throw EngineError.notFound(`Snapshot "${snapshot}" of "${name}" in pool "${pool}"`);
      if (
        (await this.#db.storage.getVolume(pool, project, type, `${name}/${newSnapshot}`)) ||
        (await exists(to.dir))
      ) {
        throw new EngineError(
          'ALREADY_EXISTS',
          `Snapshot "${newSnapshot}" of "${name}" already exists`,
          { field: 'name' },
        );
      }
      await Reverter.run(async (revert) => {
        await rename(from.dir, to.dir);
        revert.add(() => rename(to.dir, from.dir));
        await this.#db.storage.renameVolume(row.id, `${name}/${newSnapshot}`);
      });
      return to;
    });
  }

  /** Bytes the volume (or one snapshot of it) occupies on disk. */
  async volumeUsage(
    pool: string,
    project: string,
    name: string,
    type: string,
    snapshot?: string,
  ): Promise<number> {
    const source = await this.#source(pool);
    const dir =
      snapshot === undefined
        ? instancePathsIn(source, project, name, type).dir
        : snapshotPathsIn(source, project, name, type, snapshot).dir;
    if (!(await isDirectory(dir)))
      throw EngineError.notFound(
        `Storage volume "${snapshot ? `${name}/${snapshot}` : name}" in pool "${pool}"`,
      );
    return treeUsage(dir);
  }

  // -------------------------------------------------------------- internals

  async #pool(name: string): Promise<StoragePoolRecord> {
    const row = await this.#db.storage.getPool(name);
    if (!row) throw EngineError.notFound(`Storage pool "${name}"`, { field: 'pool' });
    return row;
  }

  /**
   * Where a pool lives. Asked on every instance operation and fixed for a
   * pool's life (`source` cannot change), so it is remembered.
   */
  async #source(pool: string): Promise<string> {
    const known = this.#sources.get(pool);
    if (known !== undefined) return known;
    const row = await this.#pool(pool);
    const source = row.config.source ?? this.defaultSource(pool);
    this.#sources.set(pool, source);
    return source;
  }

  readonly #sources = new Map<string, string>();

  #volumesOf(row: StoragePoolRecord): Promise<StorageVolumeRecord[]> {
    return this.#db.storage.listVolumes(row.name);
  }
}
