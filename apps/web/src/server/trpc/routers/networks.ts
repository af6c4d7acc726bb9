// Managed bridges are the host's, shared by every project: any signed-in
// user may see them (policy.ts `host:read`), server admins change them.
// `used_by` names only instances in projects the caller may read.
import { z } from 'zod';
import { NetworkPut, NetworksPost } from '@berth/engine/schemas';
import { visibleUsedBy } from '../../policy.ts';
import { router, serverProcedure } from '../init.ts';

const NetworkRef = z.object({ name: z.string().min(1) });

export const networksRouter = router({
  list: serverProcedure('host:read').query(async ({ ctx }) =>
    (await ctx.engine.networks.list()).map((n) => ({
      ...n,
      used_by: visibleUsedBy(ctx.user, n.used_by),
    })),
  ),
  get: serverProcedure('host:read')
    .input(NetworkRef)
    .query(async ({ ctx, input }) => {
      const network = await ctx.engine.networks.get(input.name);
      return { ...network, used_by: visibleUsedBy(ctx.user, network.used_by) };
    }),
  state: serverProcedure('host:read')
    .input(NetworkRef)
    .query(({ ctx, input }) => ctx.engine.networks.state(input.name)),
  leases: serverProcedure('host:read')
    .input(NetworkRef)
    .query(async ({ ctx, input }) =>
      // Leases carry no project; a member sees the addresses of all guests on a shared bridge, as in LXD.
      (await ctx.engine.networks.leases(input.name)).map(({ expiresAt: _, ...lease }) => lease),
    ),
  create: serverProcedure('host:manage')
    .input(NetworksPost)
    .mutation(({ ctx, input }) => ctx.engine.networks.create(input)),
  update: serverProcedure('host:manage')
    .input(NetworkRef.extend({ put: NetworkPut }))
    .mutation(({ ctx, input }) => ctx.engine.networks.update(input.name, input.put)),
  delete: serverProcedure('host:manage')
    .input(NetworkRef)
    .mutation(({ ctx, input }) => ctx.engine.networks.delete(input.name)),
});
