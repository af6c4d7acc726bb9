// @berth/db: the database behind the engine. It opens the database (creating
// and migrating it on first start) and hands out stores (the repositories)
// that speak in plain records; Prisma's types stay inside this package. The
// engine types its dependencies with these stores and records, never with
// shapes of its own.

export type * from './records.ts';
export { ProjectStore } from './stores/projects.ts';
export { ProfileStore, type ProfileInput } from './stores/profiles.ts';
export { InstanceStore, type InstanceInput, type InstanceUpdate } from './stores/instances.ts';
export { SnapshotStore, type SnapshotInput } from './stores/snapshots.ts';
export { OperationStore, type OperationInput, type OperationChange } from './stores/operations.ts';
export { UserStore, type UserRecord, type UserInput } from './stores/users.ts';
export {
  ImageStore,
  type ImageRecord,
  type ImageAliasRecord,
  type ImageAliasTargetRecord,
  type ImageInput,
  type ImageUpdate,
} from './stores/images.ts';
export {
  StorageStore,
  type StoragePoolRecord,
  type StorageVolumeRecord,
  type StoragePoolInput,
  type StorageVolumeInput,
} from './stores/storage.ts';
export { NetworkStore, type NetworkRecord, type NetworkInput } from './stores/networks.ts';
export { MemberStore, type MemberRecord } from './stores/members.ts';
export { ApiTokenStore, hashToken, type ApiTokenRecord } from './stores/tokens.ts';
export { SessionStore, type SessionRecord } from './stores/sessions.ts';
export { AuditStore, type AuditEntry, type AuditInput } from './stores/audit.ts';
export { WarningStore, type WarningRecord, type WarningInput } from './stores/warnings.ts';
export { applyMigrations } from './migrate/index.ts';
export { hashPassword, verifyPassword, generatePassword } from './passwords.ts';
export { ensureAdmin, type BootstrapAdminResult } from './bootstrap-admin.ts';
export {
  Database,
  Stores,
  defaultDatabaseUrl,
  openDatabase,
  openDataDirDatabase,
  type OpenDatabaseOptions,
} from './database.ts';
