import { z } from 'zod';
import { InstancePatch, InstancesPost, InstanceStatePut } from '@berth/engine/schemas';
import { projectProcedure, router, userProcedure } from '../init.ts';

const InstanceName = z.object({ name: z.string().min(1) });

export const instancesRouter = router({
  /** Instances with their state (LXD's recursion=2), filtered with LXD's syntax. */
  list: projectProcedure('read')
    .input(z.object({ filter: z.string().max(1000).optional() }))
    .query(({ ctx, input }) =>
      ctx.engine.instances.listFull(
        input.project,
        input.filter?.trim() ? { filter: input.filter } : {},
      ),
    ),
  get: projectProcedure('read')
    .input(InstanceName)
    .query(({ ctx, input }) => ctx.engine.instances.getFull(input.project, input.name)),
  /** Returns at once; the instance is ready when the operation succeeds. */
  create: projectProcedure('config')
    .input(z.object({ instance: InstancesPost }))
    .mutation(({ ctx, input }) => ctx.engine.instances.create(input.project, input.instance)),
  patch: projectProcedure('config')
    .input(InstanceName.extend({ patch: InstancePatch }))
    .mutation(({ ctx, input }) =>
      ctx.engine.instances.patch(input.project, input.name, input.patch),
    ),
  changeState: projectProcedure('lifecycle')
    .input(InstanceName.extend({ state: InstanceStatePut }))
    .mutation(({ ctx, input }) =>
      ctx.engine.instances.changeState(input.project, input.name, input.state),
    ),
  delete: projectProcedure('delete')
    .input(InstanceName.extend({ force: z.boolean().default(false) }))
    .mutation(({ ctx, input }) =>
      ctx.engine.instances.delete(input.project, input.name, { force: input.force }),
    ),
  /** Which instance types this host can run, and why not. */
  drivers: userProcedure.query(({ ctx }) => ctx.engine.drivers()),
});
