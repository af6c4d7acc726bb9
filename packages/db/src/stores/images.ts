// Images and their aliases, per project. The image files are shared by
// fingerprint on disk; a row says "this project has that image".
import type { Tx } from '../client.ts';
import { mapToRows, rowsToMap, type ConfigMap } from '../kv.ts';

export interface ImageAliasRecord {
  name: string;
  description: string;
}

export interface ImageRecord {
  id: number;
  project: string;
  fingerprint: string;
  filename: string;
  size: number;
  public: boolean;
  autoUpdate: boolean;
  cached: boolean;
  architecture: string;
  /** container | virtual-machine */
  type: string;
  createdAt: Date | null;
  uploadedAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  properties: ConfigMap;
  /** Sorted by name. */
  aliases: ImageAliasRecord[];
}

/** An alias with the image it points at (`/1.0/images/aliases`). */
export interface ImageAliasTargetRecord extends ImageAliasRecord {
  project: string;
  fingerprint: string;
  type: string;
}

export interface ImageInput {
  fingerprint: string;
  filename: string;
  size: number;
  public?: boolean;
  autoUpdate?: boolean;
  cached?: boolean;
  architecture: string;
  type: string;
  createdAt?: Date | null;
  uploadedAt?: Date;
  expiresAt?: Date | null;
  properties?: ConfigMap;
  aliases?: ImageAliasRecord[];
}

export interface ImageUpdate {
  public?: boolean;
  autoUpdate?: boolean;
  expiresAt?: Date | null;
  /** Replaces every property. */
  properties?: ConfigMap;
}

const include = {
  project: { select: { name: true } },
  properties: true,
  aliases: { select: { name: true, description: true }, orderBy: { name: 'asc' } },
} as const;

type Row = {
  id: number;
  fingerprint: string;
  filename: string;
  size: bigint;
  public: boolean;
  autoUpdate: boolean;
  cached: boolean;
  architecture: string;
  type: string;
  createdAt: Date | null;
  uploadedAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  project: { name: string };
  properties: { key: string; value: string }[];
  aliases: { name: string; description: string }[];
};

function toRecord(row: Row): ImageRecord {
  return {
    id: row.id,
    project: row.project.name,
    fingerprint: row.fingerprint,
    filename: row.filename,
    size: Number(row.size),
    public: row.public,
    autoUpdate: row.autoUpdate,
    cached: row.cached,
    architecture: row.architecture,
    type: row.type,
    createdAt: row.createdAt,
    uploadedAt: row.uploadedAt,
    lastUsedAt: row.lastUsedAt,
    expiresAt: row.expiresAt,
    properties: rowsToMap(row.properties),
    aliases: row.aliases.map((a) => ({ name: a.name, description: a.description })),
  };
}

export class ImageStore {
  constructor(private readonly db: Tx) {}

  async projectId(project: string): Promise<number | null> {
    const row = await this.db.project.findUnique({
      where: { name: project },
      select: { id: true },
    });
    return row?.id ?? null;
  }

  async list(project: string): Promise<ImageRecord[]> {
    const rows = await this.db.image.findMany({
      where: { project: { name: project } },
      include,
      orderBy: { fingerprint: 'asc' },
    });
    return rows.map(toRecord);
  }

  async get(project: string, fingerprint: string): Promise<ImageRecord | null> {
    const row = await this.db.image.findFirst({
      where: { project: { name: project }, fingerprint },
      include,
    });
    return row ? toRecord(row) : null;
  }

  /** Images of the project whose fingerprint starts with `prefix` (at most `limit`). */
  async findByPrefix(project: string, prefix: string, limit = 2): Promise<ImageRecord[]> {
    const rows = await this.db.image.findMany({
      where: { project: { name: project }, fingerprint: { startsWith: prefix } },
      include,
      orderBy: { fingerprint: 'asc' },
      take: limit,
    });
    return rows.map(toRecord);
  }

  /** How many projects hold this fingerprint (the files go when none does). */
  async countByFingerprint(fingerprint: string): Promise<number> {
    return this.db.image.count({ where: { fingerprint } });
  }

  /** The image row with its properties and aliases, in one statement. */
  async create(projectId: number, input: ImageInput): Promise<ImageRecord> {
    const row = await this.db.image.create({
      data: {
        projectId,
        fingerprint: input.fingerprint,
        filename: input.filename,
        size: BigInt(input.size),
        public: input.public ?? false,
        autoUpdate: input.autoUpdate ?? false,
        cached: input.cached ?? false,
        architecture: input.architecture,
        type: input.type,
        createdAt: input.createdAt ?? null,
        ...(input.uploadedAt ? { uploadedAt: input.uploadedAt } : {}),
        expiresAt: input.expiresAt ?? null,
        properties: { create: mapToRows(input.properties ?? {}) },
        aliases: {
          create: (input.aliases ?? []).map((a) => ({
            projectId,
            name: a.name,
            description: a.description,
          })),
        },
      },
      include,
    });
    return toRecord(row);
  }

  async update(id: number, change: ImageUpdate): Promise<void> {
    if (change.properties) await this.db.imageProperty.deleteMany({ where: { imageId: id } });
    await this.db.image.update({
      where: { id },
      data: {
        ...(change.public === undefined ? {} : { public: change.public }),
        ...(change.autoUpdate === undefined ? {} : { autoUpdate: change.autoUpdate }),
        ...(change.expiresAt === undefined ? {} : { expiresAt: change.expiresAt }),
        ...(change.properties ? { properties: { create: mapToRows(change.properties) } } : {}),
      },
    });
  }

  async touch(id: number, lastUsedAt = new Date()): Promise<void> {
    await this.db.image.update({ where: { id }, data: { lastUsedAt } });
  }

  /** Deletes the row; its properties and aliases go with it. */
  async delete(id: number): Promise<void> {
    await this.db.image.delete({ where: { id } });
  }

  // ---------------------------------------------------------------- aliases

  async listAliases(project: string): Promise<ImageAliasTargetRecord[]> {
    const rows = await this.db.imageAlias.findMany({
      where: { project: { name: project } },
      select: {
        name: true,
        description: true,
        image: { select: { fingerprint: true, type: true } },
      },
      orderBy: { name: 'asc' },
    });
    return rows.map((r) => ({
      project,
      name: r.name,
      description: r.description,
      fingerprint: r.image.fingerprint,
      type: r.image.type,
    }));
  }

  async getAlias(project: string, name: string): Promise<ImageAliasTargetRecord | null> {
    const row = await this.db.imageAlias.findFirst({
      where: { project: { name: project }, name },
      select: {
        name: true,
        description: true,
        image: { select: { fingerprint: true, type: true } },
      },
    });
    return row
      ? {
          project,
          name: row.name,
          description: row.description,
          fingerprint: row.image.fingerprint,
          type: row.image.type,
        }
      : null;
  }

  async createAlias(projectId: number, imageId: number, alias: ImageAliasRecord): Promise<void> {
    await this.db.imageAlias.create({
      data: { projectId, imageId, name: alias.name, description: alias.description },
    });
  }

  /** Points an alias at another image and/or changes its description. */
  async updateAlias(
    project: string,
    name: string,
    change: { imageId?: number; description?: string },
  ): Promise<void> {
    await this.db.imageAlias.updateMany({
      where: { project: { name: project }, name },
      data: {
        ...(change.imageId === undefined ? {} : { imageId: change.imageId }),
        ...(change.description === undefined ? {} : { description: change.description }),
      },
    });
  }

  async renameAlias(project: string, name: string, newName: string): Promise<void> {
    await this.db.imageAlias.updateMany({
      where: { project: { name: project }, name },
      data: { name: newName },
    });
  }

  async deleteAlias(project: string, name: string): Promise<boolean> {
    const result = await this.db.imageAlias.deleteMany({
      where: { project: { name: project }, name },
    });
    return result.count > 0;
  }
}
