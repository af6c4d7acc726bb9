// Project membership as the policy needs it: a user's role per project.
import type { Database } from '@berth/db';
import { isProjectRole, type ProjectRole } from './policy.ts';

export interface MemberStore {
  rolesOf(userId: number): Promise<Map<string, ProjectRole>>;
}

export function createMemberStore(db: Database): MemberStore {
  return {
    async rolesOf(userId) {
      const roles = new Map<string, ProjectRole>();
      for (const { project, role } of await db.members.listForUser(userId)) {
        if (isProjectRole(role)) roles.set(project, role);
      }
      return roles;
    },
  };
}
