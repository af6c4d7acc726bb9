// An instance's backups. Export runs as an operation (its progress drives the
// page's bar); the tarball downloads, and imports upload, through route
// handlers under /api/instances/ (binary bodies), which use the same policy.
import { z } from 'zod';
import { projectProcedure, router } from '../init.ts';

const Instance = z.object({ instance: z.string().min(1) });

export const backupsRouter = router({
  list: projectProcedure('read')
    .input(Instance)
    .query(({ ctx, input }) => ctx.engine.backups.list(input.project, input.instance)),
  /** Returns the operation; it ends with `{ name, size }` in its metadata. */
  export: projectProcedure('snapshots')
    .input(
      Instance.extend({
        name: z.string().min(1).optional(),
        instanceOnly: z.boolean().default(false),
        compression: z.enum(['gzip', 'none']).default('gzip'),
        expiresAt: z.string().optional(),
      }),
    )
    .mutation(({ ctx, input }) =>
      ctx.engine.backups.export(input.project, input.instance, {
        ...(input.name ? { name: input.name } : {}),
        instance_only: input.instanceOnly,
        compression_algorithm: input.compression,
        ...(input.expiresAt ? { expires_at: input.expiresAt } : {}),
      }),
    ),
  delete: projectProcedure('snapshots')
    .input(Instance.extend({ name: z.string().min(1) }))
    .mutation(({ ctx, input }) =>
      ctx.engine.backups.delete(input.project, input.instance, input.name),
    ),
});
