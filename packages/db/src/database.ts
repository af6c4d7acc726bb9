// The database as the engine holds it: every store over one client, and
// transactions that hand out the same stores over the transaction's client.
import { applyMigrations } from './migrate/index.ts';
import { createPrismaClient, type Root, type Tx } from './client.ts';
import path from 'node:path';
import { adoptSqliteFile, secureSqliteFiles, sqliteFileOf } from './sqlite.ts';
import { ProjectStore } from './stores/projects.ts';
import { ProfileStore } from './stores/profiles.ts';
import { InstanceStore } from './stores/instances.ts';
import { SnapshotStore } from './stores/snapshots.ts';
import { OperationStore } from './stores/operations.ts';
import { UserStore } from './stores/users.ts';
import { ImageStore } from './stores/images.ts';
import { StorageStore } from './stores/storage.ts';
import { NetworkStore } from './stores/networks.ts';
import { MemberStore } from './stores/members.ts';
import { ApiTokenStore } from './stores/tokens.ts';
import { SessionStore } from './stores/sessions.ts';
import { AuditStore } from './stores/audit.ts';
import { WarningStore } from './stores/warnings.ts';

/** The stores over one client: the root one or a transaction's. */
export class Stores {
  readonly projects: ProjectStore;
  readonly profiles: ProfileStore;
  readonly instances: InstanceStore;
  readonly snapshots: SnapshotStore;
  readonly operations: OperationStore;
  readonly users: UserStore;
  readonly images: ImageStore;
  readonly storage: StorageStore;
  readonly networks: NetworkStore;
  readonly members: MemberStore;
  readonly tokens: ApiTokenStore;
  readonly sessions: SessionStore;
  readonly audit: AuditStore;
  readonly warnings: WarningStore;

  constructor(client: Tx) {
    this.projects = new ProjectStore(client);
    this.profiles = new ProfileStore(client);
    this.instances = new InstanceStore(client);
    this.snapshots = new SnapshotStore(client);
    this.operations = new OperationStore(client);
    this.users = new UserStore(client);
    this.images = new ImageStore(client);
    this.storage = new StorageStore(client);
    this.networks = new NetworkStore(client);
    this.members = new MemberStore(client);
    this.tokens = new ApiTokenStore(client);
    this.sessions = new SessionStore(client);
    this.audit = new AuditStore(client);
    this.warnings = new WarningStore(client);
  }
}

export class Database extends Stores {
  readonly url: string;
  readonly #client: Root;

  constructor(client: Root, url: string) {
    super(client);
    this.#client = client;
    this.url = url;
  }

  /** Runs `fn` in one transaction: everything it writes lands, or nothing does. */
  transaction<T>(fn: (stores: Stores) => Promise<T>): Promise<T> {
    return this.#client.$transaction((tx) => fn(new Stores(tx)), {
      timeout: 30_000,
      maxWait: 30_000,
    });
  }

  async close(): Promise<void> {
    await this.#client.$disconnect();
  }
}

export interface OpenDatabaseOptions {
  /** `file:/var/lib/berth/database/berth.db` (SQLite). */
  url: string;
  /** Apply pending migrations first (default true). */
  migrate?: boolean;
}

/** Opens the database, creating and migrating it when needed. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.migrate !== false) await applyMigrations({ url: options.url });
  else await secureSqliteFiles(sqliteFileOf(options.url));
  const client = createPrismaClient(options.url);
  // WAL with synchronous=NORMAL, as SQLite advises for WAL: a commit no
  // longer waits for an fsync (0.4 ms each here, on every operation's
  // state change); an application crash loses nothing, a power cut at most
  // the last commits, never the file's consistency.
  await client.$executeRawUnsafe('PRAGMA synchronous = NORMAL');
  return new Database(client, options.url);
}

/**
 * Database URL for a data directory: the embedded SQLite file, in a
 * root-only `database/` folder as LXD keeps its own (`/var/lib/lxd/database`).
 */
export function defaultDatabaseUrl(dataDir: string): string {
  return `file:${dataDir.replace(/\/+$/, '')}/database/berth.db`;
}

/**
 * Opens the data directory's own database (defaultDatabaseUrl), first moving
 * one an older Berth kept at `<data dir>/berth.db` into `database/`.
 */
export async function openDataDirDatabase(
  dataDir: string,
  options: Omit<OpenDatabaseOptions, 'url'> = {},
): Promise<Database> {
  const url = defaultDatabaseUrl(dataDir);
  await adoptSqliteFile(path.join(dataDir, 'berth.db'), sqliteFileOf(url));
  return openDatabase({ ...options, url });
}
