// Instances: the common logic over the drivers (LXD's driver_common.go):
// names, profiles, config validation and expansion, limits, volatile keys,
// locks and lifecycle events. What differs per type is the driver's.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Database, InstanceRecord, ProfileRecord, SnapshotRecord, Stores } from '@berth/db';
import { EngineError, isEngineError } from '../errors.ts';

const isNotFound = (error: unknown) => isEngineError(error, 'NOT_FOUND');
import type { EventBus } from '../events/event-bus.ts';
import { apiUrl } from '../api-url.ts';
import type { z } from 'zod';
import {
  ExecPost,
  type ExecResult,
  InstancePatch,
  InstancePut,
  InstancesPost,
  InstanceStatePut,
  StatusCode,
  type Instance,
  type InstanceFull,
  type InstanceBackup,
  type InstanceSnapshot,
  type InstanceState,
  type InstanceStatus,
  type InstanceType,
  type Operation,
} from '../schemas/index.ts';
import { parseInput } from '../parse-input.ts';
import { nextInterfaceHwaddr, randomInstanceName, validInstanceName } from '../validation/index.ts';
import { filterObjects } from '../filter/index.ts';
import { checkProjectLimits, type InstanceUsage } from '../projects/project-limits.ts';
import { profileProjectOf } from '../projects/projects.ts';
import type { DriverRegistry, InstanceHostEvent } from '../drivers/registry.ts';
import type { ConsoleStream, DriverInstance, ExecProcess, FileWrite } from '../drivers/driver.ts';
import type { OperationService } from '../operations/operations.ts';
import { expandInstance, type ExpandedInstance } from './expanded-instances.ts';
import { InstanceLocks } from './instance-lock.ts';
import { validateExpanded, validateLocal, type InstanceShape } from './validate-instance.ts';
import { checkEffectiveRestrictions } from '../projects/project-restrictions.ts';
import { Reverter } from '../reverter.ts';
import type { StoragePoolService } from '../storage/storage-pools.ts';
import type { ImageService } from '../images/images.ts';
import { rootDiskOf } from '../config/devices.ts';
import { matchVolumeShift } from '../backups/container-ownership.ts';
import {
  copiedConfig,
  copiedDevices,
  parseCopySource,
  withoutEchoedVolatile,
} from './instance-copy.ts';

/** The pool of an instance's root disk (validated expanded devices always have one). */
export function poolOf(instance: {
  expandedDevices: Record<string, Record<string, string>>;
}): string {
  return rootDiskOf(instance.expandedDevices)?.[1].pool ?? 'default';
}

const hostArchitecture: string =
  (
    {
      x64: 'x86_64',
      arm64: 'aarch64',
      arm: 'armv7l',
      ppc64: 'ppc64le',
      s390x: 's390x',
      riscv64: 'riscv64',
    } as Record<string, string>
  )[os.arch()] ?? os.arch();

export type Recursion = 0 | 1 | 2;

type CopyRequest = Extract<z.output<typeof InstancesPost>['source'], { type: 'copy' }>;

/** What a copy is made from, resolved before its record is written. */
interface CopySource {
  project: string;
  instance: ExpandedInstance;
  /** Copying from this snapshot of `instance` (its content, config and devices). */
  snapshot: SnapshotRecord | undefined;
  instanceOnly: boolean;
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
}

export interface InstanceCompanions {
  /**
   * Snapshots and backups of instances known to exist, in their order: a
   * whole list at once, so a list of hundreds costs a few queries, not
   * hundreds.
   */
  of(
    instances: readonly { id: number; project: string; name: string }[],
  ): Promise<{ snapshots: InstanceSnapshot[]; backups: InstanceBackup[] }[]>;
  renamed(project: string, from: string, to: string): Promise<void>;
  deleted(project: string, name: string): Promise<void>;
}

export class InstanceService {
  readonly locks = new InstanceLocks();

  constructor(
    private readonly db: Database,
    private readonly events: EventBus,
    private readonly operations: OperationService,
    private readonly drivers: DriverRegistry,
    private readonly storage: StoragePoolService,
    private readonly images: ImageService,
    private readonly networks: { get(name: string): Promise<unknown> },
  ) {}

  // ------------------------------------------------------------------ reads

  /** Names of a project's instances (LXD's recursion=0 gives their URLs). */
  async names(project: string): Promise<string[]> {
    await this.#project(this.db, project);
    return this.db.instances.names(project);
  }

  /** Instances of a project (or of all projects), optionally filtered with LXD's filter syntax. */
  async list(project: string | undefined, options: { filter?: string } = {}): Promise<Instance[]> {
    const expanded = await this.#listExpanded(project);
    const out = await Promise.all(expanded.map((e) => this.#toApi(e)));
    return options.filter ? filterObjects(out, options.filter) : out;
  }

  async #listExpanded(project: string | undefined): Promise<ExpandedInstance[]> {
    if (project !== undefined) await this.#project(this.db, project);
    const records = await this.db.instances.list(project);
    const profiles = await this.#profilesFor(this.db, records);
    return records.map((r) => expandInstance(r, profiles(r.project)));
  }

  /** recursion=2: with state, snapshots and backups. */
  async listFull(
    project: string | undefined,
    options: { filter?: string } = {},
  ): Promise<InstanceFull[]> {
    // One query for all instances and their profiles, one for which have
    // snapshots, one listing of backups; each then costs only its driver state.
    return this.#fullList(await this.#listExpanded(project), options.filter);
  }

  async get(project: string, name: string): Promise<Instance> {
    return this.#toApi(await this.#expanded(this.db, project, name));
  }

  async getFull(project: string, name: string): Promise<InstanceFull> {
    const [full] = await this.#fullList([await this.#expanded(this.db, project, name)]);
    return full!;
  }

  /**
   * The instance's live state. `disk` walks the root volume (milliseconds per
   * instance), so lists leave it out, as LXD's dir pools do.
   */
  async state(
    project: string,
    name: string,
    options: { disk?: boolean } = {},
  ): Promise<InstanceState> {
    return this.#stateOf(await this.#expanded(this.db, project, name), options);
  }

  async #stateOf(instance: ExpandedInstance, options: { disk?: boolean }): Promise<InstanceState> {
    const state = this.drivers.has(instance.type)
      ? await this.drivers.get(instance.type).renderState(await this.#view(instance))
      : stoppedState();
    const [rootName] = rootDiskOf(instance.expandedDevices) ?? [];
    if (rootName && options.disk !== false)
      state.disk[rootName] = { usage: await this.#diskUsage(instance) };
    return state;
  }

  /**
   * Root volume usage; walking a tree costs milliseconds, so a figure is
   * reused for a few seconds (lists of many instances ask for all at once).
   */
  async #diskUsage(instance: ExpandedInstance): Promise<number> {
    const key = `${instance.record.project}/${instance.name}`;
    const cached = this.#usage.get(key);
    if (cached && cached.at > Date.now() - 15_000) return cached.bytes;
    const bytes = await this.storage
      .volumeUsage(poolOf(instance), instance.record.project, instance.name, instance.type)
      .catch(() => 0);
    this.#usage.set(key, { bytes, at: Date.now() });
    return bytes;
  }

  readonly #usage = new Map<string, { bytes: number; at: number }>();

  // ----------------------------------------------------------------- writes

  /**
   * Creates an instance. Input is checked at once (a bad name or key fails
   * here, with nothing written); the driver's work runs as an operation.
   */
  async create(
    project: string,
    input: InstancesPost,
  ): Promise<{ instance: Instance; operation: Operation }> {
    return this.#create(project, input);
  }

  /** `create`, telling `failed` the work's own error (the operation keeps only its message). */
  async #create(
    project: string,
    input: InstancesPost,
    failed: (error: unknown) => void = () => {},
  ): Promise<{ instance: Instance; operation: Operation }> {
    const req = parseInput(InstancesPost, input);
    if (req.source.type === 'backup') {
      throw new EngineError(
        'NOT_IMPLEMENTED',
        `source.type: creating from "${req.source.type}" is not available yet`,
        { field: 'source.type' },
      );
    }
    if (req.name) validInstanceName(req.name);
    const copy =
      req.source.type === 'copy'
        ? await this.#copySource(project, req.source, input.type)
        : undefined;
    const type = copy?.instance.type ?? req.type;
    if (copy) req.config = withoutEchoedVolatile(req.config, copy.config);
    validateLocal(type, req.config, req.devices);
    const image =
      req.source.type === 'image' ? await this.#sourceImage(project, req.source) : undefined;
    const devices = copy ? copiedDevices(copy.devices, req.devices) : req.devices;

    const created = await this.db.transaction(async (tx) => {
      const projectRecord = await this.#project(tx, project);
      const name = req.name || randomInstanceName(await tx.instances.names(project));
      if (await tx.instances.get(project, name)) {
        throw new EngineError('ALREADY_EXISTS', `Instance "${name}" already exists`, {
          field: 'name',
        });
      }
      const profileNames = req.profiles ?? copy?.instance.record.profiles ?? ['default'];
      const profileRecords = await this.#resolveProfiles(tx, project, profileNames);
      const config: Record<string, string> = {
        // As LXD: the image's properties are kept as image.* keys.
        ...Object.fromEntries(
          Object.entries(image?.properties ?? {}).map(([k, v]) => [`image.${k}`, v]),
        ),
        ...(copy ? copiedConfig(copy.config, req.config) : req.config),
        'volatile.uuid': randomUUID(),
        'volatile.last_state.power': 'STOPPED',
        ...(image ? { 'volatile.base_image': image.fingerprint } : {}),
      };
      const shape = this.#shape(name, type, config, devices, profileRecords);
      await this.#assignHwaddrs(tx, shape);
      await validateExpanded(shape, projectRecord.config);
      if (copy) {
        await this.#checkCopiedSnapshots(
          name,
          type,
          await this.#copiedSnapshots(copy),
          profileRecords,
          projectRecord.config,
        );
      }
      await this.#checkNetworks(shape);
      await this.#checkLimits(tx, projectRecord.config, project, {
        name,
        type,
        expandedConfig: shape.expandedConfig,
      });
      return tx.instances.create(projectRecord.id, {
        name,
        type,
        architecture:
          copy?.instance.record.architecture ??
          req.architecture ??
          image?.architecture ??
          hostArchitecture,
        ephemeral: req.ephemeral,
        description: req.description,
        config: shape.localConfig,
        devices,
        profileIds: profileRecords.map((p) => p.id),
      });
    });

    if (copy) return this.#startCopy(project, created, copy, req.start, failed);
    const name = created.name;
    const url = apiUrl.instance(project, name);
    const instance = await this.get(project, name);
    this.events.lifecycle(project, 'instance-created', url);
    const operation = await this.operations.start({
      project,
      description: 'Creating instance',
      resources: { instances: [url] },
      run: (ctx) =>
        this.locks
          .with(project, name, 'create', async () => {
            const expanded = await this.#expanded(this.db, project, name);
            const pool = poolOf(expanded);
            await Reverter.run(async (revert) => {
              revert.add(async () => {
                await this.db.instances.delete(created.id);
                this.events.lifecycle(project, 'instance-deleted', url);
              });
              await ctx.progress(10, 'Unpacking image');
              const driver = this.drivers.has(expanded.type)
                ? this.drivers.get(expanded.type)
                : undefined;
              const view = await this.#view(expanded);
              // The image as the driver wants it (shifted), from the image cache.
              const preparation = image && driver ? driver.imagePreparation(view) : null;
              const prepared =
                image && preparation
                  ? await this.images.preparedRootfs(image.fingerprint, preparation)
                  : undefined;
              const fromRootfs = prepared
                ? prepared.rootfs
                : image
                  ? await this.images.rootfsPath(image.fingerprint)
                  : undefined;
              await ctx.progress(40, 'Creating storage volume');
              await this.storage.createInstanceVolume(pool, project, name, expanded.type, {
                ...(fromRootfs ? { fromRootfs } : {}),
                plainCopy: prepared?.plainCopy ?? false,
                signal: ctx.signal,
              });
              revert.add(() =>
                this.storage.deleteInstanceVolume(pool, project, name, expanded.type),
              );
              if (driver) {
                await ctx.progress(80, 'Preparing instance');
                await driver.create(
                  view,
                  prepared && preparation ? { prepared: preparation.prepared } : {},
                );
                revert.add(() => driver.delete(view));
              }
            });
          })
          .then(async () => {
            if (req.start) await this.changeStateAndWait(project, name, { action: 'start' });
          })
          .catch((error: unknown) => {
            failed(error);
            throw error;
          }),
    });
    return { instance, operation };
  }

  /**
   * Creates an instance and waits until it exists (and runs, with `start`).
   * A failure is the work's own EngineError, code and field kept (a driver's
   * INVALID_ARGUMENT stays one), as the operation's `err` keeps its message.
   */
  async createAndWait(project: string, input: InstancesPost): Promise<Instance> {
    let failure: unknown;
    const { instance, operation } = await this.#create(project, input, (error) => {
      failure = error;
    });
    const done = await this.operations.wait(operation.id);
    if (done.status !== 'Success') {
      if (isEngineError(failure)) throw failure;
      throw new EngineError('INTERNAL', `Creating instance "${instance.name}" failed: ${done.err}`);
    }
    return this.get(project, instance.name);
  }

  async #sourceImage(
    project: string,
    source: { alias?: string | undefined; fingerprint?: string | undefined },
  ) {
    if (source.fingerprint) {
      return this.images.get(project, source.fingerprint).catch((error: unknown) => {
        throw isNotFound(error)
          ? new EngineError(
              'NOT_FOUND',
              `source.fingerprint: image "${source.fingerprint}" not found`,
              { field: 'source.fingerprint' },
            )
          : error;
      });
    }
    if (!source.alias)
      throw EngineError.invalid('source', 'an image source needs an alias or a fingerprint');
    const fingerprint = await this.images
      .resolveAlias(project, source.alias)
      .catch((error: unknown) => {
        throw isNotFound(error)
          ? new EngineError('NOT_FOUND', `source.alias: image alias "${source.alias}" not found`, {
              field: 'source.alias',
            })
          : error;
      });
    return this.images.get(project, fingerprint);
  }

  /** The instance (or snapshot) a copy is made from, checked before anything is written. */
  async #copySource(
    project: string,
    source: CopyRequest,
    requestedType: string | undefined,
  ): Promise<CopySource> {
    if (source.refresh) {
      throw new EngineError(
        'NOT_IMPLEMENTED',
        'source.refresh: refreshing an existing copy is not supported',
        { field: 'source.refresh' },
      );
    }
    const { instance: name, snapshot } = parseCopySource(source.source);
    const sourceProject = source.project || project;
    if (!(await this.db.projects.get(sourceProject))) {
      throw new EngineError('NOT_FOUND', `source.project: project "${sourceProject}" not found`, {
        field: 'source.project',
      });
    }
    const instance = await this.#expanded(this.db, sourceProject, name).catch((error: unknown) => {
      throw isNotFound(error)
        ? new EngineError('NOT_FOUND', `source.source: instance "${name}" not found`, {
            field: 'source.source',
          })
        : error;
    });
    if (requestedType !== undefined && requestedType !== instance.type) {
      throw EngineError.invalid(
        'type',
        `a copy of "${name}" is a ${instance.type} like its source, not a ${requestedType}`,
      );
    }
    const record =
      snapshot === undefined
        ? undefined
        : ((await this.db.snapshots.get(instance.record.id, snapshot)) ?? undefined);
    if (snapshot !== undefined && !record) {
      throw new EngineError(
        'NOT_FOUND',
        `source.source: snapshot "${snapshot}" of instance "${name}" not found`,
        { field: 'source.source' },
      );
    }
    return {
      project: sourceProject,
      instance,
      snapshot: record,
      instanceOnly: source.instance_only || source.container_only === true,
      config: record?.config ?? instance.record.config,
      devices: record?.devices ?? instance.record.devices,
    };
  }

  /** The snapshots a copy takes along (none for a copy of a snapshot, or with instance_only). */
  async #copiedSnapshots(copy: CopySource): Promise<SnapshotRecord[]> {
    return copy.snapshot || copy.instanceOnly
      ? []
      : this.db.snapshots.list(copy.instance.record.id);
  }

  /**
   * A copy's snapshots can be restored later, so each must be allowed in
   * the target project as it would be expanded there (restore keeps the
   * instance's profiles and volatile keys, takes the snapshot's config and
   * devices).
   */
  async #checkCopiedSnapshots(
    name: string,
    type: InstanceType,
    snapshots: readonly SnapshotRecord[],
    profiles: ProfileRecord[],
    projectConfig: Record<string, string>,
  ): Promise<void> {
    for (const snapshot of snapshots) {
      await validateExpanded(
        this.#shape(name, type, copiedConfig(snapshot.config, {}), snapshot.devices, profiles),
        projectConfig,
        `snapshot "${name}/${snapshot.name}" (copied from "${snapshot.instance}/${snapshot.name}")`,
      );
    }
  }

  /**
   * A copy's operation: the source's volume folder (or its snapshot's) is
   * copied whole, id shift record included, then the source's snapshots,
   * then the driver's create (which re-shifts the rootfs when the copy's id
   * map differs, e.g. another `security.privileged`); under both instances'
   * locks. A running source is frozen while its rootfs is copied, as the
   * backup export does, so the copy is consistent. A failure removes the
   * record, the volume and the snapshots made.
   */
  async #startCopy(
    project: string,
    created: InstanceRecord,
    copy: CopySource,
    start: boolean,
    failed: (error: unknown) => void,
  ): Promise<{ instance: Instance; operation: Operation }> {
    const name = created.name;
    const url = apiUrl.instance(project, name);
    const sourceName = copy.instance.name;
    const instance = await this.get(project, name);
    this.events.lifecycle(project, 'instance-created', url);
    const operation = await this.operations.start({
      project,
      description: 'Creating instance',
      resources: { instances: [url, apiUrl.instance(copy.project, sourceName)] },
      run: (ctx) =>
        this.locks
          .with(project, name, 'create', () =>
            Reverter.run((revert) => {
              revert.add(async () => {
                await this.db.instances.delete(created.id);
                this.events.lifecycle(project, 'instance-deleted', url);
              });
              return this.locks.with(copy.project, sourceName, 'copy', async () => {
                const target = await this.#expanded(this.db, project, name);
                const source = await this.#expanded(this.db, copy.project, sourceName);
                const pool = poolOf(target);
                const sourcePool = poolOf(source);
                const driver = this.drivers.has(target.type)
                  ? this.drivers.get(target.type)
                  : undefined;
                const sourceView = await this.#view(source);
                await ctx.progress(10, 'Copying root filesystem');
                if (copy.snapshot) {
                  const snap = await this.storage.snapshotPaths(
                    sourcePool,
                    copy.project,
                    sourceName,
                    source.type,
                    copy.snapshot.name,
                  );
                  await this.storage.createInstanceVolume(pool, project, name, target.type, {
                    fromVolume: snap.dir,
                    signal: ctx.signal,
                  });
                } else {
                  const running = driver ? (await driver.status(sourceView)) === 'Running' : false;
                  if (running) await driver?.freeze(sourceView);
                  try {
                    await this.storage.createInstanceVolume(pool, project, name, target.type, {
                      fromVolume: sourceView.paths.dir,
                      signal: ctx.signal,
                    });
                  } finally {
                    if (running) await driver?.unfreeze(sourceView);
                  }
                }
                revert.add(() =>
                  this.storage.deleteInstanceVolume(pool, project, name, target.type),
                );

                const snapshots = await this.#copiedSnapshots(copy);
                // Again under the locks: a snapshot taken since the request is checked too.
                await this.#checkCopiedSnapshots(
                  name,
                  target.type,
                  snapshots,
                  await this.#resolveProfiles(this.db, project, target.record.profiles),
                  (await this.#project(this.db, project)).config,
                );
                const copiedSnapshots: string[] = [];
                for (const [i, snapshot] of snapshots.entries()) {
                  ctx.signal.throwIfAborted();
                  await ctx.progress(
                    30 + (50 * i) / snapshots.length,
                    `Copying snapshot ${snapshot.name}`,
                  );
                  const from = await this.storage.snapshotPaths(
                    sourcePool,
                    copy.project,
                    sourceName,
                    source.type,
                    snapshot.name,
                  );
                  const made = await this.storage.snapshotInstanceVolume(
                    pool,
                    project,
                    name,
                    target.type,
                    snapshot.name,
                    { from: from.dir, signal: ctx.signal },
                  );
                  copiedSnapshots.push(made.dir);
                  await this.db.snapshots.create(created.id, {
                    name: snapshot.name,
                    description: snapshot.description,
                    createdAt: snapshot.createdAt,
                    expiresAt: snapshot.expiresAt,
                    // The source's MACs and uuid are not the copy's (restore keeps today's volatile keys).
                    config: copiedConfig(snapshot.config, {}),
                    devices: snapshot.devices,
                  });
                }

                if (driver) {
                  await ctx.progress(85, 'Preparing instance');
                  const view = await this.#view(target);
                  await driver.create(view, {});
                  revert.add(() => driver.delete(view));
                  if (target.type === 'container') {
                    for (const dir of copiedSnapshots) await matchVolumeShift(dir, view.paths.dir);
                  }
                }
              });
            }),
          )
          .then(async () => {
            if (start) await this.changeStateAndWait(project, name, { action: 'start' });
          })
          .catch((error: unknown) => {
            failed(error);
            throw error;
          }),
    });
    return { instance, operation };
  }

  /** PUT: replaces description, config, devices, profiles, ephemeral. Volatile keys are kept. */
  async update(project: string, name: string, input: InstancePut): Promise<Instance> {
    const req = parseInput(InstancePut, input);
    return this.locks.with(project, name, 'update', async () => {
      const current = await this.#expanded(this.db, project, name);
      validateLocal(current.type, req.config, req.devices);
      await this.db.transaction(async (tx) => {
        const projectRecord = await this.#project(tx, project);
        const profileRecords = await this.#resolveProfiles(tx, project, req.profiles);
        const volatile = Object.fromEntries(
          Object.entries(current.record.config).filter(([k]) => k.startsWith('volatile.')),
        );
        const shape = this.#shape(
          name,
          current.type,
          { ...req.config, ...volatile },
          req.devices,
          profileRecords,
        );
        await this.#assignHwaddrs(tx, shape);
        await validateExpanded(shape, projectRecord.config);
        await this.#checkNetworks(shape);
        await this.#checkLimits(tx, projectRecord.config, project, {
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
        await this.#applyLive(project, name, current);
      } catch (error) {
        // As LXD: a change the running instance refuses is not kept. The
        // record goes back, then the driver is asked to undo what it applied.
        const attempted = await this.#expanded(this.db, project, name);
        await this.db.transaction(async (tx) => {
          const profiles = await this.#resolveProfiles(tx, project, current.record.profiles);
          await tx.instances.update(current.record.id, {
            description: current.record.description,
            ephemeral: current.record.ephemeral,
            config: current.record.config,
            devices: current.record.devices,
            profileIds: profiles.map((p) => p.id),
          });
        });
        await this.#applyLive(project, name, attempted).catch(() => {});
        throw error;
      }
      this.events.lifecycle(project, 'instance-updated', apiUrl.instance(project, name));
      return this.get(project, name);
    });
  }

  /** PATCH: config and devices merge into the current ones. */
  async patch(project: string, name: string, input: InstancePatch): Promise<Instance> {
    const req = parseInput(InstancePatch, input);
    const current = await this.#expanded(this.db, project, name);
    const localConfig = Object.fromEntries(
      Object.entries(current.record.config).filter(([k]) => !k.startsWith('volatile.')),
    );
    return this.update(project, name, {
      description: req.description ?? current.record.description,
      config: { ...localConfig, ...req.config },
      devices: { ...current.record.devices, ...req.devices },
      profiles: req.profiles ?? current.record.profiles,
      ephemeral: req.ephemeral ?? current.record.ephemeral,
    });
  }

  async rename(project: string, name: string, newName: string): Promise<Instance> {
    validInstanceName(newName);
    await this.locks.with(project, name, 'rename', async () => {
      const current = await this.#expanded(this.db, project, name);
      if ((await this.#status(current)) !== 'Stopped') {
        throw new EngineError('CONFLICT', 'Renaming of running instance not allowed');
      }
      const view = await this.#view(current);
      const pool = poolOf(current);
      await Reverter.run(async (revert) => {
        await this.db.transaction(async (tx) => {
          if (await tx.instances.get(project, newName)) {
            throw new EngineError('ALREADY_EXISTS', `Instance "${newName}" already exists`, {
              field: 'name',
            });
          }
          await tx.instances.rename(current.record.id, newName);
        });
        revert.add(() => this.db.instances.rename(current.record.id, name));
        await this.storage.renameInstanceVolume(pool, project, name, current.type, newName);
        revert.add(() =>
          this.storage
            .renameInstanceVolume(pool, project, newName, current.type, name)
            .then(() => undefined),
        );
        if (this.drivers.has(current.type))
          await this.drivers.get(current.type).rename(view, newName);
      });
    });
    await this.#companions?.renamed(project, name, newName);
    this.events.lifecycle(project, 'instance-renamed', apiUrl.instance(project, newName), {
      old_name: name,
    });
    return this.get(project, newName);
  }

  /** Deletes a stopped instance; a running one only with `force` (stopped first). */
  async delete(project: string, name: string, options: { force?: boolean } = {}): Promise<void> {
    await this.locks.with(project, name, 'delete', async () => {
      const current = await this.#expanded(this.db, project, name);
      const status = await this.#status(current);
      if (status !== 'Stopped') {
        if (!options.force)
          throw new EngineError(
            'CONFLICT',
            'Instance is running; stop it first or delete with force',
          );
        this.#expect(project, name, 'stopped');
        await this.drivers.get(current.type).stop(await this.#view(current));
      }
      await this.#deleteUnlocked(project, name);
    });
  }

  /** The pieces other services (snapshots, backups) work with, for one instance. */
  async resolve(
    project: string,
    name: string,
  ): Promise<{ instance: ExpandedInstance; view: DriverInstance; pool: string }> {
    const instance = await this.#expanded(this.db, project, name);
    return { instance, view: await this.#view(instance), pool: poolOf(instance) };
  }

  /** The driver for an instance type (throws DRIVER_UNAVAILABLE when there is none). */
  driverFor(type: InstanceType) {
    return this.drivers.get(type);
  }

  hasDriver(type: InstanceType): boolean {
    return this.drivers.has(type);
  }

  /** Removes a stopped instance everywhere: driver files, storage, records. */
  async #deleteUnlocked(project: string, name: string): Promise<void> {
    const current = await this.#expanded(this.db, project, name);
    const view = await this.#view(current);
    if (this.drivers.has(current.type)) await this.drivers.get(current.type).delete(view);
    await this.storage
      .deleteInstanceVolume(poolOf(current), project, name, current.type)
      .catch((error: unknown) => {
        // An instance created before its volume existed (or whose volume is gone) still goes.
        if (!isNotFound(error)) throw error;
      });
    await this.db.instances.delete(current.record.id);
    await this.#companions?.deleted(project, name);
    this.events.lifecycle(project, 'instance-deleted', apiUrl.instance(project, name));
  }

  /**
   * What lives beside an instance in other services (snapshots, backups):
   * listed in its full view, renamed and deleted with it.
   */
  attachCompanions(companions: InstanceCompanions): void {
    this.#companions = companions;
  }

  #companions: InstanceCompanions | undefined;

  /**
   * A config `name` would take on in `project` (a snapshot to restore, a
   * backup's snapshot to import): expanded with those profiles of the
   * project, validated whole, and allowed by the project's restrictions.
   * Throws the first problem, naming `what`.
   */
  async checkWouldBe(
    project: string,
    would: {
      name: string;
      type: InstanceType;
      config: Record<string, string>;
      devices: Record<string, Record<string, string>>;
      profiles: string[];
    },
    what: string,
  ): Promise<void> {
    const projectRecord = await this.#project(this.db, project);
    const profiles = await this.#resolveProfiles(this.db, project, would.profiles);
    await validateExpanded(
      this.#shape(would.name, would.type, would.config, would.devices, profiles),
      projectRecord.config,
      what,
    );
  }

  /**
   * What a start hands the driver: the instance as it is now, refused
   * (FORBIDDEN, naming the field) when its project's restrictions forbid it,
   * which covers an instance made before the project was restricted and
   * host paths whose symlinks changed since they were set. Host-path disks
   * are mounted from the paths resolved here, so what is mounted is what
   * was checked.
   */
  async #startable(instance: ExpandedInstance): Promise<DriverInstance> {
    const projectRecord = await this.#project(this.db, instance.record.project);
    const devices = await checkEffectiveRestrictions(projectRecord.config, {
      what: `instance "${instance.name}"`,
      type: instance.type,
      config: instance.expandedConfig,
      devices: instance.expandedDevices,
    });
    return { ...(await this.#view(instance)), expandedDevices: devices };
  }

  /** start / stop / restart / freeze / unfreeze, as an operation under the instance's lock. */
  async changeState(project: string, name: string, input: InstanceStatePut): Promise<Operation> {
    return this.#changeState(project, name, input);
  }

  async #changeState(
    project: string,
    name: string,
    input: InstanceStatePut,
    failed: (error: unknown) => void = () => {},
  ): Promise<Operation> {
    const req = parseInput(InstanceStatePut, input);
    const current = await this.#expanded(this.db, project, name);
    const driver = this.drivers.get(current.type);
    // Refused at once, so every caller gets FORBIDDEN rather than a failed operation.
    if (req.action === 'start' || req.action === 'restart') await this.#startable(current);
    const descriptions = {
      start: 'Starting instance',
      stop: 'Stopping instance',
      restart: 'Restarting instance',
      freeze: 'Freezing instance',
      unfreeze: 'Unfreezing instance',
    } as const;
    const timeoutMs = req.timeout < 0 ? Number.MAX_SAFE_INTEGER : req.timeout * 1000;
    return this.operations.start({
      project,
      description: descriptions[req.action],
      resources: { instances: [apiUrl.instance(project, name)] },
      run: () =>
        this.locks
          .with(project, name, req.action, async () => {
            const instance = await this.#expanded(this.db, project, name);
            const view = await this.#view(instance);
            const status = await driver.status(view);
            const url = apiUrl.instance(project, name);
            switch (req.action) {
              case 'start':
                if (status !== 'Stopped')
                  throw new EngineError('CONFLICT', `The instance is already running (${status})`);
                this.#expect(project, name, 'started');
                await driver.start(await this.#startable(instance));
                await this.#recordPower(instance, 'RUNNING');
                this.events.lifecycle(project, 'instance-started', url);
                break;
              case 'stop': {
                if (status === 'Stopped')
                  throw new EngineError('CONFLICT', 'The instance is already stopped');
                this.#expect(project, name, 'stopped');
                if (req.force || req.timeout === 0) await driver.stop(view);
                else await driver.shutdown(view, timeoutMs);
                await this.#recordPower(instance, 'STOPPED');
                this.events.lifecycle(
                  project,
                  req.force ? 'instance-stopped' : 'instance-shutdown',
                  url,
                );
                if (instance.record.ephemeral) await this.#deleteUnlocked(project, name);
                break;
              }
              case 'restart': {
                if (status === 'Stopped')
                  throw new EngineError('CONFLICT', 'The instance is not running');
                // Checked before it stops: a refused restart leaves it running.
                const startable = await this.#startable(instance);
                this.#expect(project, name, 'stopped');
                if (req.force) await driver.stop(view);
                else await driver.shutdown(view, timeoutMs);
                this.#expect(project, name, 'started');
                await driver.start(startable);
                await this.#recordPower(instance, 'RUNNING');
                this.events.lifecycle(project, 'instance-restarted', url);
                break;
              }
              case 'freeze':
                if (status !== 'Running')
                  throw new EngineError('CONFLICT', `The instance is not running (${status})`);
                await driver.freeze(view);
                await this.#recordPower(instance, 'FROZEN');
                this.events.lifecycle(project, 'instance-paused', url);
                break;
              case 'unfreeze':
                if (status !== 'Frozen')
                  throw new EngineError('CONFLICT', `The instance is not frozen (${status})`);
                await driver.unfreeze(view);
                await this.#recordPower(instance, 'RUNNING');
                this.events.lifecycle(project, 'instance-resumed', url);
                break;
            }
          })
          .catch((error: unknown) => {
            failed(error);
            throw error;
          }),
    });
  }

  /** Starts or stops and waits; throws the work's own EngineError (a refused start stays FORBIDDEN). */
  async changeStateAndWait(project: string, name: string, input: InstanceStatePut): Promise<void> {
    let failure: unknown;
    const op = await this.#changeState(project, name, input, (error) => {
      failure = error;
    });
    const done = await this.operations.wait(op.id);
    if (done.status === 'Success') return;
    if (isEngineError(failure) && failure.code === 'FORBIDDEN') throw failure;
    throw new EngineError('CONFLICT', done.err);
  }

  /**
   * Something happened to an instance outside an engine call: a `poweroff`
   * inside the container, or a reboot. Engine-made changes were announced by
   * the action itself and are skipped here.
   */
  async handleHostEvent(event: InstanceHostEvent): Promise<void> {
    const key = `${event.project}/${event.name}`;
    const expected = this.#expected.get(key);
    if (expected && expected.type === event.type && expected.until > Date.now()) {
      this.#expected.delete(key);
      return;
    }
    if (event.type === 'stopping') return;
    const record = await this.db.instances.get(event.project, event.name);
    if (!record) return;
    const url = apiUrl.instance(event.project, event.name);
    if (event.type === 'started') {
      await this.db.instances.setConfigKeys(record.id, { 'volatile.last_state.power': 'RUNNING' });
      this.events.lifecycle(event.project, 'instance-started', url);
      return;
    }
    if (event.target === 'reboot') {
      this.events.lifecycle(event.project, 'instance-restarted', url);
      return;
    }
    await this.db.instances.setConfigKeys(record.id, { 'volatile.last_state.power': 'STOPPED' });
    this.events.lifecycle(event.project, 'instance-stopped', url);
    if (record.ephemeral && !this.locks.held(event.project, event.name)) {
      await this.locks
        .with(event.project, event.name, 'delete', () =>
          this.#deleteUnlocked(event.project, event.name),
        )
        .catch(() => {});
    }
  }

  /**
   * At engine start: the database learns what really runs (instances outlive
   * the engine), and instances that should run come up, as LXD does for
   * `boot.autostart` (or, when unset, for those running at the last stop).
   */
  async reconcile(): Promise<void> {
    const records = await this.db.instances.list();
    const profiles = await this.#profilesFor(this.db, records);
    const toStart: ExpandedInstance[] = [];
    for (const record of records) {
      const instance = expandInstance(record, profiles(record.project));
      if (!this.drivers.has(instance.type)) continue;
      const status = await this.drivers.get(instance.type).status(await this.#view(instance));
      const power = status === 'Stopped' ? 'STOPPED' : status === 'Frozen' ? 'FROZEN' : 'RUNNING';
      const autostart = instance.expandedConfig['boot.autostart'];
      const wanted =
        autostart === 'true' ||
        (autostart === undefined && record.config['volatile.last_state.power'] === 'RUNNING');
      if (status === 'Stopped' && wanted) toStart.push(instance);
      else if (record.config['volatile.last_state.power'] !== power) {
        await this.db.instances.setConfigKeys(record.id, { 'volatile.last_state.power': power });
      }
    }
    toStart.sort(
      (a, b) =>
        Number(b.expandedConfig['boot.autostart.priority'] ?? 0) -
        Number(a.expandedConfig['boot.autostart.priority'] ?? 0),
    );
    for (const instance of toStart) {
      await this.changeStateAndWait(instance.record.project, instance.name, {
        action: 'start',
      }).catch((error: unknown) => {
        this.events.logging(
          instance.record.project,
          'error',
          `Failed to start instance "${instance.name}" at boot: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
    }
  }

  readonly #expected = new Map<string, { type: InstanceHostEvent['type']; until: number }>();

  #expect(project: string, name: string, type: InstanceHostEvent['type']): void {
    this.#expected.set(`${project}/${name}`, { type, until: Date.now() + 10_000 });
  }

  async #recordPower(
    instance: ExpandedInstance,
    power: 'RUNNING' | 'STOPPED' | 'FROZEN',
  ): Promise<void> {
    await this.db.instances.setConfigKeys(instance.record.id, {
      'volatile.last_state.power': power,
    });
    if (power === 'RUNNING') await this.db.instances.touch(instance.record.id);
  }

  // ------------------------------------------------------ inside the instance

  /** Runs a command to completion and returns its exit code and output (LXD's exec with record-output). */
  async exec(project: string, name: string, input: ExecPost): Promise<ExecResult> {
    const req = parseInput(ExecPost, input);
    const process = await this.#exec(project, name, req);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    process.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    process.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    let timer: NodeJS.Timeout | undefined;
    if (req.timeout > 0) timer = setTimeout(() => process.signal('SIGKILL'), req.timeout * 1000);
    try {
      const exitCode = await process.wait();
      return {
        exitCode,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /** An interactive command on a pty (terminals in the console). */
  async execInteractive(
    project: string,
    name: string,
    input: ExecPost,
    size: { cols: number; rows: number },
  ): Promise<ExecProcess> {
    return this.#exec(project, name, parseInput(ExecPost, input), size);
  }

  /**
   * A command whose streams the caller pipes itself (LXD's exec websockets):
   * separate stdout and stderr pipes, or one pty when `interactive` is given.
   */
  async execProcess(
    project: string,
    name: string,
    input: ExecPost,
    interactive?: { cols: number; rows: number },
  ): Promise<ExecProcess> {
    return this.#exec(project, name, parseInput(ExecPost, input), interactive);
  }

  async console(
    project: string,
    name: string,
    size: { cols: number; rows: number },
  ): Promise<ConsoleStream> {
    const { driver, view } = await this.#running(project, name);
    return driver.console(view, size);
  }

  async consoleLog(project: string, name: string): Promise<string> {
    const instance = await this.#expanded(this.db, project, name);
    return this.drivers.get(instance.type).consoleLog(await this.#view(instance));
  }

  async filePull(project: string, name: string, path: string) {
    const instance = await this.#expanded(this.db, project, name);
    return this.drivers.get(instance.type).filePull(await this.#view(instance), path);
  }

  async filePush(project: string, name: string, path: string, file: FileWrite): Promise<void> {
    const instance = await this.#expanded(this.db, project, name);
    await this.drivers.get(instance.type).filePush(await this.#view(instance), path, file);
  }

  async fileRemove(project: string, name: string, path: string): Promise<void> {
    const instance = await this.#expanded(this.db, project, name);
    await this.drivers.get(instance.type).fileRemove(await this.#view(instance), path);
  }

  async #exec(
    project: string,
    name: string,
    req: z.output<typeof ExecPost>,
    interactive?: { cols: number; rows: number },
  ): Promise<ExecProcess> {
    const { driver, view } = await this.#running(project, name);
    return driver.exec(view, {
      command: req.command,
      environment: req.environment,
      ...(req.cwd !== undefined ? { cwd: req.cwd } : {}),
      ...(req.user !== undefined ? { user: req.user } : {}),
      ...(req.group !== undefined ? { group: req.group } : {}),
      ...(interactive ? { interactive } : {}),
    });
  }

  async #running(project: string, name: string) {
    const instance = await this.#expanded(this.db, project, name);
    const driver = this.drivers.get(instance.type);
    const view = await this.#view(instance);
    const status = await driver.status(view);
    if (status !== 'Running')
      throw new EngineError('CONFLICT', `Instance "${name}" is not running (${status})`);
    return { driver, view };
  }

  // ---------------------------------------------------------------- helpers

  async #project(tx: Stores, project: string) {
    const record = await tx.projects.get(project);
    if (!record) throw EngineError.notFound('Project', { field: 'project' });
    return record;
  }

  async #expanded(tx: Stores, project: string, name: string): Promise<ExpandedInstance> {
    const projectRecord = await this.#project(tx, project);
    const record = await tx.instances.get(project, name);
    if (!record) throw EngineError.notFound('Instance', { field: 'name' });
    const profiles = await tx.profiles.getMany(
      profileProjectOf(project, projectRecord.config),
      record.profiles,
    );
    return expandInstance(record, profiles);
  }

  async #projectInstances(tx: Stores, project: string): Promise<ExpandedInstance[]> {
    const records = await tx.instances.list(project);
    const profiles = await this.#profilesFor(tx, records);
    return records.map((r) => expandInstance(r, profiles(r.project)));
  }

  /** Profiles per project of `records`, loaded once per project. */
  async #profilesFor(
    tx: Stores,
    records: InstanceRecord[],
  ): Promise<(project: string) => ProfileRecord[]> {
    const byProject = new Map<string, ProfileRecord[]>();
    for (const project of new Set(records.map((r) => r.project))) {
      const record = await this.#project(tx, project);
      byProject.set(project, await tx.profiles.list(profileProjectOf(project, record.config)));
    }
    return (project) => byProject.get(project) ?? [];
  }

  async #resolveProfiles(tx: Stores, project: string, names: string[]): Promise<ProfileRecord[]> {
    const seen = new Set<string>();
    names.forEach((n, i) => {
      if (seen.has(n))
        throw EngineError.invalid(`profiles[${i}]`, `profile "${n}" is listed twice`);
      seen.add(n);
    });
    const projectRecord = await this.#project(tx, project);
    const records = await tx.profiles.getMany(
      profileProjectOf(project, projectRecord.config),
      names,
    );
    names.forEach((n, i) => {
      if (!records.some((r) => r.name === n)) {
        throw new EngineError('NOT_FOUND', `profiles[${i}]: Profile "${n}" not found`, {
          field: `profiles[${i}]`,
        });
      }
    });
    return records;
  }

  #shape(
    name: string,
    type: InstanceType,
    config: Record<string, string>,
    devices: Record<string, Record<string, string>>,
    profiles: ProfileRecord[],
  ): InstanceShape {
    const expanded = expandInstance(
      {
        id: 0,
        project: '',
        name,
        type,
        architecture: '',
        ephemeral: false,
        stateful: false,
        description: '',
        createdAt: new Date(),
        lastUsedAt: null,
        expiresAt: null,
        node: 'none',
        config,
        devices,
        profiles: profiles.map((p) => p.name),
      },
      profiles,
    );
    return {
      name,
      type,
      localConfig: { ...config },
      localDevices: devices,
      expandedConfig: expanded.expandedConfig,
      expandedDevices: expanded.expandedDevices,
    };
  }

  /**
   * The project's limits with `instance` as it would be. Expanding every
   * instance of the project costs a query per instance's profiles, so it is
   * only done when the project has a limit at all.
   */
  async #checkLimits(
    tx: Stores,
    projectConfig: Record<string, string>,
    project: string,
    instance: InstanceUsage,
  ): Promise<void> {
    if (!Object.keys(projectConfig).some((key) => key.startsWith('limits.'))) return;
    const others = (await this.#projectInstances(tx, project)).filter(
      (i) => i.name !== instance.name,
    );
    checkProjectLimits(projectConfig, [...others, instance]);
  }

  /** A nic on a managed network needs that network to exist (LXD refuses it too). */
  async #checkNetworks(shape: InstanceShape): Promise<void> {
    for (const [dev, device] of Object.entries(shape.expandedDevices)) {
      if (device.type !== 'nic' || device.network === undefined) continue;
      await this.networks.get(device.network).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
        throw new EngineError(
          'NOT_FOUND',
          `devices["${dev}"]["network"]: network "${device.network}" not found`,
          { field: `devices["${dev}"]["network"]` },
        );
      });
    }
  }

  /**
   * Every nic gets a stable MAC in `volatile.<dev>.hwaddr` (unless the device
   * sets one), unique among all instances on this database.
   */
  async #assignHwaddrs(tx: Stores, shape: InstanceShape): Promise<void> {
    const nics = Object.entries(shape.expandedDevices).filter(
      ([, d]) => d.type === 'nic' && !d.hwaddr,
    );
    const missing = nics.filter(([dev]) => !shape.localConfig[`volatile.${dev}.hwaddr`]);
    if (missing.length === 0) return;
    const taken = new Set(
      await tx.instances.configValues({ startsWith: 'volatile.', endsWith: '.hwaddr' }),
    );
    for (const [dev] of missing) {
      const hwaddr = nextInterfaceHwaddr(taken);
      taken.add(hwaddr);
      shape.localConfig[`volatile.${dev}.hwaddr`] = hwaddr;
      shape.expandedConfig[`volatile.${dev}.hwaddr`] = hwaddr;
    }
  }

  async #applyLive(project: string, name: string, previous: ExpandedInstance): Promise<void> {
    if (!this.drivers.has(previous.type) || (await this.#status(previous)) === 'Stopped') return;
    const next = await this.#expanded(this.db, project, name);
    await this.drivers
      .get(previous.type)
      .update(await this.#view(next), await this.#view(previous));
  }

  /** Running instances pick up a profile change (called by the profile service). */
  async applyProfileChange(users: { project: string; name: string }[]): Promise<void> {
    for (const user of users) {
      const current = await this.#expanded(this.db, user.project, user.name);
      if (!this.drivers.has(current.type) || (await this.#status(current)) === 'Stopped') continue;
      await this.drivers
        .get(current.type)
        .update(await this.#view(current), await this.#view(current));
    }
  }

  async #status(instance: ExpandedInstance): Promise<InstanceStatus> {
    if (!this.drivers.has(instance.type)) return 'Stopped';
    return this.drivers.get(instance.type).status(await this.#view(instance));
  }

  async #view(instance: ExpandedInstance): Promise<DriverInstance> {
    return {
      id: instance.record.id,
      project: instance.record.project,
      name: instance.name,
      type: instance.type,
      architecture: instance.record.architecture,
      expandedConfig: instance.expandedConfig,
      expandedDevices: instance.expandedDevices,
      localConfig: instance.record.config,
      paths: await this.storage.instancePaths(
        poolOf(instance),
        instance.record.project,
        instance.name,
        instance.type,
      ),
    };
  }

  async #toApi(instance: ExpandedInstance): Promise<Instance> {
    const r = instance.record;
    const status = await this.#status(instance);
    return {
      name: r.name,
      description: r.description,
      type: instance.type,
      architecture: r.architecture,
      status,
      status_code: StatusCode[status],
      config: r.config,
      devices: r.devices,
      profiles: r.profiles,
      ephemeral: r.ephemeral,
      stateful: r.stateful,
      created_at: r.createdAt.toISOString(),
      last_used_at: (r.lastUsedAt ?? new Date(0))
        .toISOString()
        .replace('1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00Z'),
      location: r.node,
      project: r.project,
      expanded_config: instance.expandedConfig,
      expanded_devices: instance.expandedDevices,
    };
  }

  async #fullList(expanded: ExpandedInstance[], filter?: string): Promise<InstanceFull[]> {
    const companions = this.#companions?.of(
      expanded.map((e) => ({ id: e.record.id, project: e.record.project, name: e.name })),
    );
    const full = await Promise.all(
      expanded.map(async (e): Promise<InstanceFull> => {
        const [instance, state] = await Promise.all([
          this.#toApi(e),
          this.#stateOf(e, { disk: false }),
        ]);
        return { ...instance, state, snapshots: [], backups: [] };
      }),
    );
    (await companions)?.forEach((c, i) => Object.assign(full[i]!, c));
    return filter ? filterObjects(full, filter) : full;
  }
}

function stoppedState(): InstanceState {
  return {
    status: 'Stopped',
    status_code: StatusCode.Stopped,
    disk: {},
    memory: { usage: 0, usage_peak: 0, swap_usage: 0, swap_usage_peak: 0 },
    network: null,
    pid: 0,
    processes: 0,
    cpu: { usage: 0 },
  };
}
