// /1.0/projects. A project is read by its members; creating, renaming and
// deleting one is the server administrator's.
import { apiUrl, type ProjectChangeCheck } from '@berth/engine';
import { ConfigMap, ProjectPut, ProjectsPost, RenamePost } from '@berth/engine/schemas';
import { z } from 'zod';
import {
  reservedProjectKeyChange,
  reservedProjectKeyReason,
  type PolicyUser,
} from '../../server/policy.ts';
import type { RestContext } from '../context.ts';
import { asyncOp, created, emptySync, RestError, sync } from '../envelope.ts';
import type { Router } from '../router.ts';

type P = Record<string, string>;

const ProjectPatch = z.object({ description: z.string().optional(), config: ConfigMap.optional() });

/** 403 when `user` may not make this change of the project's reserved keys (policy.ts). */
function refuseReservedKeys(user: PolicyUser): ProjectChangeCheck {
  return (current, next) => {
    const key = reservedProjectKeyChange(user, current, next);
    if (key) throw new RestError(403, `config["${key}"]: ${reservedProjectKeyReason(key)}`);
  };
}

export function registerProjects(router: Router<RestContext>): void {
  router
    .add('GET', '/1.0/projects', async (ctx) => {
      const visible = new Set(await ctx.visibleProjects());
      const list = (await ctx.engine.projects.list()).filter((p) => visible.has(p.name));
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
      await ctx.engine.projects.update(p.name!, body, refuseReservedKeys(user));
      return emptySync();
    })
    .add('PATCH', '/1.0/projects/:name', async (ctx, p: P) => {
      const user = ctx.allow('config', p.name!);
      const body = await ctx.body(ProjectPatch);
      await ctx.engine.projects.patch(p.name!, body, refuseReservedKeys(user));
      return emptySync();
    })
    .add('POST', '/1.0/projects/:name', async (ctx, p: P) => {
      ctx.allow('server');
      const { name } = await ctx.body(RenamePost);
      const started = ctx.engine.projects.startRename(p.name!, name);
      return asyncOp(await started);
    })
    .add('DELETE', '/1.0/projects/:name', async (ctx, p: P) => {
      ctx.allow('server');
      await ctx.engine.projects.delete(p.name!);
      return emptySync();
    });
}
