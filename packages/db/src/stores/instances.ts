import type { Tx } from '../client.ts';
import {
  devicesFromRows,
  devicesToRows,
  mapToRows,
  rowsToMap,
  type ConfigMap,
  type DeviceMap,
} from '../kv.ts';
import type { InstanceRecord } from '../records.ts';

const include = {
  project: { select: { name: true } },
  config: true,
  devices: { include: { config: true } },
  profiles: { include: { profile: { select: { name: true } } }, orderBy: { applyOrder: 'asc' } },
} as const;

type Row = {
  id: number;
  name: string;
  type: string;
  architecture: string;
  ephemeral: boolean;
  stateful: boolean;
  description: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  node: string;
  project: { name: string };
  config: { key: string; value: string }[];
  devices: { name: string; type: string; config: { key: string; value: string }[] }[];
  profiles: { profile: { name: string } }[];
};

function toRecord(row: Row): InstanceRecord {
  return {
    id: row.id,
    project: row.project.name,
    name: row.name,
    type: row.type,
    architecture: row.architecture,
    ephemeral: row.ephemeral,
    stateful: row.stateful,
    description: row.description,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    expiresAt: row.expiresAt,
    node: row.node,
    config: rowsToMap(row.config),
    devices: devicesFromRows(row.devices),
    profiles: row.profiles.map((p) => p.profile.name),
  };
}

export interface InstanceInput {
  name: string;
  type: string;
  architecture: string;
  ephemeral?: boolean;
  stateful?: boolean;
  description?: string;
  node?: string;
  config: ConfigMap;
  devices: DeviceMap;
  /** Profile ids in apply order. */
  profileIds: number[];
}

export interface InstanceUpdate {
  description: string;
  ephemeral: boolean;
  config: ConfigMap;
  devices: DeviceMap;
  profileIds: number[];
}

function devicesCreate(devices: DeviceMap) {
  return devicesToRows(devices).map((d) => ({
    name: d.name,
    type: d.type,
    config: { create: d.config },
  }));
}

function profilesCreate(profileIds: number[]) {
  return profileIds.map((profileId, applyOrder) => ({ profileId, applyOrder }));
}

/** Instances read per query by list(): their devices' configs stay well under 32766 bound values. */
const LIST_PAGE = 2000;

export class InstanceStore {
  constructor(private readonly db: Tx) {}

  /** Instances of one project, or of every project when `project` is undefined. */
  async list(project?: string): Promise<InstanceRecord[]> {
    // In pages: each page's config and devices load with one `IN (...)` over
    // the page's rows, which must stay under SQLite's bound-value limit.
    const out: InstanceRecord[] = [];
    for (;;) {
      const rows = await this.db.instance.findMany({
        where: project === undefined ? {} : { project: { name: project } },
        include,
        orderBy: [{ projectId: 'asc' }, { name: 'asc' }],
        skip: out.length,
        take: LIST_PAGE,
      });
      out.push(...rows.map(toRecord));
      if (rows.length < LIST_PAGE) return out;
    }
  }

  async names(project: string): Promise<string[]> {
    const rows = await this.db.instance.findMany({
      where: { project: { name: project } },
      select: { name: true },
      orderBy: { name: 'asc' },
    });
    return rows.map((r) => r.name);
  }

  async get(project: string, name: string): Promise<InstanceRecord | null> {
    const row = await this.db.instance.findFirst({
      where: { project: { name: project }, name },
      include,
    });
    return row ? toRecord(row) : null;
  }

  async getById(id: number): Promise<InstanceRecord | null> {
    const row = await this.db.instance.findUnique({ where: { id }, include });
    return row ? toRecord(row) : null;
  }

  async count(project: string): Promise<number> {
    return this.db.instance.count({ where: { project: { name: project } } });
  }

  /** Every `value` of config `key` among all instances (e.g. existing MACs). */
  async configValues(keyPattern: { startsWith: string; endsWith: string }): Promise<string[]> {
    const rows = await this.db.instanceConfig.findMany({
      where: { key: { startsWith: keyPattern.startsWith, endsWith: keyPattern.endsWith } },
      select: { value: true },
    });
    return rows.map((r) => r.value);
  }

  async create(projectId: number, input: InstanceInput): Promise<InstanceRecord> {
    const row = await this.db.instance.create({
      data: {
        projectId,
        name: input.name,
        type: input.type,
        architecture: input.architecture,
        ephemeral: input.ephemeral ?? false,
        stateful: input.stateful ?? false,
        description: input.description ?? '',
        node: input.node ?? 'none',
        config: { create: mapToRows(input.config) },
        devices: { create: devicesCreate(input.devices) },
        profiles: { create: profilesCreate(input.profileIds) },
      },
      include,
    });
    return toRecord(row);
  }

  /** Replaces the writable fields (LXD's PUT). */
  async update(id: number, input: InstanceUpdate): Promise<void> {
    await this.db.instanceConfig.deleteMany({ where: { instanceId: id } });
    await this.db.instanceDevice.deleteMany({ where: { instanceId: id } });
    await this.db.instanceProfile.deleteMany({ where: { instanceId: id } });
    await this.db.instance.update({
      where: { id },
      data: {
        description: input.description,
        ephemeral: input.ephemeral,
        config: { create: mapToRows(input.config) },
        devices: { create: devicesCreate(input.devices) },
        profiles: { create: profilesCreate(input.profileIds) },
      },
    });
  }

  /** Sets (string) or removes (null) single config keys, e.g. volatile ones. */
  async setConfigKeys(id: number, changes: Record<string, string | null>): Promise<void> {
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) {
        await this.db.instanceConfig.deleteMany({ where: { instanceId: id, key } });
      } else {
        await this.db.instanceConfig.upsert({
          where: { instanceId_key: { instanceId: id, key } },
          create: { instanceId: id, key, value },
          update: { value },
        });
      }
    }
  }

  /** Whether the instance's volume holds a saved runtime state (LXD's `stateful`). */
  async setStateful(id: number, stateful: boolean): Promise<void> {
    await this.db.instance.update({ where: { id }, data: { stateful } });
  }

  async touch(id: number, at = new Date()): Promise<void> {
    await this.db.instance.update({ where: { id }, data: { lastUsedAt: at } });
  }

  async rename(id: number, name: string): Promise<void> {
    await this.db.instance.update({ where: { id }, data: { name } });
  }

  async delete(id: number): Promise<void> {
    await this.db.instance.delete({ where: { id } });
  }
}
