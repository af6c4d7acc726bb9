import { z } from 'zod';
import { getBerth } from '../../berth.ts';
import { accountProcedure, router } from '../init.ts';

export const accountRouter = router({
  me: accountProcedure.query(({ ctx }) => ({
    username: ctx.user.username,
    isAdmin: ctx.user.isAdmin,
    mustChangePassword: ctx.user.mustChangePassword,
    roles: Object.fromEntries(ctx.user.roles),
  })),
  /** Allowed while a password change is pending: that is how it stops pending. */
  changePassword: accountProcedure
    .input(
      z.object({
        current: z.string().min(1, 'enter your current password'),
        next: z.string().min(12, 'must be at least 12 characters').max(1024),
      }),
    )
    .mutation(({ ctx, input }) =>
      getBerth().accounts.changePassword(ctx.user.username, input.current, input.next),
    ),
});
