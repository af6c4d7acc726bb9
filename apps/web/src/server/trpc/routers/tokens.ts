// Each user's own API tokens (`Authorization: Bearer berth_…`, see
// request-auth.ts). Only a hash is stored: the secret is returned once.
import { z } from 'zod';
import type { ApiTokenRecord } from '@berth/db';
import { getBerth } from '../../berth.ts';
import { fieldError } from '../field-error.ts';
import { router, userProcedure } from '../init.ts';

function toToken(token: ApiTokenRecord) {
  return {
    id: token.id,
    name: token.name,
    prefix: token.prefix,
    createdAt: token.createdAt.toISOString(),
    lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
    expiresAt: token.expiresAt?.toISOString() ?? null,
  };
}

const day = 24 * 60 * 60 * 1000;

export const tokensRouter = router({
  list: userProcedure.query(async ({ ctx }) =>
    (await ctx.engine.db.tokens.list(ctx.user.id)).map(toToken),
  ),
  create: userProcedure
    .input(
      z.object({
        name: z.string().trim().min(1, 'enter a name').max(64, 'at most 64 characters'),
        /** Omitted: the token does not expire. */
        expiresInDays: z
          .number()
          .int('whole days')
          .min(1, 'at least 1 day')
          .max(3650, 'at most 3650 days')
          .optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      // A leaked token must not be able to mint longer-lived ones.
      if (ctx.user.via === 'token')
        throw fieldError('FORBIDDEN', 'name', 'sign in to create API tokens');
      const db = ctx.engine.db;
      if ((await db.tokens.list(ctx.user.id)).some((t) => t.name === input.name))
        throw fieldError(
          'ALREADY_EXISTS',
          'name',
          `you already have a token named "${input.name}"`,
        );
      const expiresAt =
        input.expiresInDays === undefined ? null : new Date(Date.now() + input.expiresInDays * day);
      const { token, secret } = await db.tokens.create(ctx.user.id, input.name, expiresAt);
      return { token: toToken(token), secret };
    }),
  /** The token stops working at once, on open sockets and streams too. */
  delete: userProcedure
    .input(z.object({ id: z.number().int().positive() }))
    .mutation(async ({ ctx, input }) => {
      if (!(await ctx.engine.db.tokens.delete(ctx.user.id, input.id)))
        throw fieldError('NOT_FOUND', 'id', `token ${input.id} not found`);
      getBerth().connections.revoke({ kind: 'token', tokenId: input.id });
    }),
});
