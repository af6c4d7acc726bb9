import type { Tx } from '../client.ts';

export interface MemberRecord {
  project: string;
  userId: number;
  username: string;
  role: string;
}

/** Who holds which role (admin | operator | viewer) in which project. */
export class MemberStore {
  constructor(private readonly db: Tx) {}

  /** The projects `userId` belongs to, with the role in each. */
  async listForUser(userId: number): Promise<{ project: string; role: string }[]> {
    const rows = await this.db.projectMember.findMany({
      where: { userId },
      select: { role: true, project: { select: { name: true } } },
      orderBy: { project: { name: 'asc' } },
    });
    return rows.map((r) => ({ project: r.project.name, role: r.role }));
  }

  /** A project's members. */
  async list(project: string): Promise<MemberRecord[]> {
    const rows = await this.db.projectMember.findMany({
      where: { project: { name: project } },
      select: { role: true, userId: true, user: { select: { username: true } } },
      orderBy: { user: { username: 'asc' } },
    });
    return rows.map((r) => ({
      project,
      userId: r.userId,
      username: r.user.username,
      role: r.role,
    }));
  }

  /** Adds or changes a member's role; false when the project does not exist. */
  async set(project: string, userId: number, role: string): Promise<boolean> {
    const found = await this.db.project.findUnique({
      where: { name: project },
      select: { id: true },
    });
    if (!found) return false;
    await this.db.projectMember.upsert({
      where: { projectId_userId: { projectId: found.id, userId } },
      create: { projectId: found.id, userId, role },
      update: { role },
    });
    return true;
  }

  async remove(project: string, userId: number): Promise<void> {
    await this.db.projectMember.deleteMany({ where: { project: { name: project }, userId } });
  }
}
