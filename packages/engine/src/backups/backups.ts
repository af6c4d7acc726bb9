// Instance backups in LXD's format (a tarball with `backup/index.yaml`,
// `backup/container/rootfs/` and `backup/snapshots/<name>/rootfs/`, or a
// virtual machine's `backup/virtual-machine.img` and
// `backup/virtual-machine-snapshots/<name>.img`): their records (here),
// export (backup-export.ts) and import as a new instance (backup-import.ts).
import { createReadStream, type ReadStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import type { Database } from '@berth/db';
import { apiUrl } from '../api-url.ts';
import { EngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { ImageService } from '../images/images.ts';
import { InstancePublisher, type PublishOptions } from '../images/publish.ts';
import type { InstanceService } from '../instances/instances.ts';
import type { OperationService } from '../operations/operations.ts';
import type { InstanceBackup } from '../schemas/instance.ts';
import type { BackupsPost, Instance, Operation } from '../schemas/index.ts';
import type { StoragePoolService } from '../storage/storage-pools.ts';
import type { BackupContext } from './backup-context.ts';
import { exportBackup } from './backup-export.ts';
import { toInstanceBackup, type BackupFiles, type BackupRecord } from './backup-files.ts';
import {
  importBackup,
  importBackupAndWait,
  type BackupSource,
  type ImportOptions,
} from './backup-import.ts';
import { validBackupName } from './backup-names.ts';

export type { BackupSource, ImportOptions } from './backup-import.ts';
export type { PublishOptions } from '../images/publish.ts';

export interface BackupServiceOptions {
  /** The backup directory, shared with the instance service (which lists, moves and removes it). */
  files: BackupFiles;
  db: Database;
  events: EventBus;
  operations: OperationService;
  instances: InstanceService;
  storage: StoragePoolService;
  images: ImageService;
}

export class BackupService {
  readonly files: BackupFiles;
  readonly #instances: InstanceService;
  readonly #events: EventBus;
  /** Backup names being written, so two exports cannot take the same one. */
  readonly #reserved = new Set<string>();
  readonly #ctx: BackupContext;
  // Publishing is the image service's work; kept reachable here until the
  // engine hands out the publisher itself.
  readonly #publisher: InstancePublisher;

  constructor(options: BackupServiceOptions) {
    this.files = options.files;
    this.#instances = options.instances;
    this.#events = options.events;
    this.#ctx = {
      files: this.files,
      db: options.db,
      events: options.events,
      operations: options.operations,
      instances: options.instances,
      storage: options.storage,
      reserved: this.#reserved,
      ready: () => this.files.ready(),
    };
    this.#publisher = new InstancePublisher(options);
  }

  // ------------------------------------------------------------------ records

  async list(project: string, instance: string): Promise<InstanceBackup[]> {
    await this.#instances.resolve(project, instance);
    return this.files.listExisting(project, instance);
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
      apiUrl.backup(project, instance, record.name),
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
    this.#events.lifecycle(
      project,
      'instance-backup-deleted',
      apiUrl.backup(project, instance, name),
    );
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
      apiUrl.backup(project, instance, newName),
      {
        old_name: name,
      },
    );
    return this.get(project, instance, newName);
  }

  /** `rename` as an operation (LXD answers with one); an unknown backup is refused at once. */
  async startRename(
    project: string,
    instance: string,
    name: string,
    newName: string,
  ): Promise<Operation> {
    return this.#asOperation(project, instance, name, 'Renaming instance backup', () =>
      this.rename(project, instance, name, newName),
    );
  }

  /** `delete` as an operation; an unknown backup is refused at once. */
  async startDelete(project: string, instance: string, name: string): Promise<Operation> {
    return this.#asOperation(project, instance, name, 'Deleting instance backup', () =>
      this.delete(project, instance, name),
    );
  }

  /** Starts `work` on an existing backup as an operation (an unknown one is refused at once). */
  async #asOperation(
    project: string,
    instance: string,
    name: string,
    description: string,
    work: () => Promise<unknown>,
  ): Promise<Operation> {
    await this.#record(project, instance, name);
    const resources = { instances: [apiUrl.instance(project, instance)] };
    return this.#ctx.operations.startTask({ project, description, resources }, work);
  }

  /** The instance is being deleted: its backups go too (as LXD does). */
  async deleteAll(project: string, instance: string): Promise<void> {
    await this.files.removeAll(project, instance);
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
    await this.files.ready();
    if (name === '' || name.includes('/') || name.startsWith('.'))
      throw EngineError.notFound('Backup', { field: 'name' });
    const record = await this.files.record(project, instance, name);
    if (!record) throw EngineError.notFound('Backup', { field: 'name' });
    return record;
  }

  // ------------------------------------------------------------- delegated

  /** Backs the instance up as an operation (LXD's InstanceBackupsPost); it ends with `{ name, size }`. */
  async export(project: string, instance: string, post: BackupsPost = {}): Promise<Operation> {
    return exportBackup(this.#ctx, project, instance, post);
  }

  /** Restores a backup tarball as a new instance, as an operation ending with `{ name }`. */
  async import(
    project: string,
    source: BackupSource,
    options: ImportOptions = {},
  ): Promise<Operation> {
    return importBackup(this.#ctx, project, source, options);
  }

  /** Imports and waits; throws the import's own error (with its code) when it fails. */
  async importAndWait(
    project: string,
    source: BackupSource,
    options: ImportOptions = {},
  ): Promise<Instance> {
    return importBackupAndWait(this.#ctx, project, source, options);
  }

  /** Builds an image from an instance (a container stopped; a VM also running) or a snapshot; the operation ends with `{ fingerprint, size }`. */
  async publish(
    project: string,
    instance: string,
    options: PublishOptions = {},
  ): Promise<Operation> {
    return this.#publisher.publish(project, instance, options);
  }
}
