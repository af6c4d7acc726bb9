// Storage pools and their volumes. Pools are global (as in LXD); volumes
// belong to a project. A snapshot's volume is a row of the same type named
// `<volume>/<snapshot>` (LXD's layout before it split snapshots into their own
// table), so renaming or deleting a volume carries its snapshots along.
import type { Tx } from '../client.ts';
import { mapToRows, rowsToMap, type ConfigMap } from '../kv.ts';

export interface StoragePoolRecord {
  id: number;
  name: string;
  driver: string;
  description: string;
  /** CREATED | PENDING | ERRORED */
  state: string;
  config: ConfigMap;
}

export interface StorageVolumeRecord {
  id: number;
  pool: string;
  project: string;
  /** `c1`, or `c1/snap0` for a snapshot's volume. */
  name: string;
  /** container | virtual-machine | image | custom */
  type: string;
  /** filesystem | block */
  contentType: string;
  description: string;
  createdAt: Date;
  node: string;
  /** A snapshot volume's expiry; null: never. */
  expiresAt: Date | null;
  config: ConfigMap;
}

export interface StoragePoolInput {
  name: string;
  driver: string;
  description?: string;
  state?: string;
  config?: ConfigMap;
}

export interface StorageVolumeInput {
  name: string;
  type: string;
  contentType?: string;
  description?: string;
  config?: ConfigMap;
  expiresAt?: Date | null;
}

type PoolRow = {
  id: number;
  name: string;
  driver: string;
  description: string;
  state: string;
  config: { key: string; value: string }[];
};
type VolumeRow = {
  id: number;
  name: string;
  type: string;
  contentType: string;
  description: string;
  createdAt: Date;
  node: string;
  expiresAt: Date | null;
  pool: { name: string };
  project: { name: string };
  config: { key: string; value: string }[];
};

const poolInclude = { config: true } as const;
const volumeInclude = {
  config: true,
  pool: { select: { name: true } },
  project: { select: { name: true } },
} as const;

function toPool(row: PoolRow): StoragePoolRecord {
  return {
    id: row.id,
    name: row.name,
    driver: row.driver,
    description: row.description,
    state: row.state,
    config: rowsToMap(row.config),
  };
}

function toVolume(row: VolumeRow): StorageVolumeRecord {
  return {
    id: row.id,
    pool: row.pool.name,
    project: row.project.name,
    name: row.name,
    type: row.type,
    contentType: row.contentType,
    description: row.description,
    createdAt: row.createdAt,
    node: row.node,
    expiresAt: row.expiresAt,
    config: rowsToMap(row.config),
  };
}

export class StorageStore {
  constructor(private readonly db: Tx) {}

  // ------------------------------------------------------------------ pools

  async listPools(): Promise<StoragePoolRecord[]> {
    const rows = await this.db.storagePool.findMany({
      include: poolInclude,
      orderBy: { name: 'asc' },
    });
    return rows.map(toPool);
  }

  async getPool(name: string): Promise<StoragePoolRecord | null> {
    const row = await this.db.storagePool.findUnique({ where: { name }, include: poolInclude });
    return row ? toPool(row) : null;
  }

  async createPool(input: StoragePoolInput): Promise<StoragePoolRecord> {
    const row = await this.db.storagePool.create({
      data: {
        name: input.name,
        driver: input.driver,
        description: input.description ?? '',
        state: input.state ?? 'CREATED',
        config: { create: mapToRows(input.config ?? {}) },
      },
      include: poolInclude,
    });
    return toPool(row);
  }

  /** Replaces description and the whole config map. */
  async updatePool(id: number, input: { description: string; config: ConfigMap }): Promise<void> {
    await this.db.storagePoolConfig.deleteMany({ where: { poolId: id } });
    await this.db.storagePool.update({
      where: { id },
      data: { description: input.description, config: { create: mapToRows(input.config) } },
    });
  }

  async setPoolState(id: number, state: string): Promise<void> {
    await this.db.storagePool.update({ where: { id }, data: { state } });
  }

  /** Fails (foreign key) while the pool still has volumes; check `countVolumes` first. */
  async deletePool(id: number): Promise<void> {
    await this.db.storagePool.delete({ where: { id } });
  }

  // ---------------------------------------------------------------- volumes

  async countVolumes(poolId: number): Promise<number> {
    return this.db.storageVolume.count({ where: { poolId } });
  }

  /** Volumes of a pool, optionally of one project, by type then name. */
  async listVolumes(pool: string, project?: string): Promise<StorageVolumeRecord[]> {
    const rows = await this.db.storageVolume.findMany({
      where: {
        pool: { name: pool },
        ...(project === undefined ? {} : { project: { name: project } }),
      },
      include: volumeInclude,
      orderBy: [{ type: 'asc' }, { name: 'asc' }],
    });
    return rows.map(toVolume);
  }

  async getVolume(
    pool: string,
    project: string,
    type: string,
    name: string,
  ): Promise<StorageVolumeRecord | null> {
    const row = await this.db.storageVolume.findFirst({
      where: { pool: { name: pool }, project: { name: project }, type, name },
      include: volumeInclude,
    });
    return row ? toVolume(row) : null;
  }

  /** Null when the pool or the project does not exist. */
  async createVolume(
    pool: string,
    project: string,
    input: StorageVolumeInput,
  ): Promise<StorageVolumeRecord | null> {
    const poolRow = await this.db.storagePool.findUnique({
      where: { name: pool },
      select: { id: true },
    });
    const projectRow = await this.db.project.findUnique({
      where: { name: project },
      select: { id: true },
    });
    if (!poolRow || !projectRow) return null;
    const row = await this.db.storageVolume.create({
      data: {
        poolId: poolRow.id,
        projectId: projectRow.id,
        name: input.name,
        type: input.type,
        contentType: input.contentType ?? 'filesystem',
        description: input.description ?? '',
        expiresAt: input.expiresAt ?? null,
        config: { create: mapToRows(input.config ?? {}) },
      },
      include: volumeInclude,
    });
    return toVolume(row);
  }

  async updateVolume(id: number, input: { description: string; config: ConfigMap }): Promise<void> {
    await this.db.storageVolumeConfig.deleteMany({ where: { volumeId: id } });
    await this.db.storageVolume.update({
      where: { id },
      data: { description: input.description, config: { create: mapToRows(input.config) } },
    });
  }

  async setVolumeExpiry(id: number, expiresAt: Date | null): Promise<void> {
    await this.db.storageVolume.update({ where: { id }, data: { expiresAt } });
  }

  /** Snapshot volumes (`name` holds a `/`) whose expiry has passed, of every pool and project. */
  async expiredVolumeSnapshots(now: Date): Promise<StorageVolumeRecord[]> {
    const rows = await this.db.storageVolume.findMany({
      where: { expiresAt: { not: null, lte: now }, name: { contains: '/' } },
      include: volumeInclude,
      orderBy: { id: 'asc' },
    });
    return rows.map(toVolume);
  }

  async renameVolume(id: number, name: string): Promise<void> {
    await this.db.storageVolume.update({ where: { id }, data: { name } });
  }

  async deleteVolume(id: number): Promise<void> {
    await this.db.storageVolume.delete({ where: { id } });
  }

  /** Renames a volume and its snapshots' volumes (`old/*` → `new/*`); returns how many rows changed. */
  async renameVolumeTree(
    pool: string,
    project: string,
    type: string,
    from: string,
    to: string,
  ): Promise<number> {
    const rows = await this.db.storageVolume.findMany({
      where: {
        pool: { name: pool },
        project: { name: project },
        type,
        OR: [{ name: from }, { name: { startsWith: `${from}/` } }],
      },
      select: { id: true, name: true },
    });
    for (const row of rows) {
      await this.db.storageVolume.update({
        where: { id: row.id },
        data: { name: to + row.name.slice(from.length) },
      });
    }
    return rows.length;
  }

  /** Deletes a volume and its snapshots' volumes; returns how many rows went. */
  async deleteVolumeTree(
    pool: string,
    project: string,
    type: string,
    name: string,
  ): Promise<number> {
    const out = await this.db.storageVolume.deleteMany({
      where: {
        pool: { name: pool },
        project: { name: project },
        type,
        OR: [{ name }, { name: { startsWith: `${name}/` } }],
      },
    });
    return out.count;
  }
}
