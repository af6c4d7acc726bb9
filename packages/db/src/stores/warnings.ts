// Warnings (LXD's): one row per type + project + entity + member, its count
// and last message kept up to date each time the condition is seen again.
import { randomUUID } from 'node:crypto';
import type { Tx } from '../client.ts';

export interface WarningRecord {
  uuid: string;
  /** "" for the server's own. */
  project: string;
  location: string;
  type: string;
  entityUrl: string;
  count: number;
  firstSeenAt: Date;
  lastSeenAt: Date;
  lastMessage: string;
  severity: string;
  status: string;
}

export interface WarningInput {
  type: string;
  message: string;
  severity: string;
  project?: string;
  entityUrl?: string;
  location?: string;
}

export class WarningStore {
  constructor(private readonly db: Tx) {}

  /** Records that the condition was seen: a new row, or the existing one counted again (and new again once resolved). */
  async raise(input: WarningInput): Promise<WarningRecord> {
    const key = {
      type: input.type,
      project: input.project ?? '',
      entityUrl: input.entityUrl ?? '',
      location: input.location ?? 'none',
    };
    const now = new Date();
    return this.db.warning.upsert({
      where: { type_project_entityUrl_location: key },
      create: {
        ...key,
        uuid: randomUUID(),
        lastMessage: input.message,
        severity: input.severity,
        firstSeenAt: now,
        lastSeenAt: now,
      },
      update: { count: { increment: 1 }, lastMessage: input.message, lastSeenAt: now },
    });
  }

  /** The condition is gone: its rows of this type (and entity) are marked resolved. */
  async resolve(type: string, filter: { project?: string; entityUrl?: string } = {}): Promise<void> {
    await this.db.warning.updateMany({
      where: {
        type,
        ...(filter.project !== undefined ? { project: filter.project } : {}),
        ...(filter.entityUrl !== undefined ? { entityUrl: filter.entityUrl } : {}),
        status: { not: 'resolved' },
      },
      data: { status: 'resolved' },
    });
  }

  /** All, or one project's (its own and the server's, as LXD lists them per project). */
  list(project?: string): Promise<WarningRecord[]> {
    return this.db.warning.findMany({
      ...(project !== undefined ? { where: { project: { in: [project, ''] } } } : {}),
      orderBy: { firstSeenAt: 'asc' },
    });
  }

  get(uuid: string): Promise<WarningRecord | null> {
    return this.db.warning.findUnique({ where: { uuid } });
  }

  async setStatus(uuid: string, status: string): Promise<WarningRecord | null> {
    const found = await this.get(uuid);
    if (!found) return null;
    return this.db.warning.update({ where: { uuid }, data: { status } });
  }

  async delete(uuid: string): Promise<boolean> {
    const { count } = await this.db.warning.deleteMany({ where: { uuid } });
    return count > 0;
  }
}
