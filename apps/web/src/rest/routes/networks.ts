// /1.0/networks: the host's managed bridges (host-objects.ts).
import { apiUrl } from '@berth/engine';
import { NetworkPatch, NetworkPut, NetworksPost } from '@berth/engine/schemas';
import { validate, withoutGoZeroValues } from '../body.ts';
import type { RestContext } from '../context.ts';
import { created, emptySync, sync } from '../envelope.ts';
import type { Router } from '../router.ts';
import { getHostObject, listHostObjects } from './host-objects.ts';

type P = Record<string, string>;

export function registerNetworks(router: Router<RestContext>): void {
  router
    .add('GET', '/1.0/networks', (ctx) =>
      listHostObjects(ctx, apiUrl.network, () => ctx.engine.networks.list()),
    )
    .add('GET', '/1.0/networks/:name', (ctx, p: P) =>
      getHostObject(ctx, () => ctx.engine.networks.get(p.name!)),
    )
    .add('GET', '/1.0/networks/:name/state', async (ctx, p: P) => {
      ctx.allow('read');
      return sync(await ctx.engine.networks.state(p.name!));
    })
    // `lxc network list-leases`: a member sees every guest's address on a shared bridge, as in LXD.
    .add('GET', '/1.0/networks/:name/leases', async (ctx, p: P) => {
      ctx.allow('read');
      const leases = await ctx.engine.networks.leases(p.name!);
      return sync(leases.map(({ expiresAt: _, ...lease }) => lease));
    })
    // `lxc network create/edit/set/unset/delete`: the host's bridges, so the server admin's (tRPC's host:manage).
    .add('POST', '/1.0/networks', async (ctx) => {
      ctx.allow('server');
      const network = await ctx.engine.networks.create(
        validate(NetworksPost, withoutGoZeroValues(await ctx.json())),
      );
      return created(apiUrl.network(network.name));
    })
    .add('PUT', '/1.0/networks/:name', async (ctx, p: P) => {
      ctx.allow('server');
      await ctx.engine.networks.update(
        p.name!,
        validate(NetworkPut, withoutGoZeroValues(await ctx.json())),
      );
      return emptySync();
    })
    .add('PATCH', '/1.0/networks/:name', async (ctx, p: P) => {
      ctx.allow('server');
      await ctx.engine.networks.patch(
        p.name!,
        validate(NetworkPatch, withoutGoZeroValues(await ctx.json())),
      );
      return emptySync();
    })
    .add('DELETE', '/1.0/networks/:name', async (ctx, p: P) => {
      ctx.allow('server');
      await ctx.engine.networks.delete(p.name!);
      return emptySync();
    });
}
