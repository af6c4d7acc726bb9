// Publishing an instance or one of its snapshots as an image, as LXD's
// `lxc publish`, packed through ImageService with the properties of the
// instance's image.* keys and its base image's templates. A container
// (stopped) has its rootfs copied under the instance's lock and unshifted
// to container ids. A virtual machine's image is its disk flattened into
// one qcow2 (`rootfs.img`, compressed as LXD's are) with its boot files
// (storage/vm-volume-disk.ts). LXD refuses a running VM and its client
// stops it first; Berth holds a running one still (guest filesystems
// frozen, QEMU paused) only while its overlay is copied, so it publishes
// the disk whole without a stop.
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from '@berth/db';
import { apiUrl } from '../api-url.ts';
import { EngineError, isEngineError } from '../errors.ts';
import type { InstanceService } from '../instances/instances.ts';
import type { OperationContext, OperationService } from '../operations/operations.ts';
import type { Operation } from '../schemas/index.ts';
import { tempSiblingOf } from '../storage/pool-paths.ts';
import type { StoragePoolService } from '../storage/storage-pools.ts';
import { copyTree, removeTree } from '../storage/tree-ops.ts';
import { randomHex } from '../backups/backup-files.ts';
import { unshiftCopy, volumeShift } from '../storage/volume-ownership.ts';
import type { ImageTemplate } from './image-metadata.ts';
import type { ImageService } from './images.ts';
import { throttled } from '../operations/progress.ts';
import { IMAGE_DISK, rootDiskPlan } from '../drivers/qemu/root-disk.ts';
import { copyVmBootFiles, flattenVmDisk, holdVmVolume } from '../storage/vm-volume-disk.ts';

export interface PublishOptions {
  /** Publish this snapshot rather than the instance. */
  snapshot?: string;
  alias?: string;
  /** Merged over the properties taken from the instance's `image.*` keys. */
  properties?: Record<string, string>;
  public?: boolean;
}

export interface InstancePublisherOptions {
  db: Database;
  operations: OperationService;
  instances: InstanceService;
  storage: StoragePoolService;
  images: ImageService;
}

export class InstancePublisher {
  readonly #db: Database;
  readonly #operations: OperationService;
  readonly #instances: InstanceService;
  readonly #storage: StoragePoolService;
  readonly #images: ImageService;

  constructor(options: InstancePublisherOptions) {
    this.#db = options.db;
    this.#operations = options.operations;
    this.#instances = options.instances;
    this.#storage = options.storage;
    this.#images = options.images;
  }

  /** Builds an image from an instance (a container stopped; a VM also running) or a snapshot; the operation ends with `{ fingerprint, size }`. */
  async publish(
    project: string,
    instance: string,
    options: PublishOptions = {},
  ): Promise<Operation> {
    const { instance: inst, view } = await this.#instances.resolve(project, instance);
    if (options.snapshot !== undefined) {
      if (!(await this.#db.snapshots.get(inst.record.id, options.snapshot)))
        throw EngineError.notFound('Snapshot', { field: 'snapshot' });
    } else if (
      inst.type === 'container' &&
      (await this.#instances.driverFor(inst.type).status(view)) !== 'Stopped'
    ) {
      throw new EngineError(
        'CONFLICT',
        `Instance "${instance}" must be stopped to be published (or publish one of its snapshots)`,
      );
    }
    if (options.alias !== undefined) {
      const existing = await this.#images
        .getAlias(project, options.alias)
        .catch((error: unknown) => {
          if (isEngineError(error, 'NOT_FOUND')) return null;
          throw error;
        });
      if (existing)
        throw new EngineError('ALREADY_EXISTS', `Image alias "${options.alias}" already exists`, {
          field: 'alias',
        });
    }
    return this.#operations.start({
      project,
      description: 'Publishing instance',
      resources: { instances: [apiUrl.instance(project, instance)] },
      run: (ctx) => this.#publish(project, instance, options, ctx),
    });
  }

  async #publish(
    project: string,
    instanceName: string,
    options: PublishOptions,
    ctx: OperationContext,
  ): Promise<Record<string, unknown>> {
    const progress = throttled(ctx);
    const { instance: firstInstance, view: first } = await this.#instances.resolve(
      project,
      instanceName,
    );
    const work = tempSiblingOf(first.paths.dir, 'snapshot', randomHex());
    try {
      await mkdir(work, { mode: 0o700 });
      const vm = firstInstance.type === 'virtual-machine';
      const rootfs = path.join(work, 'rootfs');
      await progress(5, vm ? 'Copying virtual machine disk' : 'Copying root filesystem');
      const copied = await this.#instances.locks.with(
        project,
        instanceName,
        'publish',
        async () => {
          const { instance, view, pool } = await this.#instances.resolve(project, instanceName);
          let config = instance.expandedConfig;
          let from = view.paths;
          if (options.snapshot !== undefined) {
            const snapshot = await this.#db.snapshots.get(instance.record.id, options.snapshot);
            if (!snapshot) throw EngineError.notFound('Snapshot', { field: 'snapshot' });
            config = { ...instance.expandedConfig, ...snapshot.config };
            from = await this.#storage.snapshotPaths(
              pool,
              project,
              instanceName,
              instance.type,
              options.snapshot,
            );
          } else if (
            instance.type === 'container' &&
            (await this.#instances.driverFor(instance.type).status(view)) !== 'Stopped'
          ) {
            throw new EngineError(
              'CONFLICT',
              `Instance "${instanceName}" must be stopped to be published`,
            );
          }
          if (instance.type === 'virtual-machine') {
            const held = path.join(work, 'held');
            const writable = options.snapshot === undefined;
            const hold = () => holdVmVolume(from.dir, held, { writable, signal: ctx.signal });
            if (writable)
              await this.#instances.driverFor(instance.type).withQuiescedStorage(view, hold);
            else await hold();
            return { instance, config, shift: null, held };
          }
          await copyTree(from.rootfs, rootfs, ctx.signal);
          return { instance, config, shift: await volumeShift(from.dir), held: null };
        },
      );
      if (copied.held !== null) {
        // An image's disk stands alone: the overlay merged with its backing image, compressed as LXD's are.
        const blank = rootDiskPlan(copied.instance.expandedDevices).sizeBytes;
        await mkdir(rootfs, { mode: 0o755 });
        await flattenVmDisk(copied.held, path.join(rootfs, IMAGE_DISK), {
          compress: true,
          signal: ctx.signal,
          ...(blank ? { blankSizeBytes: blank } : {}),
        });
        await copyVmBootFiles(copied.held, rootfs);
        await removeTree(copied.held);
      } else {
        await progress(30, 'Unshifting ownership');
        await unshiftCopy(rootfs, copied.shift);
      }

      // As LXD: the image's properties come from the instance's image.* keys.
      const properties: Record<string, string> = {};
      for (const [key, value] of Object.entries(copied.config))
        if (key.startsWith('image.')) properties[key.slice('image.'.length)] = value;
      Object.assign(properties, options.properties ?? {});
      const base = copied.config['volatile.base_image'];
      const { templates, files } = await this.#baseTemplates(project, base);

      await progress(40, 'Packing image');
      const op = await this.#images.importFromDirectory(
        project,
        {
          rootfsDir: rootfs,
          type: copied.instance.type,
          metadata: {
            architecture: copied.instance.record.architecture,
            properties,
            templates,
          },
          templates: files,
        },
        {
          aliases: options.alias ? [options.alias] : [],
          public: options.public ?? false,
          filename: `${instanceName}.tar.gz`,
        },
      );
      const done = await this.#operations.wait(op.id);
      if (done.status !== 'Success')
        throw new EngineError('INTERNAL', `Publishing "${instanceName}" failed: ${done.err}`);
      await progress(100, 'Done');
      return { ...(done.metadata ?? {}) };
    } finally {
      await removeTree(work);
    }
  }

  /** The templates of the image the instance came from, when it is still here. */
  async #baseTemplates(
    project: string,
    fingerprint: string | undefined,
  ): Promise<{ templates: Record<string, ImageTemplate>; files: Record<string, string> }> {
    const none = { templates: {}, files: {} };
    if (!fingerprint) return none;
    try {
      await this.#images.get(project, fingerprint);
      const metadata = await this.#images.metadata(fingerprint);
      const dir = this.#images.files.templates(fingerprint);
      const files: Record<string, string> = {};
      for (const name of await readdir(dir).catch(() => [] as string[]))
        files[name] = await readFile(path.join(dir, name), 'utf8');
      const templates = Object.fromEntries(
        Object.entries(metadata.templates).filter(([, t]) => files[t.template] !== undefined),
      );
      return { templates, files };
    } catch (error) {
      if (isEngineError(error, 'NOT_FOUND')) return none;
      throw error;
    }
  }
}
