// /1.0/networks: the host's managed bridges (host-objects.ts).
import { apiUrl } from '@berth/engine';
import type { RestContext } from '../context.ts';
import { sync } from '../envelope.ts';
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
    });
}
