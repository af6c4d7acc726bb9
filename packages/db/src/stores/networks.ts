// Managed networks. Rows belong to a project (the schema allows per-project
// networks); Berth keeps host bridges in the default project, as LXD does
// while `features.networks` is off, because interface names are host-global.
import type { Tx } from '../client.ts';
import { mapToRows, rowsToMap, type ConfigMap } from '../kv.ts';

export interface NetworkRecord {
  id: number;
  project: string;
  name: string;
  /** bridge | macvlan | ... */
  type: string;
  description: string;
  /** CREATED | PENDING | ERRORED */
  state: string;
  config: ConfigMap;
}

export interface NetworkInput {
  name: string;
  type: string;
  description?: string;
  state?: string;
  config?: ConfigMap;
}

type Row = {
  id: number;
  name: string;
  type: string;
  description: string;
  state: string;
  project: { name: string };
  config: { key: string; value: string }[];
};

const include = { config: true, project: { select: { name: true } } } as const;

function toRecord(row: Row): NetworkRecord {
  return {
    id: row.id,
    project: row.project.name,
    name: row.name,
    type: row.type,
    description: row.description,
    state: row.state,
    config: rowsToMap(row.config),
  };
}

export class NetworkStore {
  constructor(private readonly db: Tx) {}

  /** Networks of one project, or of every project when `project` is undefined. */
  async list(project?: string): Promise<NetworkRecord[]> {
    const rows = await this.db.network.findMany({
      where: project === undefined ? {} : { project: { name: project } },
      include,
      orderBy: { name: 'asc' },
    });
    return rows.map(toRecord);
  }

  async get(project: string, name: string): Promise<NetworkRecord | null> {
    const row = await this.db.network.findFirst({
      where: { project: { name: project }, name },
      include,
    });
    return row ? toRecord(row) : null;
  }

  /** Null when the project does not exist. */
  async create(project: string, input: NetworkInput): Promise<NetworkRecord | null> {
    const projectRow = await this.db.project.findUnique({
      where: { name: project },
      select: { id: true },
    });
    if (!projectRow) return null;
    const row = await this.db.network.create({
      data: {
        projectId: projectRow.id,
        name: input.name,
        type: input.type,
        description: input.description ?? '',
        state: input.state ?? 'CREATED',
        config: { create: mapToRows(input.config ?? {}) },
      },
      include,
    });
    return toRecord(row);
  }

  /** Replaces description and the whole config map. */
  async update(id: number, input: { description: string; config: ConfigMap }): Promise<void> {
    await this.db.networkConfig.deleteMany({ where: { networkId: id } });
    await this.db.network.update({
      where: { id },
      data: { description: input.description, config: { create: mapToRows(input.config) } },
    });
  }

  async setState(id: number, state: string): Promise<void> {
    await this.db.network.update({ where: { id }, data: { state } });
  }

  async rename(id: number, name: string): Promise<void> {
    await this.db.network.update({ where: { id }, data: { name } });
  }

  async delete(id: number): Promise<void> {
    await this.db.network.delete({ where: { id } });
  }
}
