// What the storage service needs from the database. packages/db's
// `StorageStore` (stores/storage.ts) satisfies it; the service depends on
// this shape rather than the class so the engine stays decoupled from how
// packages/db is wired (`Stores.storage`).
export interface PoolRow {
  id: number;
  name: string;
  driver: string;
  description: string;
  state: string;
  config: Record<string, string>;
}

export interface VolumeRow {
  id: number;
  pool: string;
  project: string;
  name: string;
  type: string;
  contentType: string;
  description: string;
  createdAt: Date;
  node: string;
  config: Record<string, string>;
}

export interface StorageRepository {
  listPools(): Promise<PoolRow[]>;
  getPool(name: string): Promise<PoolRow | null>;
  createPool(input: {
    name: string;
    driver: string;
    description?: string;
    state?: string;
    config?: Record<string, string>;
  }): Promise<PoolRow>;
  updatePool(
    id: number,
    input: { description: string; config: Record<string, string> },
  ): Promise<void>;
  deletePool(id: number): Promise<void>;
  countVolumes(poolId: number): Promise<number>;
  listVolumes(pool: string, project?: string): Promise<VolumeRow[]>;
  getVolume(pool: string, project: string, type: string, name: string): Promise<VolumeRow | null>;
  createVolume(
    pool: string,
    project: string,
    input: {
      name: string;
      type: string;
      contentType?: string;
      description?: string;
      config?: Record<string, string>;
    },
  ): Promise<VolumeRow | null>;
  renameVolume(id: number, name: string): Promise<void>;
  deleteVolume(id: number): Promise<void>;
  renameVolumeTree(
    pool: string,
    project: string,
    type: string,
    from: string,
    to: string,
  ): Promise<number>;
  deleteVolumeTree(pool: string, project: string, type: string, name: string): Promise<number>;
}

/** `Database`/`Stores` once the lead wires `storage`; anything with a `storage` repository. */
export interface StorageDb {
  readonly storage: StorageRepository;
}
