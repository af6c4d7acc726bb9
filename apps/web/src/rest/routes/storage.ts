// /1.0/storage-pools: the host's storage pools (host-objects.ts).
import { apiUrl } from '@berth/engine';
import type { RestContext } from '../context.ts';
import { sync } from '../envelope.ts';
import type { Router } from '../router.ts';
import { getHostObject, listHostObjects } from './host-objects.ts';

type P = Record<string, string>;

export function registerStorage(router: Router<RestContext>): void {
  router
    .add('GET', '/1.0/storage-pools', (ctx) =>
      listHostObjects(ctx, apiUrl.storagePool, () => ctx.engine.storage.list()),
    )
    .add('GET', '/1.0/storage-pools/:name', (ctx, p: P) =>
      getHostObject(ctx, () => ctx.engine.storage.get(p.name!)),
    )
    .add('GET', '/1.0/storage-pools/:name/resources', async (ctx, p: P) => {
      ctx.allow('read');
      await ctx.engine.storage.get(p.name!);
      return sync(await ctx.engine.storage.poolResources(p.name!));
    });
}
