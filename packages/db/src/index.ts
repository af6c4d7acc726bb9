// @berth/db: the database behind the engine. It opens the database (creating
// and migrating it on first start) and hands out stores that speak in plain
// records; Prisma's types stay inside this package.
import { applyMigrations } from './migrate/index.ts';
import { createPrismaClient, type Root, type Tx } from './client.ts';
import { secureSqliteFiles, sqliteFileOf } from './sqlite.ts';
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

export type * from './records.ts';
export type { InstanceInput, InstanceUpdate } from './stores/instances.ts';
export type { ProfileInput } from './stores/profiles.ts';
export type { SnapshotInput } from './stores/snapshots.ts';
export type { OperationInput, OperationChange } from './stores/operations.ts';
export type { UserRecord, UserInput } from './stores/users.ts';
export type {
  ImageRecord,
  ImageAliasRecord,
  ImageAliasTargetRecord,
  ImageInput,
  ImageUpdate,
} from './stores/images.ts';
export { ImageStore } from './stores/images.ts';
export type {
  StoragePoolRecord,
  StorageVolumeRecord,
  StoragePoolInput,
  StorageVolumeInput,
} from './stores/storage.ts';
export type { NetworkRecord, NetworkInput } from './stores/networks.ts';
export { StorageStore } from './stores/storage.ts';
export { NetworkStore } from './stores/networks.ts';
export { MemberStore, type MemberRecord } from './stores/members.ts';
export { ApiTokenStore, hashToken, type ApiTokenRecord } from './stores/tokens.ts';
export { SessionStore, type SessionRecord } from './stores/sessions.ts';
export { AuditStore, type AuditEntry, type AuditInput } from './stores/audit.ts';
export { applyMigrations } from './migrate/index.ts';
export { hashPassword, verifyPassword, generatePassword } from './passwords.ts';
export { ensureAdmin, type BootstrapAdminResult } from './bootstrap-admin.ts';

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
  /** `file:/var/lib/berth/berth.db` (SQLite). */
  url: string;
  /** Apply pending migrations first (default true). */
  migrate?: boolean;
}

/** Opens the database, creating and migrating it when needed. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.migrate !== false) await applyMigrations({ url: options.url });
  else await secureSqliteFiles(sqliteFileOf(options.url));
  return new Database(createPrismaClient(options.url), options.url);
}

/** Database URL for a data directory: the embedded SQLite file. */
export function defaultDatabaseUrl(dataDir: string): string {
  return `file:${dataDir.replace(/\/+$/, '')}/berth.db`;
}
