import type { Tx } from '../client.ts';
import type { OperationRecord } from '../records.ts';

type Row = Omit<OperationRecord, 'resources' | 'metadata'> & {
  resources: string;
  metadata: string;
};

function toRecord(row: Row): OperationRecord {
  return {
    ...row,
    resources: JSON.parse(row.resources) as Record<string, string[]>,
    metadata: JSON.parse(row.metadata) as unknown,
  };
}

export type OperationInput = Omit<OperationRecord, 'createdAt' | 'updatedAt'> & {
  createdAt?: Date;
};
export type OperationChange = Partial<
  Pick<OperationRecord, 'status' | 'statusCode' | 'mayCancel' | 'err' | 'metadata'>
>;

export class OperationStore {
  constructor(private readonly db: Tx) {}

  async create(input: OperationInput): Promise<OperationRecord> {
    const row = await this.db.operation.create({
      data: {
        ...input,
        resources: JSON.stringify(input.resources),
        metadata: JSON.stringify(input.metadata ?? null),
      },
    });
    return toRecord(row);
  }

  async update(id: string, change: OperationChange): Promise<OperationRecord> {
    const { metadata, ...rest } = change;
    const row = await this.db.operation.update({
      where: { id },
      data: { ...rest, ...(metadata === undefined ? {} : { metadata: JSON.stringify(metadata) }) },
    });
    return toRecord(row);
  }

  async get(id: string): Promise<OperationRecord | null> {
    const row = await this.db.operation.findUnique({ where: { id } });
    return row ? toRecord(row) : null;
  }

  /** Operations of one project (or all), newest first. */
  async list(filter: { project?: string; statuses?: string[] } = {}): Promise<OperationRecord[]> {
    const rows = await this.db.operation.findMany({
      where: {
        ...(filter.project === undefined ? {} : { project: filter.project }),
        ...(filter.statuses ? { status: { in: filter.statuses } } : {}),
      },
      orderBy: { createdAt: 'desc' },
    });
    return rows.map(toRecord);
  }

  /** Finished operations older than `before` are forgotten, as LXD does after a while. */
  async deleteFinishedBefore(before: Date): Promise<number> {
    const out = await this.db.operation.deleteMany({
      where: { updatedAt: { lt: before }, status: { in: ['Success', 'Failure', 'Cancelled'] } },
    });
    return out.count;
  }
}
