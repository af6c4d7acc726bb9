// Instances: the common logic over the drivers (LXD's driver_common.go):
// names, profiles, config validation and expansion, limits, volatile keys,
// locks and lifecycle events. What differs per type is the driver's.
//
// This class is the service's one face; the work lives in files by concern
// (instance-create, instance-updates, instance-lifecycle, instance-exec,
// instance-queries, instance-host-events), each given the shared context.
import type { Database } from '@berth/db';
import type { EventBus } from '../events/event-bus.ts';
import type {
  ExecPost,
  ExecResult,
  InstancePatch,
  InstancePut,
  InstancesPost,
  InstanceStatePut,
  Instance,
  InstanceFull,
  InstanceState,
  InstanceType,
  Operation,
} from '../schemas/index.ts';
import type { DriverRegistry } from '../drivers/registry.ts';
import type {
  ConsoleStream,
  DriverInstance,
  ExecProcess,
  FileStat,
  FileWrite,
  GraphicalConsoleStream,
  InstanceHostEvent,
} from '../drivers/driver.ts';
import type { OperationService } from '../operations/operations.ts';
import type { StoragePoolService } from '../storage/storage-pools.ts';
import type { ImageService } from '../images/images.ts';
import type { WarningService } from '../warnings/warnings.ts';
import type { BackupFiles } from '../backups/backup-files.ts';
import type { HostEvents } from '../drivers/host-events.ts';
import type { ExpandedInstance } from '../config/expanded-instances.ts';
import { InstanceLocks } from './instance-lock.ts';
import { expandedOf, poolOf, viewOf, type InstanceContext } from './instance-context.ts';
import {
  getFullInstance,
  getInstance,
  instanceNames,
  instanceState,
  listFullInstances,
  listInstances,
} from './instance-queries.ts';
import { createInstance, createInstanceAndWait } from './instance-create.ts';
import {
  applyProfileChange,
  deleteInstance,
  patchInstance,
  renameInstance,
  setConfigKeys,
  startDelete,
  startRename,
  startUpdate,
  updateInstance,
} from './instance-updates.ts';
import { checkWouldBe, type WouldBe } from './instance-checks.ts';
import { changeState, changeStateAndWait } from './instance-lifecycle.ts';
import { handleHostEvent, reconcile } from './instance-host-events.ts';
import { shutdownForHost } from './host-shutdown.ts';
import {
  consoleLog,
  prepareExec,
  type PreparedExec,
  filePull,
  filePush,
  fileRemove,
  fileStat,
  listDirectory,
  openConsole,
  openGraphicalConsole,
  requireRunning,
} from './instance-exec.ts';

export interface InstanceServiceOptions {
  db: Database;
  events: EventBus;
  operations: OperationService;
  drivers: DriverRegistry;
  storage: StoragePoolService;
  images: ImageService;
  networks: { get(name: string): Promise<unknown> };
  /** What the drivers notice on the host; handled from construction on. */
  hostEvents: HostEvents;
  /** The backup directory: listed in the full view, moved and removed with the instance. */
  backupFiles: BackupFiles;
  /** Where a failed autostart is recorded for the operator. */
  warnings: WarningService;
}

export class InstanceService {
  readonly locks = new InstanceLocks();
  readonly #ctx: InstanceContext;

  constructor(options: InstanceServiceOptions) {
    const { hostEvents, ...services } = options;
    this.#ctx = { ...services, locks: this.locks, expected: new Map(), usage: new Map() };
    hostEvents.subscribe((event) => {
      this.handleHostEvent(event).catch((error: unknown) => {
        options.events.logging(
          event.project,
          'error',
          `Handling ${event.type} of "${event.name}": ${String(error)}`,
        );
      });
    });
  }

  // ------------------------------------------------------------------ reads

  /** Names of a project's instances (LXD's recursion=0 gives their URLs). */
  async names(project: string): Promise<string[]> {
    return instanceNames(this.#ctx, project);
  }

  /** Instances of a project (or of all projects), optionally filtered with LXD's filter syntax. */
  async list(project: string | undefined, options: { filter?: string } = {}): Promise<Instance[]> {
    return listInstances(this.#ctx, project, options.filter);
  }

  /** recursion=2: with state, snapshots and backups. */
  async listFull(
    project: string | undefined,
    options: { filter?: string } = {},
  ): Promise<InstanceFull[]> {
    return listFullInstances(this.#ctx, project, options.filter);
  }

  async get(project: string, name: string): Promise<Instance> {
    return getInstance(this.#ctx, project, name);
  }

  async getFull(project: string, name: string): Promise<InstanceFull> {
    return getFullInstance(this.#ctx, project, name);
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
    return instanceState(this.#ctx, project, name, options);
  }

  // ----------------------------------------------------------------- writes

  /**
   * Creates an instance. Input is checked at once (a bad name or key fails
   * here, with nothing written); the driver's work runs as an operation.
   */
  async create(
    project: string,
    input: InstancesPost,
  ): Promise<{ instance: Instance; operation: Operation }> {
    return createInstance(this.#ctx, project, input);
  }

  /**
   * Creates an instance and waits until it exists (and runs, with `start`).
   * A failure is the work's own EngineError, code and field kept.
   */
  async createAndWait(project: string, input: InstancesPost): Promise<Instance> {
    return createInstanceAndWait(this.#ctx, project, input);
  }

  /** PUT: replaces description, config, devices, profiles, ephemeral. Volatile keys are kept. */
  async update(project: string, name: string, input: InstancePut): Promise<Instance> {
    return updateInstance(this.#ctx, project, name, input);
  }

  /** PATCH: config and devices merge into the current ones. */
  async patch(project: string, name: string, input: InstancePatch): Promise<Instance> {
    return patchInstance(this.#ctx, project, name, input);
  }

  /** Sets local config keys ("" removes one), the rest as it is, in one step under the lock. */
  async setConfigKeys(
    project: string,
    name: string,
    keys: Readonly<Record<string, string | undefined>>,
  ): Promise<Instance> {
    return setConfigKeys(this.#ctx, project, name, keys);
  }

  async rename(project: string, name: string, newName: string): Promise<Instance> {
    return renameInstance(this.#ctx, project, name, newName);
  }

  /** Deletes a stopped instance; a running one only with `force` (stopped first). */
  async delete(project: string, name: string, options: { force?: boolean } = {}): Promise<void> {
    return deleteInstance(this.#ctx, project, name, options);
  }

  // LXD answers these writes with an operation; the methods above do the
  // same work and return when it is done.

  /** `update` as an operation. */
  async startUpdate(project: string, name: string, input: InstancePut): Promise<Operation> {
    return startUpdate(this.#ctx, project, name, input);
  }

  /** `rename` as an operation; a running instance is refused at once (CONFLICT). */
  async startRename(project: string, name: string, newName: string): Promise<Operation> {
    return startRename(this.#ctx, project, name, newName);
  }

  /** `delete` as an operation; a running instance without `force` is refused at once (CONFLICT). */
  async startDelete(
    project: string,
    name: string,
    options: { force?: boolean } = {},
  ): Promise<Operation> {
    return startDelete(this.#ctx, project, name, options);
  }

  /** Running instances pick up a profile change (called by the profile service). */
  async applyProfileChange(users: { project: string; name: string }[]): Promise<void> {
    return applyProfileChange(this.#ctx, users);
  }

  // ---------------------------------------------- for snapshots and backups

  /** The pieces other services (snapshots, backups) work with, for one instance. */
  async resolve(
    project: string,
    name: string,
  ): Promise<{ instance: ExpandedInstance; view: DriverInstance; pool: string }> {
    const instance = await expandedOf(this.#ctx.db, project, name);
    return { instance, view: await viewOf(this.#ctx, instance), pool: poolOf(instance) };
  }

  /** The driver for an instance type (throws DRIVER_UNAVAILABLE when there is none). */
  driverFor(type: InstanceType) {
    return this.#ctx.drivers.get(type);
  }

  hasDriver(type: InstanceType): boolean {
    return this.#ctx.drivers.has(type);
  }

  /**
   * A config `name` would take on in `project` (a snapshot to restore, a
   * backup's snapshot to import), validated whole and allowed by the
   * project's restrictions. Throws the first problem, naming `what`.
   */
  async checkWouldBe(project: string, would: WouldBe, what: string): Promise<void> {
    return checkWouldBe(this.#ctx, project, would, what);
  }

  // -------------------------------------------------------------- lifecycle

  /** start / stop / restart / freeze / unfreeze, as an operation under the instance's lock. */
  async changeState(project: string, name: string, input: InstanceStatePut): Promise<Operation> {
    return changeState(this.#ctx, project, name, input);
  }

  /** Starts or stops and waits; throws the work's own EngineError (a refused start stays FORBIDDEN). */
  async changeStateAndWait(project: string, name: string, input: InstanceStatePut): Promise<void> {
    return changeStateAndWait(this.#ctx, project, name, input);
  }

  /** Something happened to an instance outside an engine call (a poweroff inside, a reboot). */
  async handleHostEvent(event: InstanceHostEvent): Promise<void> {
    return handleHostEvent(this.#ctx, event);
  }

  /** At engine start: the database learns what really runs, and autostart instances come up. */
  async reconcile(): Promise<void> {
    return reconcile(this.#ctx);
  }

  /** The host goes down: running instances shut down cleanly, to be restored at the next start. */
  async shutdownForHost(): Promise<string[]> {
    return shutdownForHost(this.#ctx);
  }

  // ------------------------------------------------------ inside the instance

  /** Runs a command to completion and returns its exit code and output (LXD's exec with record-output). */
  async exec(project: string, name: string, input: ExecPost): Promise<ExecResult> {
    return (await prepareExec(this.#ctx, project, name, input)).record();
  }

  /** An interactive command on a pty (terminals in the console). */
  async execInteractive(
    project: string,
    name: string,
    input: ExecPost,
    size: { cols: number; rows: number },
  ): Promise<ExecProcess> {
    return (await prepareExec(this.#ctx, project, name, input)).start(size);
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
    return (await prepareExec(this.#ctx, project, name, input)).start(interactive);
  }

  /**
   * Checks a command and that the instance runs, once; the result runs it
   * (recorded, or with streams) without looking the instance up again. What
   * an API calls before it answers with an operation.
   */
  async prepareExec(project: string, name: string, input: ExecPost): Promise<PreparedExec> {
    return prepareExec(this.#ctx, project, name, input);
  }

  /** Throws CONFLICT unless the instance runs (frozen is not running): before exec or a console. */
  async requireRunning(project: string, name: string): Promise<void> {
    return requireRunning(this.#ctx, project, name);
  }

  async console(
    project: string,
    name: string,
    size: { cols: number; rows: number },
  ): Promise<ConsoleStream> {
    return openConsole(this.#ctx, project, name, size);
  }

  /**
   * A running VM's VGA screen: the RFB (VNC) byte stream, both ways. A
   * container is refused (INVALID_ARGUMENT), a VM that does not run too (CONFLICT).
   */
  async graphicalConsole(project: string, name: string): Promise<GraphicalConsoleStream> {
    return openGraphicalConsole(this.#ctx, project, name);
  }

  async consoleLog(project: string, name: string): Promise<string> {
    return consoleLog(this.#ctx, project, name);
  }

  async filePull(project: string, name: string, path: string) {
    return filePull(this.#ctx, project, name, path);
  }

  async fileStat(project: string, name: string, path: string): Promise<FileStat> {
    return fileStat(this.#ctx, project, name, path);
  }

  async listDirectory(project: string, name: string, path: string): Promise<FileStat[]> {
    return listDirectory(this.#ctx, project, name, path);
  }

  async filePush(project: string, name: string, path: string, file: FileWrite): Promise<void> {
    return filePush(this.#ctx, project, name, path, file);
  }

  async fileRemove(project: string, name: string, path: string): Promise<void> {
    return fileRemove(this.#ctx, project, name, path);
  }
}
