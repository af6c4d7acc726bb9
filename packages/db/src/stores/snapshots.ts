import type { Tx } from '../client.ts';
import {
  devicesFromRows,
  devicesToRows,
  mapToRows,
  rowsToMap,
  type ConfigMap,
  type DeviceMap,
} from '../kv.ts';
import type { SnapshotRecord } from '../records.ts';

const include = {
  instance: { select: { name: true, project: { select: { name: true } } } },
  config: true,
  devices: { include: { config: true } },
} as const;

type Row = {
  id: number;
  name: string;
  description: string;
  stateful: boolean;
  createdAt: Date;
  expiresAt: Date | null;
  instance: { name: string; project: { name: string } };
  config: { key: string; value: string }[];
  devices: { name: string; type: string; config: { key: string; value: string }[] }[];
};

function toRecord(row: Row): SnapshotRecord {
  return {
    id: row.id,
    project: row.instance.project.name,
    instance: row.instance.name,
    name: row.name,
    description: row.description,
    stateful: row.stateful,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    config: rowsToMap(row.config),
    devices: devicesFromRows(row.devices),
  };
}

export interface SnapshotInput {
  name: string;
  description?: string;
  stateful?: boolean;
  createdAt?: Date;
  expiresAt?: Date | null;
  config: ConfigMap;
  devices: DeviceMap;
}

export class SnapshotStore {
  constructor(private readonly db: Tx) {}

  async list(instanceId: number): Promise<SnapshotRecord[]> {
    const rows = await this.db.instanceSnapshot.findMany({
      where: { instanceId },
      include,
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    return rows.map(toRecord);
  }

  /** Which of these instances have at least one snapshot (one query for a whole list). */
  async instancesWithSnapshots(instanceIds: readonly number[]): Promise<Set<number>> {
    const rows = await this.db.instanceSnapshot.findMany({
      where: { instanceId: { in: [...instanceIds] } },
      select: { instanceId: true },
      distinct: ['instanceId'],
    });
    return new Set(rows.map((r) => r.instanceId));
  }

  async get(instanceId: number, name: string): Promise<SnapshotRecord | null> {
    const row = await this.db.instanceSnapshot.findUnique({
      where: { instanceId_name: { instanceId, name } },
      include,
    });
    return row ? toRecord(row) : null;
  }

  async create(instanceId: number, input: SnapshotInput): Promise<SnapshotRecord> {
    const row = await this.db.instanceSnapshot.create({
      data: {
        instanceId,
        name: input.name,
        description: input.description ?? '',
        stateful: input.stateful ?? false,
        ...(input.createdAt ? { createdAt: input.createdAt } : {}),
        expiresAt: input.expiresAt ?? null,
        config: { create: mapToRows(input.config) },
        devices: {
          create: devicesToRows(input.devices).map((d) => ({
            name: d.name,
            type: d.type,
            config: { create: d.config },
          })),
        },
      },
      include,
    });
    return toRecord(row);
  }

  async update(id: number, input: { description: string; expiresAt: Date | null }): Promise<void> {
    await this.db.instanceSnapshot.update({ where: { id }, data: input });
  }

  async rename(id: number, name: string): Promise<void> {
    await this.db.instanceSnapshot.update({ where: { id }, data: { name } });
  }

  async delete(id: number): Promise<void> {
    await this.db.instanceSnapshot.delete({ where: { id } });
  }

  /** Snapshots whose expiry has passed, across all instances (for the pruner). */
  async expired(now = new Date()): Promise<SnapshotRecord[]> {
    const rows = await this.db.instanceSnapshot.findMany({
      where: { expiresAt: { lte: now } },
      include,
    });
    return rows.map(toRecord);
  }
}
