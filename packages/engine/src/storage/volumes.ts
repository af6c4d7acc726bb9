// Custom storage volumes (LXD's lxd/storage_volumes.go over the dir
// driver's driver_dir_volumes.go), per project: create (filesystem, or
// block as a sparse raw disk), list with `used_by`, get, update, rename,
// copy (same pool or another, with or without snapshots), move between
// pools or projects, delete (refused while an instance or a profile uses
// it), and the folder an instance mounts, shifted to its id map. Snapshots
// are `volume-snapshots.ts`.
//
// `size`: LXD's dir driver enforces it with project quotas where the
// backing filesystem has them and otherwise records it and logs that it
// is not enforced. Berth does the latter: the hosts it runs on keep pools
// on ext4 mounted without `prjquota` (and have no quota tools), so the
// value is recorded, shown and, for block volumes, the disk's size.
import path from 'node:path';
import type { StorageVolumeRecord } from '@berth/db';
import { EngineError } from '../errors.ts';
import { filterObjects } from '../filter/index.ts';
import { parseInput } from '../parse-input.ts';
import { parseSerializedIdmap, sameIdmap, serializeIdmap } from '../drivers/lxc/instance-idmap.ts';
import { shiftRootfs } from '../drivers/lxc/rootfs-shift.ts';
import type { VolumeAttachRequest } from '../drivers/driver.ts';
import type { Operation } from '../schemas/index.ts';
import type { StorageVolume } from '../schemas/storage.ts';
import {
  StorageVolumePatch,
  StorageVolumePost,
  StorageVolumePut,
  StorageVolumesPost,
  type StorageVolumeState,
} from '../schemas/storage-volume.ts';
import { Reverter } from '../reverter.ts';
import { customVolumeToApi, volumeUrl } from './volume-api.ts';
import { volumeToApi } from './storage-api.ts';
import {
  DEFAULT_BLOCK_SIZE,
  VOLATILE_IDMAP_LAST,
  VOLATILE_IDMAP_NEXT,
  sizeBytes,
  validateVolumeConfig,
  withVolatileOf,
} from './volume-config.ts';
import { CUSTOM, VolumeCore, type StorageVolumeServiceOptions } from './volume-core.ts';
import {
  BLOCK_FILE,
  copyVolumeDir,
  createVolumeDir,
  exists,
  removeDirsAfter,
  renameDirsThen,
  resizeBlockFile,
} from './volume-disk.ts';
import { VolumeSnapshotService } from './volume-snapshots.ts';
import { updateVolumeUsers } from './volume-users.ts';
import { treeUsage } from './tree-ops.ts';
import { removeIfEmpty } from './pool-layout.ts';

export type { StorageVolumeServiceOptions } from './volume-core.ts';

/** LXD's `isTrue`. */
function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['true', '1', 'yes', 'on'].includes(value.toLowerCase());
}

export class StorageVolumeService {
  readonly #core: VolumeCore;
  readonly snapshots: VolumeSnapshotService;

  constructor(options: StorageVolumeServiceOptions) {
    this.#core = new VolumeCore(options);
    this.snapshots = new VolumeSnapshotService(this.#core);
  }

  // ------------------------------------------------------------------ reads

  /**
   * The pool's volumes of a project, every type (instances' and images'
   * too, as `lxc storage volume list` shows them) and snapshots; custom
   * ones carry their `used_by`.
   */
  async list(
    pool: string,
    project: string,
    options: { type?: string; filter?: string } = {},
  ): Promise<StorageVolume[]> {
    project = await this.#core.storageProject(project);
    const c = this.#core;
    await c.requirePool(pool);
    const out: StorageVolume[] = [];
    for (const row of await c.db.storage.listVolumes(pool, project)) {
      if (options.type !== undefined && row.type !== options.type) continue;
      if (row.type === CUSTOM && !row.name.includes('/'))
        out.push(customVolumeToApi(row, await c.usedBy({ pool, project, name: row.name })));
      else out.push(volumeToApi(row));
    }
    return options.filter ? filterObjects(out, options.filter) : out;
  }

  async get(pool: string, project: string, name: string): Promise<StorageVolume> {
    project = await this.#core.storageProject(project);
    const c = this.#core;
    const row = await c.volume(pool, project, name);
    return customVolumeToApi(row, await c.usedBy({ pool, project, name }));
  }

  /** A volume of any type (`container`, `virtual-machine`, `image`), as `lxc storage volume show pool container/c1` asks. */
  async getOfType(
    pool: string,
    project: string,
    type: string,
    name: string,
  ): Promise<StorageVolume> {
    project = await this.#core.storageProject(project);
    if (type === CUSTOM) return this.get(pool, project, name);
    await this.#core.requirePool(pool);
    const found = (await this.#core.pools.listVolumes(pool, project)).find(
      (v) => v.type === type && v.name === name,
    );
    if (!found) throw new EngineError('NOT_FOUND', 'Storage volume not found', { field: 'name' });
    return found;
  }

  /** `GET .../state`: bytes used, and the quota (`-1` without one, as LXD). */
  async state(pool: string, project: string, name: string): Promise<StorageVolumeState> {
    project = await this.#core.storageProject(project);
    const c = this.#core;
    const row = await c.volume(pool, project, name);
    const { dir } = await c.paths(pool, project, name);
    const total = sizeBytes(row.config.size);
    return { usage: { used: await treeUsage(dir), total: total > 0 ? total : -1 } };
  }

  // --------------------------------------------------------------- changes

  /**
   * `POST .../volumes/custom`: a new volume (done when this returns, as
   * LXD answers it synchronously: `operation` is null), or a copy of one
   * (`source.type` `copy`: an operation, as LXD's).
   */
  async create(
    pool: string,
    project: string,
    input: StorageVolumesPost,
  ): Promise<{ volume: StorageVolume | null; operation: Operation | null }> {
    const requestProject = project;
    project = await this.#core.storageProject(project);
    const req = parseInput(StorageVolumesPost, input);
    if (req.type !== CUSTOM) {
      throw EngineError.invalid(
        'type',
        `Currently not allowed to create storage volumes of type "${req.type}"`,
      );
    }
    const c = this.#core;
    await c.requirePool(pool);
    if (req.source.type === 'copy') {
      const from = {
        pool: req.source.pool || pool,
        project: req.source.project ? await c.storageProject(req.source.project) : project,
        name: req.source.name,
      };
      if (req.source.refresh)
        throw new EngineError(
          'NOT_IMPLEMENTED',
          'source.refresh: refreshing a copy is not supported',
          {
            field: 'source.refresh',
          },
        );
      await c.volume(from.pool, from.project, from.name);
      await this.#refuseExisting(pool, project, req.name);
      const operation = await c.operations.start({
        project: requestProject,
        description: 'Copying storage volume',
        resources: { storage_volumes: [c.url(pool, project, req.name)] },
        run: async ({ signal }) => {
          await this.#copy(
            from,
            { pool, project, name: req.name },
            {
              snapshots: !req.source.volume_only,
              description: req.description,
              config: input.config === undefined ? undefined : req.config,
              signal,
            },
          );
        },
      });
      return { volume: null, operation };
    }
    if (req.source.type !== '')
      throw EngineError.invalid('source.type', `Unknown source type "${req.source.type}"`);

    const config = { ...req.config };
    if (req.content_type === 'block' && !config.size) config.size = DEFAULT_BLOCK_SIZE;
    validateVolumeConfig(req.name, req.content_type, config);
    const row = await c.withVolume(pool, project, req.name, async () => {
      await this.#refuseExisting(pool, project, req.name);
      const { dir } = await c.paths(pool, project, req.name);
      return Reverter.run(async (revert) => {
        await createVolumeDir(
          dir,
          req.content_type === 'block' ? sizeBytes(config.size) : undefined,
        );
        revert.add(() => removeDirsAfter([dir], async () => {}));
        const created = await c.db.storage.createVolume(pool, project, {
          name: req.name,
          type: CUSTOM,
          contentType: req.content_type,
          description: req.description,
          config,
        });
        if (!created) throw EngineError.notFound(`Project "${project}"`, { field: 'project' });
        return created;
      });
    });
    this.#warnUnenforcedSize(pool, project, row);
    c.events.lifecycle(project, 'storage-volume-created', c.url(pool, project, row.name), {
      type: CUSTOM,
    });
    return { volume: customVolumeToApi(row, []), operation: null };
  }

  /** PUT: description and config replaced; with `restore`, the volume is restored from that snapshot first. */
  async update(
    pool: string,
    project: string,
    name: string,
    input: StorageVolumePut,
  ): Promise<StorageVolume> {
    project = await this.#core.storageProject(project);
    const req = parseInput(StorageVolumePut, input);
    if (req.restore) {
      await this.snapshots.restore(pool, project, name, req.restore);
      // The Go client sends `"config": null` with a restore: only the restore is asked.
      if (input.config === undefined || input.config === null) return this.get(pool, project, name);
    }
    return this.#apply(pool, project, name, req.description, req.config);
  }

  /** PATCH: the given keys merged into the config (LXD's PATCH semantics), description if given. */
  async patch(
    pool: string,
    project: string,
    name: string,
    input: StorageVolumePatch,
  ): Promise<StorageVolume> {
    project = await this.#core.storageProject(project);
    const req = parseInput(StorageVolumePatch, input);
    if (req.restore) await this.snapshots.restore(pool, project, name, req.restore);
    const row = await this.#core.volume(pool, project, name);
    return this.#apply(pool, project, name, req.description ?? row.description, {
      ...row.config,
      ...(req.config ?? {}),
    });
  }

  async #apply(
    pool: string,
    project: string,
    name: string,
    description: string,
    requested: Record<string, string>,
  ): Promise<StorageVolume> {
    const c = this.#core;
    const row = await c.withVolume(pool, project, name, async () => {
      const current = await c.volume(pool, project, name);
      const config = withVolatileOf(current.config, requested);
      if (current.contentType === 'block' && !config.size)
        config.size = current.config.size ?? DEFAULT_BLOCK_SIZE;
      validateVolumeConfig(name, current.contentType, config);
      if (
        (config['security.shifted'] ?? '') !== (current.config['security.shifted'] ?? '') &&
        (await c.runningUsers({ pool, project, name })).length > 0
      ) {
        throw new EngineError(
          'CONFLICT',
          'Cannot modify shifting with running instances using the volume',
          { field: 'config["security.shifted"]' },
        );
      }
      if (current.contentType === 'block' && config.size !== current.config.size) {
        const { dir } = await c.paths(pool, project, name);
        await resizeBlockFile(path.join(dir, BLOCK_FILE), sizeBytes(config.size));
      }
      await c.db.storage.updateVolume(current.id, { description, config });
      return { ...current, description, config };
    });
    if (row.config.size) this.#warnUnenforcedSize(pool, project, row);
    c.events.lifecycle(project, 'storage-volume-updated', c.url(pool, project, name), {
      type: CUSTOM,
    });
    return customVolumeToApi(row, await c.usedBy({ pool, project, name }));
  }

  /**
   * `POST .../volumes/custom/<name>`: a rename within the pool (done when
   * this returns, `operation` null, as LXD), or a move to another pool or
   * project (an operation). The devices of instances and profiles that use
   * it follow; refused while a running instance uses it (LXD's "Volume is
   * still in use by running instances").
   */
  async rename(
    pool: string,
    project: string,
    name: string,
    input: StorageVolumePost,
  ): Promise<{ volume: StorageVolume | null; operation: Operation | null }> {
    const requestProject = project;
    project = await this.#core.storageProject(project);
    const req = parseInput(StorageVolumePost, input);
    if (req.migration)
      throw new EngineError(
        'NOT_IMPLEMENTED',
        'migration: volume migration between servers is not supported',
        {
          field: 'migration',
        },
      );
    const c = this.#core;
    const to = {
      pool: req.pool || pool,
      project: req.project ? await c.storageProject(req.project) : project,
      name: req.name,
    };
    const from = { pool, project, name };
    await c.volume(pool, project, name);
    await c.requirePool(to.pool);
    await this.#refuseExisting(to.pool, to.project, to.name);
    if ((await c.runningUsers(from)).length > 0) {
      throw new EngineError('CONFLICT', 'Volume is still in use by running instances');
    }
    if (to.pool === pool && to.project === project) {
      await c.withVolume(pool, project, name, async () => {
        const src = await c.paths(pool, project, name);
        const dst = await c.paths(pool, project, req.name);
        await renameDirsThen(
          [
            [src.dir, dst.dir],
            [src.snapshots, dst.snapshots],
          ],
          async () => {
            await c.db.transaction(async (tx) => {
              await tx.storage.renameVolumeTree(pool, project, CUSTOM, name, req.name);
            });
            await updateVolumeUsers(c.db, from, to);
          },
        );
      });
      c.events.lifecycle(project, 'storage-volume-renamed', c.url(pool, project, req.name), {
        old_name: name,
      });
      return { volume: await this.get(pool, project, req.name), operation: null };
    }
    // Devices name volumes of their own project: a used volume cannot leave it.
    if (to.project !== project && (await c.usedBy(from)).length > 0) {
      throw EngineError.invalid('project', 'The storage volume is still in use');
    }
    const operation = await c.operations.start({
      project: requestProject,
      description: 'Moving storage volume',
      resources: { storage_volumes: [c.url(pool, project, name)] },
      run: async ({ signal }) => {
        await this.#copy(from, to, { snapshots: !req.volume_only, signal });
        await Reverter.run(async (revert) => {
          await updateVolumeUsers(c.db, from, to);
          revert.add(() => updateVolumeUsers(c.db, to, from));
          await this.#remove(pool, project, name);
        });
        c.events.lifecycle(project, 'storage-volume-deleted', c.url(pool, project, name), {});
      },
    });
    return { volume: null, operation };
  }

  /** Refused with LXD's "The storage volume is still in use" while an instance or a profile uses it. */
  async delete(pool: string, project: string, name: string): Promise<void> {
    project = await this.#core.storageProject(project);
    const c = this.#core;
    await c.volume(pool, project, name);
    if ((await c.usedBy({ pool, project, name })).length > 0) {
      throw new EngineError('INVALID_ARGUMENT', 'The storage volume is still in use', {
        field: 'name',
      });
    }
    await this.#remove(pool, project, name);
    c.events.lifecycle(project, 'storage-volume-deleted', c.url(pool, project, name), {
      type: CUSTOM,
    });
  }

  // --------------------------------------------------------------- attach

  /**
   * The host folder an instance's `disk` device mounts for a custom volume,
   * its files shifted to the instance's id map first (LXD's
   * storagePoolVolumeAttachShift): the ids on disk are recorded in the
   * volume's `volatile.idmap.last`, so an unprivileged container's root
   * owns what the volume's root owned, and a privileged one (no map) sees
   * host ids. `security.unmapped=true` leaves the files as they are.
   */
  async attachSource(req: VolumeAttachRequest): Promise<string> {
    const c = this.#core;
    const field = `devices["${req.device}"]`;
    if (!(await c.db.storage.getPool(req.pool))) {
      throw new EngineError(
        'NOT_FOUND',
        `Failed to get storage pool "${req.pool}": Storage pool not found`,
        {
          field: `${field}["pool"]`,
        },
      );
    }
    req = { ...req, project: await c.storageProject(req.project) };
    const row = await c.db.storage.getVolume(req.pool, req.project, CUSTOM, req.volume);
    if (!row) {
      throw new EngineError('NOT_FOUND', 'Failed loading custom volume: Storage volume not found', {
        field: `${field}["source"]`,
      });
    }
    if (row.contentType === 'block' && req.instanceType === 'container') {
      throw EngineError.invalid(
        `${field}["source"]`,
        'Custom block volumes cannot be used on containers',
      );
    }
    const { dir } = await c.paths(req.pool, req.project, req.volume);
    if (row.contentType === 'block') return path.join(dir, BLOCK_FILE);
    if (isTrue(row.config['security.shifted'])) {
      throw new EngineError(
        'NOT_IMPLEMENTED',
        `${field}: volumes with security.shifted=true need idmapped mounts, which Berth does not set up yet`,
        { field: 'config["security.shifted"]' },
      );
    }
    if (isTrue(row.config['security.unmapped'])) return dir;
    const next = serializeIdmap(req.idmap).trim();
    await c.withVolume(req.pool, req.project, req.volume, async () => {
      const current = await c.volume(req.pool, req.project, req.volume);
      const last = parseSerializedIdmap(current.config[VOLATILE_IDMAP_LAST] ?? '[]');
      if (sameIdmap(last, req.idmap)) return;
      const others = (
        await c.runningUsers({ pool: req.pool, project: req.project, name: req.volume })
      ).filter((n) => n !== req.instance);
      if (others.length > 0) {
        throw new EngineError(
          'CONFLICT',
          `Idmaps of container "${others[0]}" and storage volume "${req.volume}" are not identical`,
          { field },
        );
      }
      await shiftRootfs(dir, last, req.idmap);
      await c.db.storage.updateVolume(current.id, {
        description: current.description,
        config: { ...current.config, [VOLATILE_IDMAP_LAST]: next, [VOLATILE_IDMAP_NEXT]: next },
      });
    });
    return dir;
  }

  // -------------------------------------------------------------- internals

  async #refuseExisting(pool: string, project: string, name: string): Promise<void> {
    if (await this.#core.db.storage.getVolume(pool, project, CUSTOM, name)) {
      throw new EngineError('ALREADY_EXISTS', 'Volume by that name already exists', {
        field: 'name',
      });
    }
  }

  /** Copies a volume (and its snapshots) to a new one; a failure leaves neither rows nor folders. */
  async #copy(
    from: { pool: string; project: string; name: string },
    to: { pool: string; project: string; name: string },
    options: {
      snapshots: boolean;
      description?: string;
      config?: Record<string, string> | undefined;
      signal?: AbortSignal;
    },
  ): Promise<void> {
    const c = this.#core;
    const source = await c.volume(from.pool, from.project, from.name);
    const snaps = options.snapshots ? await c.snapshotsOf(from.pool, from.project, from.name) : [];
    // The copy's files carry the ids the source's do: its idmap record goes along.
    const config = options.config
      ? withVolatileOf(source.config, options.config)
      : { ...source.config };
    validateVolumeConfig(to.name, source.contentType, config);
    const src = await c.paths(from.pool, from.project, from.name);
    const dst = await c.paths(to.pool, to.project, to.name);
    await c.withVolume(to.pool, to.project, to.name, () =>
      Reverter.run(async (revert) => {
        await this.#refuseExisting(to.pool, to.project, to.name);
        revert.add(() => removeDirsAfter([dst.dir, dst.snapshots], async () => {}));
        await copyVolumeDir(src.dir, dst.dir, options.signal);
        for (const snap of snaps) {
          const snapName = snap.name.slice(from.name.length + 1);
          await copyVolumeDir(
            await c.snapshotDir(from.pool, from.project, from.name, snapName),
            await c.snapshotDir(to.pool, to.project, to.name, snapName),
            options.signal,
          );
        }
        await c.db.transaction(async (tx) => {
          const created = await tx.storage.createVolume(to.pool, to.project, {
            name: to.name,
            type: CUSTOM,
            contentType: source.contentType,
            description: options.description || source.description,
            config,
          });
          if (!created) throw EngineError.notFound(`Project "${to.project}"`, { field: 'project' });
          for (const snap of snaps) {
            await tx.storage.createVolume(to.pool, to.project, {
              name: `${to.name}/${snap.name.slice(from.name.length + 1)}`,
              type: CUSTOM,
              contentType: snap.contentType,
              description: snap.description,
              config: snap.config,
              expiresAt: snap.expiresAt,
            });
          }
        });
      }),
    );
    c.events.lifecycle(to.project, 'storage-volume-created', c.url(to.pool, to.project, to.name), {
      type: CUSTOM,
    });
  }

  /** Removes the volume, its snapshots and their rows. */
  async #remove(pool: string, project: string, name: string): Promise<void> {
    const c = this.#core;
    await c.withVolume(pool, project, name, async () => {
      const { dir, snapshots } = await c.paths(pool, project, name);
      await removeDirsAfter([dir, snapshots], async () => {
        await c.db.storage.deleteVolumeTree(pool, project, CUSTOM, name);
      });
      if (await exists(snapshots)) await removeIfEmpty(snapshots);
    });
  }

  #warnUnenforcedSize(pool: string, project: string, row: StorageVolumeRecord): void {
    if (!row.config.size || row.contentType === 'block') return;
    this.#core.events.logging(
      project,
      'warning',
      `The backing filesystem of storage pool "${pool}" doesn't support quotas, the size of volume "${row.name}" is not enforced`,
      { pool, volume: row.name },
    );
  }
}

export { volumeUrl };
