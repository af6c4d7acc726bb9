// A project's members and their roles, for the project's admins and server
// admins. projectProcedure answers a project the user is not in as not found.
import { z } from 'zod';
import type { Database } from '@berth/db';
import { getBerth } from '../../berth.ts';
import { projectRoles } from '../../policy.ts';
import { fieldError } from '../field-error.ts';
import { projectProcedure, router } from '../init.ts';

const Username = z.string().trim().min(1, 'enter a user name').max(64, 'at most 64 characters');

export const membersRouter = router({
  list: projectProcedure('members').query(async ({ ctx, input }) =>
    (await ctx.engine.db.members.list(input.project)).map(({ username, role }) => ({
      username,
      role,
    })),
  ),
  /**
   * Adds the user to the project, or changes their role there. A changed
   * role closes the user's open sockets: they reconnect and are judged by it.
   */
  set: projectProcedure('members')
    .input(z.object({ username: Username, role: z.enum(projectRoles) }))
    .mutation(async ({ ctx, input }) => {
      const user = await resolveMember(ctx, input.username);
      const before = (await getBerth().members.rolesOf(user.id)).get(input.project);
      if (!(await ctx.engine.db.members.set(input.project, user.id, input.role)))
        throw fieldError('NOT_FOUND', 'project', `project "${input.project}" not found`);
      if (before !== undefined && before !== input.role)
        revokeMember(user.id, `Your role in project "${input.project}" changed`);
      return { username: user.username, role: input.role };
    }),
  /** The user's open sockets close, so none goes on in the project. */
  remove: projectProcedure('members')
    .input(z.object({ username: Username }))
    .mutation(async ({ ctx, input }) => {
      const user = await resolveMember(ctx, input.username);
      await ctx.engine.db.members.remove(input.project, user.id);
      revokeMember(user.id, `You were removed from project "${input.project}"`);
    }),
});

function revokeMember(userId: number, reason: string): void {
  getBerth().connections.revoke({ kind: 'user', userId, reason });
}

async function resolveMember(
  ctx: { engine: { db: Database }; user: { username: string; isAdmin: boolean } },
  username: string,
) {
  // A project admin changing their own role could leave the project without one.
  if (username === ctx.user.username && !ctx.user.isAdmin)
    throw fieldError('FORBIDDEN', 'username', 'you cannot change your own membership');
  const user = await ctx.engine.db.users.get(username);
  if (!user) throw fieldError('NOT_FOUND', 'username', `user "${username}" not found`);
  return user;
}
