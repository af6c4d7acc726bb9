import { z } from 'zod';
import { projectProcedure, router } from '../init.ts';

export const operationsRouter = router({
  list: projectProcedure('read').query(({ ctx, input }) =>
    ctx.engine.operations.list(input.project),
  ),
  /** One operation of the project, for progress bars (ids of other projects are not found). */
  get: projectProcedure('read')
    .input(z.object({ id: z.string().uuid() }))
    .query(({ ctx, input }) => ctx.engine.operations.get(input.id, { project: input.project })),
  /** Only operations of the given project (ids of others are not found). */
  cancel: projectProcedure('lifecycle')
    .input(z.object({ id: z.string().uuid() }))
    .mutation(({ ctx, input }) =>
      ctx.engine.operations.cancel(input.id, { project: input.project }),
    ),
});
