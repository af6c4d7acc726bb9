// /1.0/profiles: a project's profiles.
import { apiUrl } from '@berth/engine';
import { ConfigMap, DeviceMap, ProfilePut, ProfilesPost, RenamePost } from '@berth/engine/schemas';
import { z } from 'zod';
import type { RestContext } from '../context.ts';
import { created, emptySync, sync } from '../envelope.ts';
import type { Router } from '../router.ts';

type P = Record<string, string>;

const ProfilePatch = z.object({
  description: z.string().optional(),
  config: ConfigMap.optional(),
  devices: DeviceMap.optional(),
});

export function registerProfiles(router: Router<RestContext>): void {
  router
    .add('GET', '/1.0/profiles', async (ctx) => {
      ctx.allow('read');
      const list = await ctx.engine.profiles.list(ctx.project);
      return sync(
        ctx.query.recursion > 0 ? list : list.map((p) => apiUrl.profile(ctx.project, p.name)),
      );
    })
    .add('POST', '/1.0/profiles', async (ctx) => {
      ctx.allow('profiles');
      const profile = await ctx.engine.profiles.create(ctx.project, await ctx.body(ProfilesPost));
      return created(apiUrl.profile(ctx.project, profile.name));
    })
    .add('GET', '/1.0/profiles/:name', async (ctx, p: P) => {
      ctx.allow('read');
      return sync(await ctx.engine.profiles.get(ctx.project, p.name!));
    })
    .add('PUT', '/1.0/profiles/:name', async (ctx, p: P) => {
      ctx.allow('profiles');
      await ctx.engine.profiles.update(ctx.project, p.name!, await ctx.body(ProfilePut));
      return emptySync();
    })
    .add('PATCH', '/1.0/profiles/:name', async (ctx, p: P) => {
      ctx.allow('profiles');
      await ctx.engine.profiles.patch(ctx.project, p.name!, await ctx.body(ProfilePatch));
      return emptySync();
    })
    .add('POST', '/1.0/profiles/:name', async (ctx, p: P) => {
      ctx.allow('profiles');
      const { name } = await ctx.body(RenamePost);
      await ctx.engine.profiles.rename(ctx.project, p.name!, name);
      return created(apiUrl.profile(ctx.project, name));
    })
    .add('DELETE', '/1.0/profiles/:name', async (ctx, p: P) => {
      ctx.allow('profiles');
      await ctx.engine.profiles.delete(ctx.project, p.name!);
      return emptySync();
    });
}
