// The engine's facade: `createEngine({ dataDir, db })` wires the services
// together, reconciles what a previous process left behind, and hands them
// out. It never reads process.env; callers pass a parsed config.
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { defaultDatabaseUrl, openDatabase, type Database } from '@berth/db';
import { EventBus } from './events/event-bus.ts';
import { EngineError } from './errors.ts';
import { OperationService } from './operations/operations.ts';
import { ProjectService } from './projects/projects.ts';
import { ProfileService } from './profiles/profiles.ts';
import { InstanceService } from './instances/instances.ts';
import { ImageService } from './images/images.ts';
import { DriverRegistry, defaultDriverFactories, type DriverFactories, type DriverInfo, type InstanceHostEvent } from './drivers/registry.ts';

export interface EngineConfig {
  /** Where Berth keeps its database, images, storage, logs and runtime sockets. */
  dataDir: string;
  /** An open database; default: the SQLite file in dataDir, migrated. */
  db?: Database;
  /** Cluster member name (LXD's `location`). */
  location?: string;
  drivers?: DriverFactories;
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
  /** Which instance drivers work on this host, and why not. */
  drivers(): DriverInfo[];
  close(): Promise<void>;
}

export async function createEngine(config: EngineConfig): Promise<Engine> {
  const dataDir = path.resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  const ownsDb = config.db === undefined;
  const db = config.db ?? (await openDatabase({ url: defaultDatabaseUrl(dataDir) }));

  const events = new EventBus(config.location ?? 'none');
  // Drivers report host events from the moment they load; the instance
  // service that handles them is built after the registry.
  let onInstanceEvent: (event: InstanceHostEvent) => void = () => {};
  const operations = new OperationService(db, events, config.location ?? 'none');
  const registry = await DriverRegistry.load(config.drivers ?? defaultDriverFactories, {
    dataDir,
    ensureNetwork: async (name) => {
      throw new EngineError('NOT_IMPLEMENTED', `networks: managed network "${name}" is not available yet`);
    },
    onInstanceEvent: (event) => onInstanceEvent(event),
  });
  const projects = new ProjectService(db, events);
  const profiles = new ProfileService(db, events);
  const instances = new InstanceService(db, events, operations, registry, dataDir);
  onInstanceEvent = (event) => {
    instances.handleHostEvent(event).catch((error: unknown) => {
      events.logging(event.project, 'error', `Handling ${event.type} of "${event.name}": ${String(error)}`);
    });
  };
  const images = new ImageService({ dataDir, store: db.images, events, operations });
  profiles.onChange((users) => instances.applyProfileChange(users));

  await projects.ensureDefault();
  await operations.reconcile();
  await instances.reconcile();

  return {
    dataDir,
    db,
    events,
    operations,
    projects,
    profiles,
    instances,
    images,
    drivers: () => registry.info(),
    async close() {
      await operations.drain();
      if (ownsDb) await db.close();
    },
  };
}
