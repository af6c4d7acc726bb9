// The engine's facade: `createEngine({ dataDir, db })` wires the services
// together, reconciles what a previous process left behind, and hands them
// out. It never reads process.env; callers pass a parsed config.
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { openDataDirDatabase, type Database } from '@berth/db';
import { EventBus } from './events/event-bus.ts';
import { OperationService } from './operations/operations.ts';
import { ProjectService } from './projects/projects.ts';
import { ProfileService } from './profiles/profiles.ts';
import { InstanceService } from './instances/instances.ts';
import { ImageService } from './images/images.ts';
import { WarningService } from './warnings/warnings.ts';
import { SnapshotService } from './instances/snapshots.ts';
import { BackupService } from './backups/backups.ts';
import { BackupFiles } from './backups/backup-files.ts';
import { StoragePoolService } from './storage/storage-pools.ts';
import { StorageVolumeService } from './storage/volumes.ts';
import { secureDataDir } from './storage/data-dir-modes.ts';
import { volumeRootUid } from './drivers/lxc/volume-shift.ts';
import { DEFAULT_NETWORK, NetworkService } from './network/networks.ts';
import { apiUrl } from './api-url.ts';
import { everyMinute } from './every-minute.ts';
import { retainCommandSidecar } from './host/command-sidecar.ts';
import type { DriverFactories } from './drivers/driver.ts';
import { HostEvents } from './drivers/host-events.ts';
import { loadDrivers } from './drivers/load.ts';
import type { DriverInfo } from './drivers/registry.ts';
import { expandedListOf } from './instances/instance-context.ts';

export interface EngineConfig {
  /** Where Berth keeps its database, images, storage, logs and runtime sockets. */
  dataDir: string;
  /** An open database; default: the SQLite file in dataDir, migrated. */
  db?: Database;
  /** Cluster member name (LXD's `location`). */
  location?: string;
  drivers?: DriverFactories;
  /**
   * The managed bridge new installs get (default `berthbr0`); `null` for
   * none, e.g. in tests that run several engines on one host.
   */
  defaultNetwork?: string | null;
  /** Run scheduled snapshots and prune expired snapshots and backups every minute (default true). */
  scheduler?: boolean;
  /** Where image builders keep downloads between builds (kernel packages); default `<dataDir>/cache`. */
  cacheDir?: string;
}

export interface Engine {
  readonly dataDir: string;
  readonly db: Database;
  readonly events: EventBus;
  readonly operations: OperationService;
  readonly projects: ProjectService;
  readonly profiles: ProfileService;
  readonly instances: InstanceService;
  readonly images: ImageService;
  readonly snapshots: SnapshotService;
  readonly backups: BackupService;
  readonly storage: StoragePoolService;
  /** Custom storage volumes and their snapshots (`volumes.snapshots`). */
  readonly volumes: StorageVolumeService;
  readonly networks: NetworkService;
  readonly warnings: WarningService;
  /** Which instance drivers work on this host, and why not. */
  drivers(): DriverInfo[];
  /**
   * Stops the engine; instances keep running. With `shutdownInstances` (the
   * host is going down, LXD's SIGPWR) they are first shut down cleanly within
   * `boot.host_shutdown_timeout`, and the next start restores those that ran.
   */
  close(options?: { shutdownInstances?: boolean }): Promise<void>;
}

export async function createEngine(config: EngineConfig): Promise<Engine> {
  const dataDir = path.resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  // 0711 as LXD's /var/lib/lxd: unprivileged containers' root (a mapped uid)
  // must traverse it to reach their rootfs (mkdtemp-style 0700 would make
  // every start fail with "Permission denied"), and nobody may list it.
  // Secrets in it are root's only; older installs are put right here.
  await secureDataDir(dataDir);
  const ownsDb = config.db === undefined;
  const db = config.db ?? (await openDataDirDatabase(dataDir));

  const events = new EventBus(config.location ?? 'none');
  const operations = new OperationService(db, events, config.location ?? 'none');
  const projects = new ProjectService(db, events, operations);
  const defaultNetwork =
    config.defaultNetwork === undefined ? DEFAULT_NETWORK : config.defaultNetwork;
  await projects.ensureDefault(defaultNetwork ? { network: defaultNetwork } : {});
  const storage = new StoragePoolService({ dataDir, db, events });
  await storage.ensureDefault();
  const networks = new NetworkService({
    dataDir,
    db,
    events,
    usedBy: (network) => instancesOnNetwork(db, network),
  });
  if (defaultNetwork) await networks.ensureDefault(defaultNetwork);

  // Who runs is the instance service's to say; it is built after the drivers.
  let instanceRunning = (_project: string, _name: string) => Promise.resolve(false);
  const volumes = new StorageVolumeService({
    db,
    pools: storage,
    events,
    operations,
    instanceRunning: (project, name) => instanceRunning(project, name),
  });

  // Drivers report host events from the moment they load; the instance
  // service that handles them is built after the registry.
  const hostEvents = new HostEvents();
  const registry = await loadDrivers(
    {
      dataDir,
      ensureNetwork: (name) => networks.ensureUp(name),
      onInstanceEvent: (event) => hostEvents.emit(event),
      attachVolume: (request) => volumes.attachSource(request),
    },
    config.drivers,
  );
  // Instance volume folders of older installs were open to every local user.
  await storage.secureVolumes((type, dir) => (type === 'container' ? volumeRootUid(dir) : 0));
  const images = new ImageService({
    dataDir,
    store: db.images,
    events,
    operations,
    projects: db.projects,
    ...(config.cacheDir ? { cacheDir: path.resolve(config.cacheDir) } : {}),
  });
  const warnings = new WarningService(db, events, config.location ?? 'none');
  await warnings.checkDrivers(registry.info());
  const backupFiles = new BackupFiles(dataDir);
  const instances = new InstanceService({
    db,
    events,
    operations,
    drivers: registry,
    storage,
    images,
    networks,
    hostEvents,
    backupFiles,
    warnings,
  });
  instanceRunning = async (project, name) =>
    (await instances.get(project, name).catch(() => null))?.status === 'Running';
  const profiles = new ProfileService(db, events, instances);
  const snapshots = new SnapshotService(db, events, operations, storage, instances);
  const backups = new BackupService({
    files: backupFiles,
    db,
    events,
    operations,
    instances,
    storage,
    images,
  });

  await operations.reconcile();
  // Work files of operations that died with a previous process (image builds' `.tmp-`
  // folders, backups' `.partial-` tarballs) go now, not at the next build or backup.
  await images.files.sweep();
  await backupFiles.ready();
  await instances.reconcile();
  const scheduler =
    config.scheduler === false
      ? undefined
      : everyMinute(async (at, startup) => {
          await snapshots.runSchedule(at, { startup });
          await volumes.snapshots
            .runSchedule(at, { startup })
            .catch((error: unknown) =>
              events.logging('default', 'warning', `Volume snapshots: ${String(error)}`),
            );
          await backups
            .pruneExpired(at)
            .catch((error: unknown) =>
              events.logging('default', 'warning', `Pruning expired backups: ${String(error)}`),
            );
        });

  // Host commands are spawned by a sidecar process; the last engine closed stops it.
  const releaseCommandSidecar = retainCommandSidecar();
  return {
    dataDir,
    db,
    events,
    operations,
    projects,
    profiles,
    instances,
    images,
    snapshots,
    backups,
    storage,
    volumes,
    networks,
    warnings,
    drivers: () => registry.info(),
    async close(options = {}) {
      scheduler?.stop();
      if (options.shutdownInstances) await instances.shutdownForHost();
      // Hooks after this point belong to the next engine on this data dir.
      registry.close();
      await operations.drain();
      releaseCommandSidecar();
      if (ownsDb) await db.close();
    },
  };
}

/**
 * Who uses a network (LXD's UsedBy): instances with a NIC on it, profiles
 * applied, as API URLs. Read from the database, so the network service needs
 * no instance service (which is built after it).
 */
async function instancesOnNetwork(db: Database, network: string): Promise<string[]> {
  return (await expandedListOf(db, undefined))
    .filter((i) =>
      Object.values(i.expandedDevices).some((d) => d.type === 'nic' && d.network === network),
    )
    .map((i) => apiUrl.instance(i.record.project, i.name));
}
