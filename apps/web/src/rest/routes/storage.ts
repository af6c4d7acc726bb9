// /1.0/storage-pools: the host's storage pools (host-objects.ts).
import { apiUrl } from '@berth/engine';
import { StoragePoolsPost } from '@berth/engine/schemas';
import { validate, withoutGoZeroValues } from '../body.ts';
import type { RestContext } from '../context.ts';
import { created, emptySync, sync } from '../envelope.ts';
import type { Router } from '../router.ts';
import { getHostObject, listHostObjects } from './host-objects.ts';

type P = Record<string, string>;

export function registerStorage(router: Router<RestContext>): void {
  router
    .add('GET', '/1.0/storage-pools', (ctx) =>
      listHostObjects(ctx, apiUrl.storagePool, () => ctx.engine.storage.list()),
    )
    // `lxc storage create/delete`: the host's, so the server admin's (as tRPC's host:manage).
    .add('POST', '/1.0/storage-pools', async (ctx) => {
      ctx.allow('server');
      const pool = await ctx.engine.storage.create(
        validate(StoragePoolsPost, withoutGoZeroValues(await ctx.json())),
      );
      return created(apiUrl.storagePool(pool.name));
    })
    .add('GET', '/1.0/storage-pools/:name', (ctx, p: P) =>
      getHostObject(ctx, () => ctx.engine.storage.get(p.name!)),
    )
    .add('DELETE', '/1.0/storage-pools/:name', async (ctx, p: P) => {
      ctx.allow('server');
      await ctx.engine.storage.delete(p.name!);
      return emptySync();
    })
    .add('GET', '/1.0/storage-pools/:name/resources', async (ctx, p: P) => {
      ctx.allow('read');
      await ctx.engine.storage.get(p.name!);
      return sync(await ctx.engine.storage.poolResources(p.name!));
    });
}
