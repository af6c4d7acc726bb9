import type { Tx } from '../client.ts';
import {
  devicesFromRows,
  devicesToRows,
  mapToRows,
  rowsToMap,
  type ConfigMap,
  type DeviceMap,
} from '../kv.ts';
import type { ProfileRecord } from '../records.ts';

const include = {
  project: { select: { name: true } },
  config: true,
  devices: { include: { config: true } },
} as const;

type Row = {
  id: number;
  name: string;
  description: string;
  project: { name: string };
  config: { key: string; value: string }[];
  devices: { name: string; type: string; config: { key: string; value: string }[] }[];
};

function toRecord(row: Row): ProfileRecord {
  return {
    id: row.id,
    project: row.project.name,
    name: row.name,
    description: row.description,
    config: rowsToMap(row.config),
    devices: devicesFromRows(row.devices),
  };
}

function devicesCreate(devices: DeviceMap) {
  return devicesToRows(devices).map((d) => ({
    name: d.name,
    type: d.type,
    config: { create: d.config },
  }));
}

export interface ProfileInput {
  name: string;
  description?: string;
  config?: ConfigMap;
  devices?: DeviceMap;
}

export class ProfileStore {
  constructor(private readonly db: Tx) {}

  async list(project: string): Promise<ProfileRecord[]> {
    const rows = await this.db.profile.findMany({
      where: { project: { name: project } },
      include,
      orderBy: { name: 'asc' },
    });
    return rows.map(toRecord);
  }

  async get(project: string, name: string): Promise<ProfileRecord | null> {
    const row = await this.db.profile.findFirst({
      where: { project: { name: project }, name },
      include,
    });
    return row ? toRecord(row) : null;
  }

  /** Profiles by name in the given order; missing names are left out. */
  async getMany(project: string, names: readonly string[]): Promise<ProfileRecord[]> {
    if (names.length === 0) return [];
    const rows = await this.db.profile.findMany({
      where: { project: { name: project }, name: { in: [...names] } },
      include,
    });
    const byName = new Map(rows.map((r) => [r.name, toRecord(r)]));
    return names.flatMap((n) => byName.get(n) ?? []);
  }

  async create(projectId: number, input: ProfileInput): Promise<ProfileRecord> {
    const row = await this.db.profile.create({
      data: {
        projectId,
        name: input.name,
        description: input.description ?? '',
        config: { create: mapToRows(input.config ?? {}) },
        devices: { create: devicesCreate(input.devices ?? {}) },
      },
      include,
    });
    return toRecord(row);
  }

  /** Replaces description, config and devices. */
  async update(
    id: number,
    input: { description: string; config: ConfigMap; devices: DeviceMap },
  ): Promise<void> {
    await this.db.profileConfig.deleteMany({ where: { profileId: id } });
    await this.db.profileDevice.deleteMany({ where: { profileId: id } });
    await this.db.profile.update({
      where: { id },
      data: {
        description: input.description,
        config: { create: mapToRows(input.config) },
        devices: { create: devicesCreate(input.devices) },
      },
    });
  }

  async rename(id: number, name: string): Promise<void> {
    await this.db.profile.update({ where: { id }, data: { name } });
  }

  async delete(id: number): Promise<void> {
    await this.db.profile.delete({ where: { id } });
  }

  /** Instances (project, name) that apply this profile. */
  async usedBy(id: number): Promise<{ project: string; name: string }[]> {
    const rows = await this.db.instanceProfile.findMany({
      where: { profileId: id },
      select: { instance: { select: { name: true, project: { select: { name: true } } } } },
      orderBy: { instance: { name: 'asc' } },
    });
    return rows.map((r) => ({ project: r.instance.project.name, name: r.instance.name }));
  }
}
