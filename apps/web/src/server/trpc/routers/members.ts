// A project's members and their roles, for the project's admins and server
// admins. projectProcedure answers a project the user is not in as not found.
import { z } from 'zod';
import type { Database } from '@berth/db';
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
  /** Adds the user to the project, or changes their role there. */
  set: projectProcedure('members')
    .input(z.object({ username: Username, role: z.enum(projectRoles) }))
    .mutation(async ({ ctx, input }) => {
      const user = await resolveMember(ctx, input.username);
      if (!(await ctx.engine.db.members.set(input.project, user.id, input.role)))
        throw fieldError('NOT_FOUND', 'project', `project "${input.project}" not found`);
      return { username: user.username, role: input.role };
    }),
  remove: projectProcedure('members')
    .input(z.object({ username: Username }))
    .mutation(async ({ ctx, input }) => {
      const user = await resolveMember(ctx, input.username);
      await ctx.engine.db.members.remove(input.project, user.id);
    }),
});

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
