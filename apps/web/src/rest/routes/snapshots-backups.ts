// /1.0/instances/<name>/snapshots and /backups.
import { apiUrl } from '@berth/engine';
import { BackupsPost, RenamePost, SnapshotsPost } from '@berth/engine/schemas';
import { z } from 'zod';
import { attachment } from '../../server/content-disposition.ts';
import type { RestContext } from '../context.ts';
import { validate, withoutGoZeroValues } from '../body.ts';
import { asyncOp, RestError, sync } from '../envelope.ts';
import type { Router } from '../router.ts';

type P = Record<string, string>;

const SnapshotPost = RenamePost.extend({ migration: z.boolean().default(false) });

export function registerSnapshotsAndBackups(router: Router<RestContext>): void {
  router
    .add('GET', '/1.0/instances/:name/snapshots', async (ctx, p: P) => {
      ctx.allow('read');
      const list = await ctx.engine.snapshots.list(ctx.project, p.name!);
      return sync(
        ctx.query.recursion > 0
          ? list
          : list.map((s) => apiUrl.snapshot(ctx.project, p.name!, s.name)),
      );
    })
    .add('POST', '/1.0/instances/:name/snapshots', async (ctx, p: P) => {
      ctx.allow('snapshots');
      const body = validate(SnapshotsPost, withoutGoZeroValues(await ctx.json()));
      return asyncOp(await ctx.engine.snapshots.create(ctx.project, p.name!, body));
    })
    .add('GET', '/1.0/instances/:name/snapshots/:snap', async (ctx, p: P) => {
      ctx.allow('read');
      return sync(await ctx.engine.snapshots.get(ctx.project, p.name!, p.snap!));
    })
    .add('POST', '/1.0/instances/:name/snapshots/:snap', async (ctx, p: P) => {
      ctx.allow('snapshots');
      const body = await ctx.body(SnapshotPost);
      if (body.migration) throw new RestError(501, 'Migration is not supported by Berth yet');
      return asyncOp(
        await ctx.engine.snapshots.startRename(ctx.project, p.name!, p.snap!, body.name),
      );
    })
    .add('DELETE', '/1.0/instances/:name/snapshots/:snap', async (ctx, p: P) => {
      ctx.allow('snapshots');
      return asyncOp(await ctx.engine.snapshots.startDelete(ctx.project, p.name!, p.snap!));
    })
    .add('GET', '/1.0/instances/:name/backups', async (ctx, p: P) => {
      ctx.allow('read');
      const list = await ctx.engine.backups.list(ctx.project, p.name!);
      return sync(
        ctx.query.recursion > 0
          ? list
          : list.map((b) => apiUrl.backup(ctx.project, p.name!, b.name)),
      );
    })
    .add('POST', '/1.0/instances/:name/backups', async (ctx, p: P) => {
      // A backup carries the whole filesystem: as reading files.
      ctx.allow('files');
      const body = await ctx.body(BackupsPost);
      return asyncOp(await ctx.engine.backups.export(ctx.project, p.name!, body));
    })
    .add('GET', '/1.0/instances/:name/backups/:backup', async (ctx, p: P) => {
      ctx.allow('read');
      return sync(await ctx.engine.backups.get(ctx.project, p.name!, p.backup!));
    })
    .add('POST', '/1.0/instances/:name/backups/:backup', async (ctx, p: P) => {
      ctx.allow('files');
      const body = await ctx.body(RenamePost);
      return asyncOp(
        await ctx.engine.backups.startRename(ctx.project, p.name!, p.backup!, body.name),
      );
    })
    .add('DELETE', '/1.0/instances/:name/backups/:backup', async (ctx, p: P) => {
      ctx.allow('files');
      return asyncOp(await ctx.engine.backups.startDelete(ctx.project, p.name!, p.backup!));
    })
    .add('GET', '/1.0/instances/:name/backups/:backup/export', async (ctx, p: P) => {
      ctx.allow('files');
      const { name, backup } = p as { name: string; backup: string };
      const size = await ctx.engine.backups.size(ctx.project, name, backup);
      const stream = await ctx.engine.backups.open(ctx.project, name, backup);
      return {
        kind: 'raw',
        status: 200,
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(size),
          // The name is the user's: RFC 6266 encoding, as the console's download route.
          'Content-Disposition': attachment(`${backup}.tar.gz`),
        },
        body: stream,
      };
    });
}
