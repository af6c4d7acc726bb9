// Instance backups in LXD's format (a tarball with `backup/index.yaml`,
// `backup/container/rootfs/` and `backup/snapshots/<name>/rootfs/`), their
// records, import as a new instance, and publish as an image.
//
// * Export copies the volume while the instance is frozen (running
//   instances only, for the length of the copy, which is a reflink where
//   the filesystem can), then unshifts the private copy to container ids
//   and packs it without holding the instance. Freezing rather than taking
//   a snapshot leaves no snapshot record or event behind and costs the
//   same copy.
// * Import reads the tarball once through the image archive checks before
//   GNU tar touches it, validates index.yaml with the engine's config and
//   device validation, then creates the instance through the instance
//   service (same checks and limits as any create) and fills its volume;
//   any failure undoes every step (reverter).
// * Publish packs a stopped instance's (or a snapshot's) unshifted rootfs
//   through ImageService.importFromDirectory.
import { createReadStream, type ReadStream } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  rename,
  rm,
  rmdir,
  stat,
  writeFile,
  readdir,
  readFile,
} from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Database } from '@berth/db';
import { apiUrl } from '../api-url.ts';
import { EngineError, isEngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import { runCommand } from '../host/run-command.ts';
import { extractTarball } from '../images/image-files.ts';
import type { ImageService } from '../images/images.ts';
import type { ImageTemplate } from '../images/image-metadata.ts';
import type { InstanceService } from '../instances/instances.ts';
import { expand } from '../instances/expand-config.ts';
import { validateLocal } from '../instances/validate-instance.ts';
import type { OperationContext, OperationService } from '../operations/operations.ts';
import { profileProjectOf } from '../projects/projects.ts';
import { rootDiskOf } from '../config/devices.ts';
import { Reverter } from '../reverter.ts';
import type { InstanceBackup } from '../schemas/instance.ts';
import type { Instance, InstanceType, Operation } from '../schemas/index.ts';
import { checkSegment, tempSiblingOf } from '../storage/pool-paths.ts';
import type { StoragePoolService } from '../storage/storage-pools.ts';
import { copyTree, removeTree, treeUsage } from '../storage/tree-ops.ts';
import { validInstanceName, validSnapshotName } from '../validation/index.ts';
import {
  INDEX_PATH,
  parseBackupIndex,
  renderBackupIndex,
  renderBackupYaml,
  type BackupIndex,
  type BackupSnapshot,
} from './backup-index.ts';
import { BackupFiles, randomHex, toInstanceBackup, type BackupRecord } from './backup-files.ts';
import { BackupScanner, backupCompressionOf, type BackupScan } from './backup-scan.ts';
import { IDMAP_MARKER, shiftImported, unshiftCopy, volumeShift } from './container-ownership.ts';

export interface BackupServiceOptions {
  dataDir: string;
  db: Database;
  events: EventBus;
  operations: OperationService;
  instances: InstanceService;
  storage: StoragePoolService;
  images: ImageService;
}

export interface ExportOptions {
  /** Default: the next free `backup<N>`. */
  name?: string;
  /** Without the instance's snapshots. */
  instanceOnly?: boolean;
  compression?: 'gzip' | 'none';
  /** RFC 3339; absent or null: never expires. */
  expiresAt?: string | Date | null;
}

export interface ImportOptions {
  /** The new instance's name; default: the name in index.yaml. */
  name?: string;
  /** The pool for the root disk; default: the one the backup's devices and profiles name. */
  pool?: string;
}

export interface PublishOptions {
  /** Publish this snapshot rather than the (stopped) instance. */
  snapshot?: string;
  alias?: string;
  /** Merged over the properties taken from the instance's `image.*` keys. */
  properties?: Record<string, string>;
  public?: boolean;
}

/** A tarball to import: a file path or a byte stream (an HTTP upload). */
export type BackupSource = string | Readable | AsyncIterable<Uint8Array>;

type Progress = (percent: number, stage: string) => Promise<void>;

const TAR_TIMEOUT_MS = 6 * 60 * 60_000;

function backupUrl(project: string, instance: string, name: string): string {
  const p = `/1.0/instances/${encodeURIComponent(instance)}/backups/${encodeURIComponent(name)}`;
  return project === 'default' ? p : `${p}?project=${encodeURIComponent(project)}`;
}

function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Reports at most every 250 ms (each report is a database write and an event). */
function throttled(ctx: OperationContext): Progress {
  let last = 0;
  let lastStage = '';
  return async (percent, stage) => {
    const now = performance.now();
    if (now - last < 250 && stage === lastStage && percent < 100) return;
    last = now;
    lastStage = stage;
    await ctx.progress(percent, stage);
  };
}

/** Backup names follow snapshot names (LXD), and become file names. */
export function validBackupName(name: string): void {
  try {
    validSnapshotName(name);
    checkSegment('name', name);
  } catch (error) {
    if (!isEngineError(error)) throw error;
    throw EngineError.invalid(
      'name',
      error.message.replace(/snapshot name/g, 'backup name').replace(/^name: /, ''),
    );
  }
}

/** `backup0`, `backup1`, ...: one more than the highest taken. */
export function nextBackupName(existing: readonly string[]): string {
  let highest = -1;
  for (const name of existing) {
    const match = /^backup(\d+)$/.exec(name);
    if (match) highest = Math.max(highest, Number(match[1]));
  }
  return `backup${highest + 1}`;
}

function parseExpiry(value: ExportOptions['expiresAt']): string {
  if (value === undefined || value === null || value === '') return '';
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime()))
    throw EngineError.invalid('expires_at', `"${String(value)}" is not an RFC 3339 date`);
  return rfc3339(date);
}

/** Re-throws a validation error about a backup's content, saying where it comes from. */
function fromBackup(error: unknown, where: string): never {
  if (!isEngineError(error)) throw error;
  throw new EngineError(error.code, `${INDEX_PATH}: ${where}${error.message}`, {
    ...(error.field === undefined ? {} : { field: error.field }),
    cause: error,
  });
}

async function isRealDirectory(p: string): Promise<boolean> {
  try {
    return (await lstat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Replaces the empty directory `target` with the tree `from` (same filesystem). */
async function replaceEmptyDir(target: string, from: string): Promise<void> {
  await rmdir(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  await rename(from, target);
}

/** What an import will create, once everything in the tarball was checked. */
interface ImportPlan {
  name: string;
  type: InstanceType;
  pool: string;
  architecture: string;
  description: string;
  ephemeral: boolean;
  profiles: string[];
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
  /** Volatile keys worth keeping (MACs, base image), applied when free. */
  volatile: Record<string, string>;
  snapshots: BackupSnapshot[];
  warnings: string[];
}

export class BackupService {
  readonly files: BackupFiles;
  readonly #db: Database;
  readonly #events: EventBus;
  readonly #operations: OperationService;
  readonly #instances: InstanceService;
  readonly #storage: StoragePoolService;
  readonly #images: ImageService;
  /** Backup names being written, so two exports cannot take the same one. */
  readonly #reserved = new Set<string>();
  #swept: Promise<void> | null = null;

  constructor(options: BackupServiceOptions) {
    this.files = new BackupFiles(options.dataDir);
    this.#db = options.db;
    this.#events = options.events;
    this.#operations = options.operations;
    this.#instances = options.instances;
    this.#storage = options.storage;
    this.#images = options.images;
  }

  /** The first use sweeps what a previous process left half-written. */
  async #ready(): Promise<void> {
    this.#swept ??= this.files.sweep();
    await this.#swept;
  }

  // ------------------------------------------------------------------ records

  async list(project: string, instance: string): Promise<InstanceBackup[]> {
    await this.#instances.resolve(project, instance);
    return this.listExisting(project, instance);
  }

  /** `list` for an instance the caller knows exists (recursion=2 lists). */
  async listExisting(project: string, instance: string): Promise<InstanceBackup[]> {
    await this.#ready();
    return (await this.files.records(project, instance)).map(toInstanceBackup);
  }

  /** Backups of many instances known to exist, reading only the directories that exist. */
  async listMany(
    instances: readonly { project: string; name: string }[],
  ): Promise<InstanceBackup[][]> {
    await this.#ready();
    const holds = await this.files.holders();
    return Promise.all(
      instances.map((i) => (holds(i.project, i.name) ? this.listExisting(i.project, i.name) : [])),
    );
  }

  async get(project: string, instance: string, name: string): Promise<InstanceBackup> {
    return toInstanceBackup(await this.#record(project, instance, name));
  }

  /** The tarball for download (`size` for Content-Length). */
  async open(project: string, instance: string, name: string): Promise<ReadStream> {
    const record = await this.#record(project, instance, name);
    const stream = createReadStream(this.files.tarball(project, instance, record.name));
    this.#events.lifecycle(
      project,
      'instance-backup-retrieved',
      backupUrl(project, instance, record.name),
    );
    return stream;
  }

  /** Bytes of the tarball. */
  async size(project: string, instance: string, name: string): Promise<number> {
    const record = await this.#record(project, instance, name);
    return (await stat(this.files.tarball(project, instance, record.name))).size;
  }

  async delete(project: string, instance: string, name: string): Promise<void> {
    await this.#record(project, instance, name);
    await this.files.remove(project, instance, name);
    this.#events.lifecycle(project, 'instance-backup-deleted', backupUrl(project, instance, name));
  }

  async rename(
    project: string,
    instance: string,
    name: string,
    newName: string,
  ): Promise<InstanceBackup> {
    validBackupName(newName);
    const record = await this.#record(project, instance, name);
    if (
      (await this.files.record(project, instance, newName)) ||
      this.#reserved.has(`${project}/${instance}/${newName}`)
    )
      throw new EngineError('ALREADY_EXISTS', `Backup "${newName}" already exists`, {
        field: 'name',
      });
    const from = this.files.tarball(project, instance, name);
    const to = this.files.tarball(project, instance, newName);
    await rename(from, to);
    try {
      await this.files.writeRecord(project, instance, { ...record, name: newName });
    } catch (error) {
      await rename(to, from);
      throw error;
    }
    await rm(this.files.recordFile(project, instance, name), { force: true });
    this.#events.lifecycle(
      project,
      'instance-backup-renamed',
      backupUrl(project, instance, newName),
      {
        old_name: name,
      },
    );
    return this.get(project, instance, newName);
  }

  /** The instance is being deleted: its backups go too (as LXD does). */
  async deleteAll(project: string, instance: string): Promise<void> {
    await this.files.removeAll(project, instance);
  }

  /** The instance was renamed: its backups follow it. */
  async renameInstance(project: string, from: string, to: string): Promise<void> {
    await this.files.moveInstance(project, from, to);
  }

  /** Deletes backups whose expiry has passed. */
  async pruneExpired(now = new Date()): Promise<string[]> {
    const pruned: string[] = [];
    for (const instance of await this.#instances.list(undefined)) {
      for (const record of await this.files.records(instance.project, instance.name)) {
        if (record.expires_at === '' || new Date(record.expires_at) > now) continue;
        await this.delete(instance.project, instance.name, record.name);
        pruned.push(`${instance.project}/${instance.name}/${record.name}`);
      }
    }
    return pruned;
  }

  async #record(project: string, instance: string, name: string): Promise<BackupRecord> {
    await this.#instances.resolve(project, instance);
    await this.#ready();
    if (name === '' || name.includes('/') || name.startsWith('.'))
      throw EngineError.notFound('Backup', { field: 'name' });
    const record = await this.files.record(project, instance, name);
    if (!record) throw EngineError.notFound('Backup', { field: 'name' });
    return record;
  }

  // ------------------------------------------------------------------- export

  /** Backs the instance up as an operation; it ends with `{ name, size }`. */
  async export(project: string, instance: string, options: ExportOptions = {}): Promise<Operation> {
    const compression = options.compression ?? 'gzip';
    if (compression !== 'gzip' && compression !== 'none')
      throw EngineError.invalid('compression', `must be "gzip" or "none", not "${compression}"`);
    const expiresAt = parseExpiry(options.expiresAt);
    const { instance: inst } = await this.#instances.resolve(project, instance);
    if (inst.type !== 'container')
      throw new EngineError('NOT_IMPLEMENTED', `Backups of ${inst.type}s are not supported yet`);
    await this.#ready();
    const existing = (await this.files.records(project, instance)).map((r) => r.name);
    const taken = (n: string) =>
      existing.includes(n) || this.#reserved.has(`${project}/${instance}/${n}`);
    let name = options.name;
    if (name === undefined) {
      name = nextBackupName(existing);
      while (taken(name)) name = nextBackupName([...existing, name]);
    }
    validBackupName(name);
    if (taken(name))
      throw new EngineError('ALREADY_EXISTS', `Backup "${name}" already exists`, { field: 'name' });
    const key = `${project}/${instance}/${name}`;
    this.#reserved.add(key);
    const backupName = name;
    try {
      return await this.#operations.start({
        project,
        description: 'Backing up instance',
        mayCancel: true,
        resources: {
          instances: [apiUrl.instance(project, instance)],
          backups: [backupUrl(project, instance, backupName)],
        },
        run: (ctx) =>
          this.#export(
            project,
            instance,
            {
              name: backupName,
              instanceOnly: options.instanceOnly ?? false,
              compression,
              expiresAt,
            },
            ctx,
          ).finally(() => this.#reserved.delete(key)),
      });
    } catch (error) {
      this.#reserved.delete(key);
      throw error;
    }
  }

  async #export(
    project: string,
    instanceName: string,
    options: {
      name: string;
      instanceOnly: boolean;
      compression: 'gzip' | 'none';
      expiresAt: string;
    },
    ctx: OperationContext,
  ): Promise<Record<string, unknown>> {
    const progress = throttled(ctx);
    const signal = ctx.signal;
    const createdAt = new Date();
    const { view: first } = await this.#instances.resolve(project, instanceName);
    // The work copy lives in the pool (same filesystem: reflinks) under a
    // hidden `.snapshot-` name the pool sweeps at start-up after a crash.
    const work = tempSiblingOf(first.paths.dir, 'snapshot', randomHex());
    const stage = path.join(work, 'backup');
    let partial: string | null = null;
    try {
      await mkdir(work, { mode: 0o700 });
      await mkdir(path.join(stage, 'container'), { recursive: true, mode: 0o700 });
      await progress(5, 'Copying instance');

      const copied = await this.#instances.locks.with(project, instanceName, 'backup', async () => {
        const { instance, view, pool } = await this.#instances.resolve(project, instanceName);
        const driver = this.#instances.driverFor(instance.type);
        const running = (await driver.status(view)) === 'Running';
        if (running) await driver.freeze(view);
        try {
          await copyTree(view.paths.rootfs, path.join(stage, 'container', 'rootfs'), signal);
        } finally {
          if (running) await driver.unfreeze(view);
        }
        const shift = await volumeShift(view.paths.dir);
        const snapshots = options.instanceOnly
          ? []
          : await this.#db.snapshots.list(instance.record.id);
        const snapshotShifts = new Map<string, Awaited<ReturnType<typeof volumeShift>>>();
        for (const [i, snapshot] of snapshots.entries()) {
          signal.throwIfAborted();
          await progress(10 + (30 * i) / snapshots.length, `Copying snapshot ${snapshot.name}`);
          const paths = await this.#storage.snapshotPaths(
            pool,
            project,
            instanceName,
            instance.type,
            snapshot.name,
          );
          const into = path.join(stage, 'snapshots', snapshot.name);
          await mkdir(into, { recursive: true, mode: 0o700 });
          await copyTree(paths.rootfs, path.join(into, 'rootfs'), signal);
          snapshotShifts.set(snapshot.name, await volumeShift(paths.dir));
        }
        return { instance, pool, shift, snapshots, snapshotShifts };
      });

      await progress(40, 'Unshifting ownership');
      await unshiftCopy(path.join(stage, 'container', 'rootfs'), copied.shift);
      for (const snapshot of copied.snapshots) {
        signal.throwIfAborted();
        await unshiftCopy(
          path.join(stage, 'snapshots', snapshot.name, 'rootfs'),
          copied.snapshotShifts.get(snapshot.name) ?? null,
        );
      }

      const r = copied.instance.record;
      const index: BackupIndex = {
        name: instanceName,
        backend: 'dir',
        pool: copied.pool,
        type: copied.instance.type,
        snapshots: copied.snapshots.map((s) => s.name),
        optimized: false,
        instance: {
          name: r.name,
          type: copied.instance.type,
          architecture: r.architecture,
          description: r.description,
          ephemeral: r.ephemeral,
          stateful: r.stateful,
          profiles: r.profiles,
          config: r.config,
          devices: r.devices,
          createdAt: rfc3339(r.createdAt),
          expandedConfig: copied.instance.expandedConfig,
          expandedDevices: copied.instance.expandedDevices,
        },
        snapshotConfigs: copied.snapshots.map((s) => ({
          name: s.name,
          description: s.description,
          config: s.config,
          devices: s.devices,
          createdAt: rfc3339(s.createdAt),
          expiresAt: s.expiresAt ? rfc3339(s.expiresAt) : '',
        })),
      };
      const poolInfo = await this.#storage.get(copied.pool);
      const renderPool = {
        name: poolInfo.name,
        driver: poolInfo.driver,
        description: poolInfo.description,
        config: poolInfo.config,
      };
      await writeFile(
        path.join(stage, 'index.yaml'),
        renderBackupIndex(index, project, renderPool),
        {
          mode: 0o644,
        },
      );
      await writeFile(
        path.join(stage, 'container', 'backup.yaml'),
        renderBackupYaml(index, project, renderPool),
        { mode: 0o644 },
      );

      await progress(50, 'Packing backup');
      partial = await this.files.partial(project, instanceName);
      await this.#pack(
        work,
        partial,
        options.compression,
        copied.snapshots.length > 0,
        progress,
        signal,
      );
      const size = (await stat(partial)).size;
      await this.files.commit(project, instanceName, partial, {
        name: options.name,
        created_at: rfc3339(createdAt),
        expires_at: options.expiresAt,
        instance_only: options.instanceOnly,
        optimized_storage: false,
        compression: options.compression,
        size,
      });
      partial = null;
      this.#events.lifecycle(
        project,
        'instance-backup-created',
        backupUrl(project, instanceName, options.name),
      );
      await progress(100, 'Done');
      return { name: options.name, size };
    } finally {
      await removeTree(work);
      if (partial) await rm(partial, { force: true });
      await this.files.removeDirIfEmpty(project, instanceName);
    }
  }

  /** GNU tar: index.yaml first (readers look for it), then the trees, ids numeric, capabilities kept. */
  async #pack(
    work: string,
    out: string,
    compression: 'gzip' | 'none',
    withSnapshots: boolean,
    progress: Progress,
    signal: AbortSignal,
  ): Promise<void> {
    const total = Math.max(1, await treeUsage(work));
    const timer = setInterval(() => {
      stat(out)
        .then((s) => progress(50 + Math.min(45, (45 * s.size) / total), 'Packing backup'))
        .catch(() => {});
    }, 500);
    try {
      await runCommand(
        'tar',
        [
          '-c',
          ...(compression === 'gzip' ? ['-z'] : []),
          '-f',
          out,
          '--numeric-owner',
          '--xattrs',
          '--xattrs-include=security.capability',
          '--sort=name',
          '-C',
          work,
          '--no-recursion',
          'backup',
          'backup/index.yaml',
          '--recursion',
          'backup/container',
          ...(withSnapshots ? ['backup/snapshots'] : []),
        ],
        { timeoutMs: TAR_TIMEOUT_MS, signal },
      );
    } finally {
      clearInterval(timer);
    }
  }

  // ------------------------------------------------------------------- import

  /** Restores a backup tarball as a new instance, as an operation ending with `{ name }`. */
  async import(
    project: string,
    source: BackupSource,
    options: ImportOptions = {},
  ): Promise<Operation> {
    return (await this.#startImport(project, source, options)).operation;
  }

  /** Imports and waits; throws the import's own error (with its code) when it fails. */
  async importAndWait(
    project: string,
    source: BackupSource,
    options: ImportOptions = {},
  ): Promise<Instance> {
    const { operation, failure } = await this.#startImport(project, source, options);
    const done = await this.#operations.wait(operation.id);
    if (done.status !== 'Success') throw failure() ?? new EngineError('INTERNAL', done.err);
    const metadata = (done.metadata ?? {}) as { name?: unknown };
    return this.#instances.get(project, String(metadata.name));
  }

  async #startImport(project: string, source: BackupSource, options: ImportOptions) {
    if (options.name !== undefined) validInstanceName(options.name);
    if (options.pool !== undefined) await this.#storage.get(options.pool);
    if (!(await this.#db.projects.get(project)))
      throw EngineError.notFound('Project', { field: 'project' });
    let error: unknown;
    const operation = await this.#operations.start({
      project,
      description: 'Restoring backup',
      mayCancel: true,
      run: (ctx) =>
        this.#import(project, source, options, ctx).catch((e: unknown) => {
          error = e;
          throw e;
        }),
    });
    return { operation, failure: () => error };
  }

  async #import(
    project: string,
    source: BackupSource,
    options: ImportOptions,
    ctx: OperationContext,
  ): Promise<Record<string, unknown>> {
    await this.#ready();
    const progress = throttled(ctx);
    const signal = ctx.signal;
    const staged = await this.files.importPartial();
    let unpacked: string | null = null;
    const revert = new Reverter();
    try {
      await progress(0, 'Reading backup');
      const scan = await this.#readSource(source, staged, progress, signal);
      const index = parseBackupIndex(scan.indexYaml, scan.backupYaml);
      const plan = await this.#plan(project, index, scan, options);

      await progress(40, 'Unpacking backup');
      const paths = await this.#storage.instancePaths(plan.pool, project, plan.name, plan.type);
      // Beside the volume (same filesystem: the trees are renamed into
      // place), under a `.create-` name the pool sweeps after a crash.
      unpacked = tempSiblingOf(paths.dir, 'create', randomHex());
      await mkdir(unpacked, { mode: 0o700 });
      await extractTarball(staged, unpacked, signal).catch((error: unknown) => {
        throw new EngineError(
          'INVALID_ARGUMENT',
          `Unpacking the backup failed: ${(error as Error).message}`,
          { field: 'tarball', cause: error },
        );
      });
      await rm(staged, { force: true });
      const trees = [
        path.join(unpacked, 'backup', 'container', 'rootfs'),
        ...plan.snapshots.map((s) =>
          path.join(unpacked as string, 'backup', 'snapshots', s.name, 'rootfs'),
        ),
      ];
      for (const tree of trees) {
        if (!(await isRealDirectory(tree)))
          throw EngineError.invalid(
            'tarball',
            `${path.relative(unpacked, tree)} is not a directory after unpacking`,
          );
      }

      await progress(60, 'Creating instance');
      signal.throwIfAborted();
      const { operation } = await this.#instances.create(project, {
        name: plan.name,
        type: plan.type,
        architecture: plan.architecture,
        description: plan.description,
        ephemeral: plan.ephemeral,
        profiles: plan.profiles,
        config: plan.config,
        devices: plan.devices,
        source: { type: 'none' },
      });
      // The create undoes itself when its operation fails; after that, we do.
      const created = await this.#operations.wait(operation.id);
      if (created.status !== 'Success')
        throw new EngineError(
          'INTERNAL',
          `Creating instance "${plan.name}" failed: ${created.err}`,
        );
      revert.add(() => this.#instances.delete(project, plan.name, { force: true }));

      await this.#instances.locks.with(project, plan.name, 'import', async () => {
        const { instance, view, pool } = await this.#instances.resolve(project, plan.name);
        await this.#keepVolatile(instance.record.id, plan.volatile);
        // The new (empty) rootfs is shifted to the instance's map by now.
        const shift = await volumeShift(view.paths.dir);
        for (const [i, snapshot] of plan.snapshots.entries()) {
          signal.throwIfAborted();
          await progress(
            65 + (20 * i) / plan.snapshots.length,
            `Restoring snapshot ${snapshot.name}`,
          );
          // A copy of the still-empty volume gives the snapshot its folder and row.
          const snap = await this.#storage.snapshotInstanceVolume(
            pool,
            project,
            plan.name,
            instance.type,
            snapshot.name,
          );
          await replaceEmptyDir(
            snap.rootfs,
            path.join(unpacked as string, 'backup', 'snapshots', snapshot.name, 'rootfs'),
          );
          await shiftImported(snap.rootfs, shift);
          await this.#db.snapshots.create(instance.record.id, {
            name: snapshot.name,
            description: snapshot.description,
            createdAt: dateOr(snapshot.createdAt, new Date()),
            expiresAt: expiryOf(snapshot.expiresAt),
            config: snapshot.config,
            devices: snapshot.devices,
          });
        }
        await progress(85, 'Restoring root filesystem');
        // The tree holds container ids: tell the driver it is unshifted, and its create shifts it.
        await rm(path.join(view.paths.dir, IDMAP_MARKER), { force: true });
        await replaceEmptyDir(
          view.paths.rootfs,
          path.join(unpacked as string, 'backup', 'container', 'rootfs'),
        );
        await this.#instances.driverFor(instance.type).create(view, {});
      });
      revert.success();
      for (const warning of plan.warnings) this.#events.logging(project, 'warning', warning);
      await progress(100, 'Done');
      return { name: plan.name, warnings: plan.warnings };
    } catch (error) {
      await revert.fail();
      throw error;
    } finally {
      await rm(staged, { force: true });
      if (unpacked) await removeTree(unpacked);
    }
  }

  /**
   * One pass over the source: a private copy (a path could change between
   * the check and the unpack) and every entry through the checks.
   */
  async #readSource(
    source: BackupSource,
    copyPath: string,
    progress: Progress,
    signal: AbortSignal,
  ): Promise<BackupScan> {
    const total =
      typeof source === 'string'
        ? (
            await stat(source).catch(() => {
              throw EngineError.invalid('source', `cannot read ${source}`);
            })
          ).size
        : 0;
    const input: AsyncIterable<Uint8Array> =
      typeof source === 'string'
        ? createReadStream(source, { highWaterMark: 1024 * 1024 })
        : source;
    const out = await open(copyPath, 'wx', 0o600);
    let scanner: BackupScanner | null = null;
    let head = Buffer.alloc(0);
    let size = 0;
    try {
      for await (const raw of input) {
        signal.throwIfAborted();
        const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
        await out.write(chunk);
        size += chunk.length;
        if (scanner === null) {
          head = Buffer.concat([head, chunk]);
          if (head.length < 512) continue;
          backupCompressionOf(head);
          scanner = new BackupScanner();
          scanner.write(head);
        } else scanner.write(chunk);
        if (total) await progress((size / total) * 35, 'Reading backup');
      }
    } catch (error) {
      if (typeof source !== 'string' && 'destroy' in source && typeof source.destroy === 'function')
        source.destroy();
      throw error;
    } finally {
      await out.close();
    }
    if (size === 0) throw EngineError.invalid('tarball', 'the backup file is empty');
    if (scanner === null) {
      backupCompressionOf(head);
      scanner = new BackupScanner();
      scanner.write(head);
    }
    return scanner.end();
  }

  /** Everything checked before anything is created. */
  async #plan(
    project: string,
    index: BackupIndex,
    scan: BackupScan,
    options: ImportOptions,
  ): Promise<ImportPlan> {
    if (index.optimized)
      throw EngineError.invalid(
        `${INDEX_PATH}: optimized`,
        `optimized backups hold a ${index.backend} stream, which a dir pool cannot read`,
      );
    if (index.type !== 'container')
      throw new EngineError('NOT_IMPLEMENTED', `Backups of ${index.type}s are not supported yet`);
    const source = index.instance;
    if (!source) throw EngineError.invalid(`${INDEX_PATH}: config.container`, 'is required');
    if (source.type !== 'container')
      throw new EngineError('NOT_IMPLEMENTED', `Backups of ${source.type}s are not supported yet`);

    try {
      validInstanceName(index.name);
    } catch (error) {
      fromBackup(error, 'name: ');
    }
    const name = options.name ?? index.name;
    if (await this.#db.instances.get(project, name))
      throw new EngineError('ALREADY_EXISTS', `Instance "${name}" already exists`, {
        field: 'name',
      });
    if (!scan.rootfsTrees.has('container'))
      throw EngineError.invalid('tarball', 'Backup tarball has no backup/container/rootfs/');

    const local = (config: Record<string, string>) =>
      Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith('volatile.')));
    const config = local(source.config);
    const devices = structuredClone(source.devices);
    try {
      validateLocal('container', config, devices);
    } catch (error) {
      fromBackup(error, 'container ');
    }

    const seen = new Set<string>();
    const snapshots: BackupSnapshot[] = [];
    for (const snapName of index.snapshots) {
      try {
        validSnapshotName(snapName);
      } catch (error) {
        fromBackup(error, `snapshots: "${snapName}": `);
      }
      if (seen.has(snapName))
        throw EngineError.invalid(`${INDEX_PATH}: snapshots`, `"${snapName}" is listed twice`);
      seen.add(snapName);
      if (!scan.rootfsTrees.has(`snapshots/${snapName}`))
        throw EngineError.invalid(
          'tarball',
          `Backup tarball has no backup/snapshots/${snapName}/rootfs/`,
        );
      const recorded = index.snapshotConfigs.find((s) => s.name === snapName);
      const snapshot: BackupSnapshot = recorded
        ? { ...recorded, config: local(recorded.config) }
        : {
            name: snapName,
            description: '',
            config,
            devices,
            createdAt: '',
            expiresAt: '',
          };
      try {
        validateLocal('container', snapshot.config, snapshot.devices);
      } catch (error) {
        fromBackup(error, `snapshot "${snapName}" `);
      }
      snapshots.push(snapshot);
    }

    // Profiles this project has; the others are dropped with a warning.
    const warnings: string[] = [];
    const projectRecord = await this.#db.projects.get(project);
    if (!projectRecord) throw EngineError.notFound('Project', { field: 'project' });
    const profileProject = profileProjectOf(project, projectRecord.config);
    const found = await this.#db.profiles.getMany(profileProject, source.profiles);
    const profiles = source.profiles.filter((p) => found.some((f) => f.name === p));
    const missing = source.profiles.filter((p) => !profiles.includes(p));
    if (missing.length) {
      warnings.push(
        `Profiles ${missing.map((p) => `"${p}"`).join(', ')} of the backup do not exist in project "${project}": ${
          profiles.length ? 'left out' : 'using "default"'
        }`,
      );
    }
    if (profiles.length === 0) profiles.push('default');
    const layers = await this.#db.profiles.getMany(profileProject, profiles);
    const ordered = profiles.flatMap((p) => layers.filter((l) => l.name === p));

    // The root disk's pool: the one asked for, else the one the backup's devices and profiles name.
    const root = rootDiskOf(expand(ordered, { config, devices }).devices);
    let pool = root?.[1].pool ?? 'default';
    if (options.pool !== undefined && options.pool !== pool) {
      pool = options.pool;
      const localRoot = rootDiskOf(devices);
      if (localRoot) devices[localRoot[0]] = { ...localRoot[1], pool };
      else devices[root?.[0] ?? 'root'] = { type: 'disk', path: '/', pool };
    } else {
      await this.#storage.get(pool).catch((error: unknown) => {
        if (!isEngineError(error, 'NOT_FOUND')) throw error;
        throw EngineError.invalid(
          'pool',
          `the backup's root disk is on pool "${pool}", which does not exist here: choose a pool`,
        );
      });
    }

    // The instance and every snapshot as they would be expanded here, before
    // anything is unpacked: a snapshot is restorable later, so a forbidden
    // one (security.privileged, a host path disk) refuses the whole backup.
    try {
      await this.#instances.checkWouldBe(
        project,
        { name, type: 'container', config, devices, profiles },
        `instance "${name}" of the backup`,
      );
      for (const snapshot of snapshots) {
        await this.#instances.checkWouldBe(
          project,
          {
            name,
            type: 'container',
            config: snapshot.config,
            devices: snapshot.devices,
            profiles,
          },
          `snapshot "${name}/${snapshot.name}" of the backup`,
        );
      }
    } catch (error) {
      fromBackup(error, '');
    }

    const volatile: Record<string, string> = {};
    for (const [key, value] of Object.entries(source.config)) {
      if (/^volatile\.[^.]+\.hwaddr$/.test(key) || key === 'volatile.base_image')
        volatile[key] = value;
    }
    return {
      name,
      type: 'container',
      pool,
      architecture: source.architecture,
      description: source.description,
      ephemeral: source.ephemeral,
      profiles,
      config,
      devices,
      volatile,
      snapshots,
      warnings,
    };
  }

  /**
   * A restored instance keeps its MACs (so its DHCP lease and address) and
   * base image, unless another instance already uses that MAC (an import
   * alongside the original): then the fresh one the create assigned stays.
   */
  async #keepVolatile(instanceId: number, volatile: Record<string, string>): Promise<void> {
    const current = await this.#db.instances.getById(instanceId);
    if (!current) return;
    const taken = await this.#db.instances.configValues({
      startsWith: 'volatile.',
      endsWith: '.hwaddr',
    });
    const others = new Set(taken);
    for (const [key, value] of Object.entries(current.config))
      if (key.endsWith('.hwaddr')) others.delete(value);
    const keep: Record<string, string> = {};
    for (const [key, value] of Object.entries(volatile)) {
      if (key.endsWith('.hwaddr')) {
        if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(value) || others.has(value)) continue;
        if (current.config[key] === undefined) continue;
      }
      keep[key] = value;
    }
    if (Object.keys(keep).length) await this.#db.instances.setConfigKeys(instanceId, keep);
  }

  // ------------------------------------------------------------------ publish

  /** Builds an image from a stopped instance or a snapshot; the operation ends with `{ fingerprint, size }`. */
  async publish(
    project: string,
    instance: string,
    options: PublishOptions = {},
  ): Promise<Operation> {
    const { instance: inst, view } = await this.#instances.resolve(project, instance);
    if (inst.type !== 'container')
      throw new EngineError('NOT_IMPLEMENTED', `Publishing ${inst.type}s is not supported yet`);
    if (options.snapshot !== undefined) {
      if (!(await this.#db.snapshots.get(inst.record.id, options.snapshot)))
        throw EngineError.notFound('Snapshot', { field: 'snapshot' });
    } else if ((await this.#instances.driverFor(inst.type).status(view)) !== 'Stopped') {
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
    const { view: first } = await this.#instances.resolve(project, instanceName);
    const work = tempSiblingOf(first.paths.dir, 'snapshot', randomHex());
    try {
      await mkdir(work, { mode: 0o700 });
      const rootfs = path.join(work, 'rootfs');
      await progress(5, 'Copying root filesystem');
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
          } else if ((await this.#instances.driverFor(instance.type).status(view)) !== 'Stopped') {
            throw new EngineError(
              'CONFLICT',
              `Instance "${instanceName}" must be stopped to be published`,
            );
          }
          await copyTree(from.rootfs, rootfs, ctx.signal);
          return { instance, config, shift: await volumeShift(from.dir) };
        },
      );
      await progress(30, 'Unshifting ownership');
      await unshiftCopy(rootfs, copied.shift);

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

function dateOr(text: string, fallback: Date): Date {
  if (!text) return fallback;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) || date.getUTCFullYear() <= 1 ? fallback : date;
}

function expiryOf(text: string): Date | null {
  if (!text) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) || date.getUTCFullYear() <= 1 ? null : date;
}
