// /1.0/images and /1.0/images/aliases: a project's images and their names.
// Moving image files (import, export) is image-transfer.ts.
import { apiUrl } from '@berth/engine';
import { ImageAliasName, RenamePost } from '@berth/engine/schemas';
import { z } from 'zod';
import type { RestContext } from '../context.ts';
import { asyncOp, created, emptySync, sync } from '../envelope.ts';
import type { Router } from '../router.ts';

type P = Record<string, string>;

const ImagePut = z.object({
  public: z.boolean().optional(),
  auto_update: z.boolean().optional(),
  properties: z.record(z.string(), z.string()).optional(),
  expires_at: z.string().nullable().optional(),
});
const AliasesPost = z.object({
  name: ImageAliasName,
  description: z.string().default(''),
  target: z.string().min(1, 'must name an image fingerprint'),
});
const AliasPut = z.object({ description: z.string().optional(), target: z.string().optional() });

export function registerImages(router: Router<RestContext>): void {
  // Aliases first: `/1.0/images/aliases` is not a fingerprint.
  router
    .add('GET', '/1.0/images/aliases', async (ctx) => {
      ctx.allow('read');
      const list = await ctx.engine.images.listAliases(ctx.project);
      return sync(
        ctx.query.recursion > 0 ? list : list.map((a) => apiUrl.imageAlias(ctx.project, a.name)),
      );
    })
    .add('POST', '/1.0/images/aliases', async (ctx) => {
      ctx.allow('config');
      const body = await ctx.body(AliasesPost);
      const alias = await ctx.engine.images.createAlias(ctx.project, body);
      return created(apiUrl.imageAlias(ctx.project, alias.name));
    })
    .add('GET', '/1.0/images/aliases/:alias', async (ctx, p: P) => {
      ctx.allow('read');
      return sync(await ctx.engine.images.getAlias(ctx.project, p.alias!));
    })
    .add('PUT', '/1.0/images/aliases/:alias', async (ctx, p: P) => {
      ctx.allow('config');
      const body = await ctx.body(AliasPut);
      await ctx.engine.images.updateAlias(ctx.project, p.alias!, {
        ...(body.target !== undefined ? { target: body.target } : {}),
        description: body.description ?? '',
      });
      return emptySync();
    })
    .add('PATCH', '/1.0/images/aliases/:alias', async (ctx, p: P) => {
      ctx.allow('config');
      const body = await ctx.body(AliasPut);
      await ctx.engine.images.updateAlias(ctx.project, p.alias!, {
        ...(body.target !== undefined ? { target: body.target } : {}),
        ...(body.description !== undefined ? { description: body.description } : {}),
      });
      return emptySync();
    })
    .add('POST', '/1.0/images/aliases/:alias', async (ctx, p: P) => {
      ctx.allow('config');
      const { name } = await ctx.body(RenamePost);
      await ctx.engine.images.renameAlias(ctx.project, p.alias!, name);
      return created(apiUrl.imageAlias(ctx.project, name));
    })
    .add('DELETE', '/1.0/images/aliases/:alias', async (ctx, p: P) => {
      ctx.allow('config');
      await ctx.engine.images.deleteAlias(ctx.project, p.alias!);
      return emptySync();
    })
    .add('GET', '/1.0/images', async (ctx) => {
      ctx.allow('read');
      const list = await ctx.engine.images.list(ctx.project);
      return sync(
        ctx.query.recursion > 0 ? list : list.map((i) => apiUrl.image(ctx.project, i.fingerprint)),
      );
    })
    .add('GET', '/1.0/images/:fp', async (ctx, p: P) => {
      ctx.allow('read');
      return sync(await ctx.engine.images.get(ctx.project, p.fp!));
    })
    .add('PUT', '/1.0/images/:fp', async (ctx, p: P) => {
      ctx.allow('config');
      await ctx.engine.images.update(ctx.project, p.fp!, await ctx.body(ImagePut));
      return emptySync();
    })
    .add('PATCH', '/1.0/images/:fp', async (ctx, p: P) => {
      ctx.allow('config');
      await ctx.engine.images.update(ctx.project, p.fp!, await ctx.body(ImagePut));
      return emptySync();
    })
    .add('DELETE', '/1.0/images/:fp', async (ctx, p: P) => {
      ctx.allow('delete');
      const started = ctx.engine.images.startDelete(ctx.project, p.fp!);
      return asyncOp(await started);
    });
}
