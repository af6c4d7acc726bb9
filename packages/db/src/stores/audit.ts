import type { Tx } from '../client.ts';

export interface AuditEntry {
  id: number;
  at: Date;
  userId: number | null;
  actor: string;
  action: string;
  project: string | null;
  objectType: string;
  objectName: string | null;
  /** `success`, or `failure: <reason>`. */
  result: string;
  detail: string | null;
}

export type AuditInput = Omit<AuditEntry, 'id' | 'at'> & { at?: Date };

/** Who did what to which object, and how it went. Append-only. */
export class AuditStore {
  constructor(private readonly db: Tx) {}

  async record(entry: AuditInput): Promise<void> {
    await this.db.auditLog.create({ data: entry });
  }

  /** Newest first; optionally one project's, before an id (paging). */
  async list(
    filter: { project?: string; beforeId?: number; limit?: number } = {},
  ): Promise<AuditEntry[]> {
    return this.db.auditLog.findMany({
      where: {
        ...(filter.project === undefined ? {} : { project: filter.project }),
        ...(filter.beforeId === undefined ? {} : { id: { lt: filter.beforeId } }),
      },
      orderBy: { id: 'desc' },
      take: Math.min(filter.limit ?? 100, 1000),
    });
  }
}
