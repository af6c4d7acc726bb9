import { z } from 'zod';
import { TRPCError } from '@trpc/server';
import { projectProcedure, router } from '../init.ts';

export const operationsRouter = router({
  list: projectProcedure('read').query(({ ctx, input }) =>
    ctx.engine.operations.list(input.project),
  ),
  /** One operation of the project, for progress bars (ids of other projects are not found). */
  get: projectProcedure('read')
    .input(z.object({ id: z.string().uuid() }))
    .query(async ({ ctx, input }) => {
      const op = (await ctx.engine.operations.list(input.project)).find((o) => o.id === input.id);
      if (!op)
        throw new TRPCError({ code: 'NOT_FOUND', message: `Operation "${input.id}" not found` });
      return op;
    }),
  /** Only operations of the given project (ids of others are not found). */
  cancel: projectProcedure('lifecycle')
    .input(z.object({ id: z.string().uuid() }))
    .mutation(async ({ ctx, input }) => {
      const ours = await ctx.engine.operations.list(input.project);
      if (!ours.some((op) => op.id === input.id))
        throw new TRPCError({ code: 'NOT_FOUND', message: `Operation "${input.id}" not found` });
      return ctx.engine.operations.cancel(input.id);
    }),
});
