// /1.0/operations: list, get, cancel, wait. An operation of a project the
// caller may not see answers exactly as an unknown id does, and a running
// exec or console operation shows its secrets to its creator alone
// (operation-sockets.ts).
import type { Operation } from '@berth/engine';
import { can } from '../../server/policy.ts';
import type { RestContext } from '../context.ts';
import { emptySync, RestError, sync } from '../envelope.ts';
import { groupOperations } from '../lxd-shapes.ts';
import { parseTimeout } from '../query.ts';
import type { Router } from '../router.ts';

type P = Record<string, string>;

/** The project of a visible operation; "Operation not found" for unknown and hidden ones alike. */
async function operationProject(ctx: RestContext, id: string): Promise<string> {
  const user = ctx.requireUser();
  const project = await ctx.engine.operations.projectOf(id);
  if (project === null || !can(user, 'read', project))
    throw RestError.notFound('Operation not found');
  return project;
}

export function registerOperations(router: Router<RestContext>): void {
  router
    .add('GET', '/1.0/operations', async (ctx) => {
      let ops: Operation[];
      if (ctx.query.allProjects) {
        const visible = await ctx.visibleProjects();
        ops = (await Promise.all(visible.map((n) => ctx.engine.operations.list(n)))).flat();
      } else {
        ctx.allow('read');
        ops = await ctx.engine.operations.list(ctx.project);
      }
      // A list never carries secrets, not even the caller's own (LXD clients read them off
      // the POST answer or GET /1.0/operations/<id>).
      return sync(groupOperations(ops, ctx.query.recursion));
    })
    .add('GET', '/1.0/operations/:id', async (ctx, p: P) => {
      const project = await operationProject(ctx, p.id!);
      const op = await ctx.engine.operations.get(p.id!, { project });
      return sync(ctx.services.sockets.shownTo(op, ctx.requireUser()));
    })
    .add('DELETE', '/1.0/operations/:id', async (ctx, p: P) => {
      const project = await operationProject(ctx, p.id!);
      ctx.allow('lifecycle', project);
      await ctx.engine.operations.cancel(p.id!, { project });
      return emptySync();
    })
    .add('GET', '/1.0/operations/:id/wait', async (ctx, p: P) => {
      await operationProject(ctx, p.id!);
      const timeout = parseTimeout(ctx.url.searchParams);
      const op = await ctx.engine.operations.wait(p.id!, timeout);
      return sync(ctx.services.sockets.shownTo(op, ctx.requireUser()));
    });
}
