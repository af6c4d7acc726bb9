// Accounts, for server admins only: list, create, disable/enable, reset a
// password, delete. Passwords are hashed by runtime/accounts.ts (server.ts's
// process); a generated one is returned once and must be changed at next login.
import { z } from 'zod';
import { getBerth } from '../../berth.ts';
import { fieldError } from '../field-error.ts';
import { router, serverAdminProcedure } from '../init.ts';

const Username = z.string().trim().min(1, 'enter a user name').max(64, 'at most 64 characters');
const UserRef = z.object({ username: Username });

/** A server admin cannot lock themselves out by accident. */
function notYourself(self: string, username: string, what: string): void {
  if (self === username)
    throw fieldError('FORBIDDEN', 'username', `you cannot ${what} your own account`);
}

export const usersRouter = router({
  /** Every account, with its project roles. */
  list: serverAdminProcedure.query(async ({ ctx }) => {
    const users = await getBerth().accounts.admin.list();
    return Promise.all(
      users.map(async (user) => ({
        ...user,
        roles: await ctx.engine.db.members.listForUser(user.id),
      })),
    );
  }),
  create: serverAdminProcedure
    .input(
      z.object({
        username: Username,
        /** Omitted: one is generated and returned once. */
        password: z
          .string()
          .min(12, 'must be at least 12 characters')
          .max(1024, 'at most 1024 characters')
          .optional(),
        isAdmin: z.boolean().default(false),
      }),
    )
    .mutation(({ input }) =>
      getBerth().accounts.admin.create({
        username: input.username,
        isAdmin: input.isAdmin,
        ...(input.password === undefined ? {} : { password: input.password }),
      }),
    ),
  /** Its sessions end and its open sockets close (tokens stop working while disabled). */
  disable: serverAdminProcedure.input(UserRef).mutation(async ({ ctx, input }) => {
    notYourself(ctx.user.username, input.username, 'disable');
    const berth = getBerth();
    const user = await berth.accounts.admin.setDisabled(input.username, true);
    berth.connections.revoke({ kind: 'user', userId: user.id, reason: 'The account was disabled' });
    return user;
  }),
  enable: serverAdminProcedure
    .input(UserRef)
    .mutation(({ input }) => getBerth().accounts.admin.setDisabled(input.username, false)),
  /**
   * Returns the new generated password (shown once); it must be changed at
   * next login. The account's sessions end and its open sockets close.
   */
  resetPassword: serverAdminProcedure.input(UserRef).mutation(async ({ ctx, input }) => {
    notYourself(ctx.user.username, input.username, 'reset the password of');
    const berth = getBerth();
    const { generatedPassword, userId } = await berth.accounts.admin.resetPassword(input.username);
    berth.connections.revoke({ kind: 'user', userId, reason: 'The password was reset' });
    return { generatedPassword };
  }),
  delete: serverAdminProcedure.input(UserRef).mutation(async ({ ctx, input }) => {
    notYourself(ctx.user.username, input.username, 'delete');
    const berth = getBerth();
    const user = await berth.accounts.admin.remove(input.username);
    berth.connections.revoke({ kind: 'user', userId: user.id, reason: 'The account was deleted' });
  }),
});
