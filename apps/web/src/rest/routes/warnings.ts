// LXD's warnings API (`lxc warning list|show|ack|delete`): the server's
// warnings, for server administrators. Without `?project=` the list is every
// project's (what `lxc warning list` asks for); with it, that project's and
// the server's own.
import { WarningPut } from '@berth/engine/schemas';
import type { RestContext } from '../context.ts';
import { emptySync, sync } from '../envelope.ts';
import type { Router } from '../router.ts';

type P = Record<string, string>;

export function registerWarnings(router: Router<RestContext>): void {
  router
    .add('GET', '/1.0/warnings', async (ctx) => {
      ctx.allow('server');
      const project = ctx.url.searchParams.get('project') || undefined;
      const warnings = await ctx.engine.warnings.list(project);
      return sync(
        ctx.query.recursion > 0 ? warnings : warnings.map((w) => `/1.0/warnings/${w.uuid}`),
      );
    })
    .add('GET', '/1.0/warnings/:uuid', async (ctx, p: P) => {
      ctx.allow('server');
      return sync(await ctx.engine.warnings.get(p.uuid!));
    })
    .add('PUT', '/1.0/warnings/:uuid', async (ctx, p: P) => {
      ctx.allow('server');
      await ctx.engine.warnings.update(p.uuid!, await ctx.body(WarningPut));
      return emptySync();
    })
    .add('PATCH', '/1.0/warnings/:uuid', async (ctx, p: P) => {
      ctx.allow('server');
      await ctx.engine.warnings.update(p.uuid!, await ctx.body(WarningPut));
      return emptySync();
    })
    .add('DELETE', '/1.0/warnings/:uuid', async (ctx, p: P) => {
      ctx.allow('server');
      await ctx.engine.warnings.delete(p.uuid!);
      return emptySync();
    });
}
