// Profiles, projects, images (+ aliases), networks, storage pools.
import { apiUrl } from '@berth/engine';
import {
  ConfigMap,
  DeviceMap,
  ImageAliasName,
  ProfilePut,
  ProfilesPost,
  ProjectPut,
  ProjectsPost,
  RenamePost,
} from '@berth/engine/schemas';
import { z } from 'zod';
import {
  can,
  reservedProjectKeyChange,
  reservedProjectKeyReason,
  visibleUsedBy,
  type PolicyUser,
} from '../../server/policy.ts';
import type { RestContext } from '../context.ts';
import { asyncOp, created, emptySync, RestError, sync } from '../envelope.ts';
import type { Router } from '../router.ts';
import { startOperation } from './ops.ts';

type P = Record<string, string>;

const ProfilePatch = z.object({
  description: z.string().optional(),
  config: ConfigMap.optional(),
  devices: DeviceMap.optional(),
});
const ProjectPatch = z.object({ description: z.string().optional(), config: ConfigMap.optional() });
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

const withProject = (url: string, project: string) =>
  project === 'default' ? url : `${url}?project=${encodeURIComponent(project)}`;

/** 403 when `user` may not make this change of the project's reserved keys (policy.ts). */
function refuseReservedKeys(
  user: PolicyUser,
  current: Record<string, string>,
  next: Record<string, string>,
): void {
  const key = reservedProjectKeyChange(user, current, next);
  if (key) throw new RestError(403, `config["${key}"]: ${reservedProjectKeyReason(key)}`);
}

/** A network's or pool's `used_by`, without other projects' objects (policy.ts). */
function withVisibleUsedBy<T extends { used_by: string[] }>(user: PolicyUser, item: T): T {
  return { ...item, used_by: visibleUsedBy(user, item.used_by) };
}

export function registerResources(router: Router<RestContext>): void {
  // ---------------------------------------------------------------- profiles
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

  // ---------------------------------------------------------------- projects
  router
    .add('GET', '/1.0/projects', async (ctx) => {
      const user = ctx.requireUser();
      const list = (await ctx.engine.projects.list()).filter((p) => can(user, 'read', p.name));
      return sync(ctx.query.recursion > 0 ? list : list.map((p) => apiUrl.project(p.name)));
    })
    .add('POST', '/1.0/projects', async (ctx) => {
      ctx.allow('server');
      const project = await ctx.engine.projects.create(await ctx.body(ProjectsPost));
      return created(apiUrl.project(project.name));
    })
    .add('GET', '/1.0/projects/:name', async (ctx, p: P) => {
      ctx.allow('read', p.name!);
      return sync(await ctx.engine.projects.get(p.name!));
    })
    .add('GET', '/1.0/projects/:name/state', async (ctx, p: P) => {
      ctx.allow('read', p.name!);
      return sync(await ctx.engine.projects.state(p.name!));
    })
    // `restricted`, `limits.*` and `features.*` stay the server admin's: PUT
    // replaces the config, PATCH merges into it; either is judged on the result.
    .add('PUT', '/1.0/projects/:name', async (ctx, p: P) => {
      const user = ctx.allow('config', p.name!);
      const body = await ctx.body(ProjectPut);
      const current = await ctx.engine.projects.get(p.name!);
      refuseReservedKeys(user, current.config, body.config);
      await ctx.engine.projects.update(p.name!, body);
      return emptySync();
    })
    .add('PATCH', '/1.0/projects/:name', async (ctx, p: P) => {
      const user = ctx.allow('config', p.name!);
      const body = await ctx.body(ProjectPatch);
      const current = await ctx.engine.projects.get(p.name!);
      refuseReservedKeys(user, current.config, { ...current.config, ...body.config });
      await ctx.engine.projects.patch(p.name!, body);
      return emptySync();
    })
    .add('POST', '/1.0/projects/:name', async (ctx, p: P) => {
      ctx.allow('server');
      const { name } = await ctx.body(RenamePost);
      const from = p.name!;
      await ctx.engine.projects.get(from);
      return asyncOp(
        await startOperation(
          ctx,
          'Renaming project',
          { projects: [apiUrl.project(from)] },
          async () => {
            await ctx.engine.projects.rename(from, name);
          },
          from,
        ),
      );
    })
    .add('DELETE', '/1.0/projects/:name', async (ctx, p: P) => {
      ctx.allow('server');
      await ctx.engine.projects.delete(p.name!);
      return emptySync();
    });

  // ------------------------------------------------------------------ images
  // Aliases first: `/1.0/images/aliases` is not a fingerprint.
  router
    .add('GET', '/1.0/images/aliases', async (ctx) => {
      ctx.allow('read');
      const list = await ctx.engine.images.listAliases(ctx.project);
      return sync(
        ctx.query.recursion > 0
          ? list
          : list.map((a) =>
              withProject(`/1.0/images/aliases/${encodeURIComponent(a.name)}`, ctx.project),
            ),
      );
    })
    .add('POST', '/1.0/images/aliases', async (ctx) => {
      ctx.allow('config');
      const body = await ctx.body(AliasesPost);
      const alias = await ctx.engine.images.createAlias(ctx.project, body);
      return created(
        withProject(`/1.0/images/aliases/${encodeURIComponent(alias.name)}`, ctx.project),
      );
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
      return created(withProject(`/1.0/images/aliases/${encodeURIComponent(name)}`, ctx.project));
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
      const image = await ctx.engine.images.get(ctx.project, p.fp!);
      return asyncOp(
        await startOperation(
          ctx,
          'Deleting image',
          { images: [apiUrl.image(ctx.project, image.fingerprint)] },
          async () => {
            await ctx.engine.images.delete(ctx.project, image.fingerprint);
          },
        ),
      );
    });

  // ------------------------------------------------- networks, storage pools
  router
    // `used_by` names only objects in projects the caller may read, as tRPC's.
    .add('GET', '/1.0/networks', async (ctx) => {
      const user = ctx.allow('read');
      const list = await ctx.engine.networks.list();
      return sync(
        ctx.query.recursion > 0
          ? list.map((n) => withVisibleUsedBy(user, n))
          : list.map((n) => `/1.0/networks/${encodeURIComponent(n.name)}`),
      );
    })
    .add('GET', '/1.0/networks/:name', async (ctx, p: P) => {
      const user = ctx.allow('read');
      return sync(withVisibleUsedBy(user, await ctx.engine.networks.get(p.name!)));
    })
    .add('GET', '/1.0/networks/:name/state', async (ctx, p: P) => {
      ctx.allow('read');
      return sync(await ctx.engine.networks.state(p.name!));
    })
    .add('GET', '/1.0/storage-pools', async (ctx) => {
      const user = ctx.allow('read');
      const list = await ctx.engine.storage.list();
      return sync(
        ctx.query.recursion > 0
          ? list.map((s) => withVisibleUsedBy(user, s))
          : list.map((s) => `/1.0/storage-pools/${encodeURIComponent(s.name)}`),
      );
    })
    .add('GET', '/1.0/storage-pools/:name', async (ctx, p: P) => {
      const user = ctx.allow('read');
      return sync(withVisibleUsedBy(user, await ctx.engine.storage.get(p.name!)));
    })
    .add('GET', '/1.0/storage-pools/:name/resources', async (ctx, p: P) => {
      ctx.allow('read');
      await ctx.engine.storage.get(p.name!);
      return sync(await ctx.engine.storage.poolResources(p.name!));
    });
}
