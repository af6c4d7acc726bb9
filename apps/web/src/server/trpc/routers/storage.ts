// Storage pools are the host's, shared by every project: any signed-in user
// may see them and their space (policy.ts `host:read`), server admins create
// and delete them. Volumes and `used_by` show only projects the caller may read.
import { z } from 'zod';
import { StoragePoolsPost } from '@berth/engine/schemas';
import { can, visibleUsedBy } from '../../policy.ts';
import { router, serverProcedure } from '../init.ts';

const PoolRef = z.object({ name: z.string().min(1) });

export const storageRouter = router({
  list: serverProcedure('host:read').query(async ({ ctx }) =>
    (await ctx.engine.storage.list()).map((p) => ({
      ...p,
      used_by: visibleUsedBy(ctx.user, p.used_by),
    })),
  ),
  get: serverProcedure('host:read')
    .input(PoolRef)
    .query(async ({ ctx, input }) => {
      const pool = await ctx.engine.storage.get(input.name);
      return { ...pool, used_by: visibleUsedBy(ctx.user, pool.used_by) };
    }),
  resources: serverProcedure('host:read')
    .input(PoolRef)
    .query(async ({ ctx, input }) => {
      await ctx.engine.storage.get(input.name);
      return ctx.engine.storage.poolResources(input.name);
    }),
  volumes: serverProcedure('host:read')
    .input(PoolRef)
    .query(async ({ ctx, input }) =>
      (await ctx.engine.storage.listVolumes(input.name)).filter((v) =>
        can(ctx.user, 'read', v.project),
      ),
    ),
  create: serverProcedure('host:manage')
    .input(StoragePoolsPost)
    .mutation(({ ctx, input }) => {
      ctx.auditScope.objectType = 'storage-pool';
      return ctx.engine.storage.create(input);
    }),
  delete: serverProcedure('host:manage')
    .input(PoolRef)
    .mutation(({ ctx, input }) => {
      ctx.auditScope.objectType = 'storage-pool';
      return ctx.engine.storage.delete(input.name);
    }),
});
