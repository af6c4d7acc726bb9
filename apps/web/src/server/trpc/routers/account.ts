import { z } from 'zod';
import { renewedSessionCookie } from '../../../runtime/session-cookie.ts';
import { getBerth } from '../../berth.ts';
import { accountProcedure, router } from '../init.ts';

export const accountRouter = router({
  me: accountProcedure.query(({ ctx }) => ({
    username: ctx.user.username,
    isAdmin: ctx.user.isAdmin,
    mustChangePassword: ctx.user.mustChangePassword,
    roles: Object.fromEntries(ctx.user.roles),
  })),
  /**
   * Allowed while a password change is pending: that is how it stops
   * pending. Every session of the account ends with the old password (a
   * second browser, a copied cookie) and its sockets close; the browser
   * session that asked goes on under a new session, in a cookie set here.
   */
  changePassword: accountProcedure
    .input(
      z.object({
        current: z.string().min(1, 'enter your current password'),
        next: z.string().min(12, 'must be at least 12 characters').max(1024),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const berth = getBerth();
      await berth.accounts.changePassword(ctx.user.username, input.current, input.next);
      berth.connections.revoke({
        kind: 'user',
        userId: ctx.user.id,
        reason: 'The password was changed',
      });
      if (ctx.user.via !== 'session' || !ctx.resHeaders) return;
      const secret = await berth.accounts.sessions.start(ctx.user.id, berth.env.sessionMaxAge);
      const cookie = await renewedSessionCookie(
        berth,
        ctx.requestHeaders?.get('cookie') ?? undefined,
        secret,
      );
      if (cookie) ctx.resHeaders.append('set-cookie', cookie);
    }),
});
