import { z } from 'zod';
import { ImageAliasName } from '@berth/engine/schemas';
import { projectProcedure, router } from '../init.ts';

export const imagesRouter = router({
  list: projectProcedure('read').query(({ ctx, input }) => ctx.engine.images.list(input.project)),
  aliases: projectProcedure('read').query(({ ctx, input }) =>
    ctx.engine.images.listAliases(input.project),
  ),
  /** The built-in busybox image, from the host's static busybox; returns its operation. */
  buildBusybox: projectProcedure('config')
    .input(z.object({ alias: ImageAliasName.optional() }))
    .mutation(({ ctx, input }) =>
      ctx.engine.images.buildBusybox(input.project, input.alias ? { alias: input.alias } : {}),
    ),
  /**
   * The built-in busybox VM image: a Debian kernel booted directly, a
   * busybox root disk and the guest agent; returns its operation.
   */
  buildBusyboxVm: projectProcedure('config')
    .input(z.object({ alias: ImageAliasName.optional() }))
    .mutation(({ ctx, input }) =>
      ctx.engine.images.buildBusyboxVm(input.project, input.alias ? { alias: input.alias } : {}),
    ),
  /**
   * Debian debootstrapped from the host's archive (minutes), as a container
   * image or (`vm`) a virtual machine image; returns its cancellable operation.
   */
  buildDebian: projectProcedure('config')
    .input(
      z.object({
        release: z.enum(['12', 'bookworm']).optional(),
        vm: z.boolean().optional(),
        alias: ImageAliasName.optional(),
      }),
    )
    .mutation(({ ctx, input }) =>
      ctx.engine.images.buildDebian(input.project, {
        ...(input.release ? { release: input.release } : {}),
        ...(input.alias ? { alias: input.alias } : {}),
        vm: input.vm === true,
      }),
    ),
  delete: projectProcedure('delete')
    .input(z.object({ fingerprint: z.string().regex(/^[0-9a-f]{1,64}$/) }))
    .mutation(({ ctx, input }) => ctx.engine.images.delete(input.project, input.fingerprint)),
});
