// What the parts of the backup service share: the services they work over,
// the backup directory, and the names being written right now.
import type { Database } from '@berth/db';
import type { EventBus } from '../events/event-bus.ts';
import type { InstanceService } from '../instances/instances.ts';
import type { OperationService } from '../operations/operations.ts';
import type { StoragePoolService } from '../storage/storage-pools.ts';
import type { BackupFiles } from './backup-files.ts';

export interface BackupContext {
  readonly files: BackupFiles;
  readonly db: Database;
  readonly events: EventBus;
  readonly operations: OperationService;
  readonly instances: InstanceService;
  readonly storage: StoragePoolService;
  /** Backup names being written (`project/instance/name`), so two exports cannot take the same one. */
  readonly reserved: Set<string>;
  /** Resolves once what a previous process left half-written is swept. */
  ready(): Promise<void>;
}
