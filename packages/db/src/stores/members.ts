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

  /**
   * The projects `userId` belongs to, with the role in each, by project
   * name. Every authenticated request asks this (the policy's roles): the
   * projects' names are read only when there are memberships (a nested
   * select would cost a second statement for users with none, such as most
   * server admins).
   */
  async listForUser(userId: number): Promise<{ project: string; role: string }[]> {
    const rows = await this.db.projectMember.findMany({
      where: { userId },
      select: { role: true, projectId: true },
    });
    if (rows.length === 0) return [];
    const projects = await this.db.project.findMany({
      where: { id: { in: rows.map((r) => r.projectId) } },
      select: { id: true, name: true },
    });
    const names = new Map(projects.map((p) => [p.id, p.name]));
    // A project deleted between the two reads takes its membership with it.
    return rows
      .filter((r) => names.has(r.projectId))
      .map((r) => ({ project: names.get(r.projectId)!, role: r.role }))
      .sort((a, b) => (a.project < b.project ? -1 : a.project > b.project ? 1 : 0));
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
