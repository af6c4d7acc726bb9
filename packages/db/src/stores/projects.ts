import type { Tx } from '../client.ts';
import { mapToRows, rowsToMap, type ConfigMap } from '../kv.ts';
import type { ProjectRecord } from '../records.ts';

const withConfig = { config: true } as const;

type Row = {
  id: number;
  name: string;
  description: string;
  createdAt: Date;
  config: { key: string; value: string }[];
};

function toRecord(row: Row): ProjectRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    createdAt: row.createdAt,
    config: rowsToMap(row.config),
  };
}

export class ProjectStore {
  constructor(private readonly db: Tx) {}

  async list(): Promise<ProjectRecord[]> {
    const rows = await this.db.project.findMany({ include: withConfig, orderBy: { name: 'asc' } });
    return rows.map(toRecord);
  }

  async get(name: string): Promise<ProjectRecord | null> {
    const row = await this.db.project.findUnique({ where: { name }, include: withConfig });
    return row ? toRecord(row) : null;
  }

  async create(input: {
    name: string;
    description?: string;
    config?: ConfigMap;
  }): Promise<ProjectRecord> {
    const row = await this.db.project.create({
      data: {
        name: input.name,
        description: input.description ?? '',
        config: { create: mapToRows(input.config ?? {}) },
      },
      include: withConfig,
    });
    return toRecord(row);
  }

  /** Replaces description and the whole config map. */
  async update(id: number, input: { description: string; config: ConfigMap }): Promise<void> {
    await this.db.projectConfig.deleteMany({ where: { projectId: id } });
    await this.db.project.update({
      where: { id },
      data: { description: input.description, config: { create: mapToRows(input.config) } },
    });
  }

  async rename(id: number, name: string): Promise<void> {
    await this.db.project.update({ where: { id }, data: { name } });
  }

  async delete(id: number): Promise<void> {
    await this.db.project.delete({ where: { id } });
  }

  /** Names of what still lives in the project (LXD refuses to delete a non-empty project). */
  async contents(
    id: number,
  ): Promise<{ instances: string[]; profiles: string[]; images: string[] }> {
    const [instances, profiles, images] = await Promise.all([
      this.db.instance.findMany({ where: { projectId: id }, select: { name: true } }),
      this.db.profile.findMany({ where: { projectId: id }, select: { name: true } }),
      this.db.image.findMany({ where: { projectId: id }, select: { fingerprint: true } }),
    ]);
    return {
      instances: instances.map((i) => i.name),
      profiles: profiles.map((p) => p.name),
      images: images.map((i) => i.fingerprint),
    };
  }
}
