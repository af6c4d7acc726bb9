// /1.0/instances/<name>/snapshots and /backups.
import { apiUrl } from '@berth/engine';
import { RenamePost, SnapshotsPost } from '@berth/engine/schemas';
import { z } from 'zod';
import { attachment } from '../../server/content-disposition.ts';
import type { RestContext } from '../context.ts';
import { validate, withoutGoZeroValues } from '../body.ts';
import { asyncOp, RestError, sync } from '../envelope.ts';
import { inProject } from '../lxd-shapes.ts';
import type { Router } from '../router.ts';
import { startOperation } from './ops.ts';

type P = Record<string, string>;

const SnapshotPost = RenamePost.extend({ migration: z.boolean().default(false) });

/** LXD's InstanceBackupsPost (the engine takes these as ExportOptions). */
const BackupsPost = z.object({
  name: z.string().optional(),
  expires_at: z.string().nullable().optional(),
  instance_only: z.boolean().default(false),
  container_only: z.boolean().default(false),
  optimized_storage: z.boolean().default(false),
  compression_algorithm: z.string().optional(),
});

const backupUrl = (project: string, instance: string, name: string) =>
  inProject(
    `/1.0/instances/${encodeURIComponent(instance)}/backups/${encodeURIComponent(name)}`,
    project,
  );

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
      const { name, snap } = p as { name: string; snap: string };
      const body = await ctx.body(SnapshotPost);
      if (body.migration) throw new RestError(501, 'Migration is not supported by Berth yet');
      await ctx.engine.snapshots.get(ctx.project, name, snap);
      const resources = {
        instances: [apiUrl.instance(ctx.project, name)],
        instances_snapshots: [apiUrl.snapshot(ctx.project, name, snap)],
      };
      return asyncOp(
        await startOperation(ctx, 'Renaming snapshot', resources, async () => {
          await ctx.engine.snapshots.rename(ctx.project, name, snap, body.name);
        }),
      );
    })
    .add('DELETE', '/1.0/instances/:name/snapshots/:snap', async (ctx, p: P) => {
      ctx.allow('snapshots');
      const { name, snap } = p as { name: string; snap: string };
      await ctx.engine.snapshots.get(ctx.project, name, snap);
      const resources = {
        instances: [apiUrl.instance(ctx.project, name)],
        instances_snapshots: [apiUrl.snapshot(ctx.project, name, snap)],
      };
      return asyncOp(
        await startOperation(ctx, 'Deleting snapshot', resources, async () => {
          await ctx.engine.snapshots.delete(ctx.project, name, snap);
        }),
      );
    })
    .add('GET', '/1.0/instances/:name/backups', async (ctx, p: P) => {
      ctx.allow('read');
      const list = await ctx.engine.backups.list(ctx.project, p.name!);
      return sync(
        ctx.query.recursion > 0 ? list : list.map((b) => backupUrl(ctx.project, p.name!, b.name)),
      );
    })
    .add('POST', '/1.0/instances/:name/backups', async (ctx, p: P) => {
      // A backup carries the whole filesystem: as reading files.
      ctx.allow('files');
      const body = await ctx.body(BackupsPost);
      const compression = body.compression_algorithm;
      if (compression !== undefined && compression !== 'gzip' && compression !== 'none')
        throw RestError.badRequest(
          `Invalid request body: compression_algorithm: must be "gzip" or "none"`,
        );
      return asyncOp(
        await ctx.engine.backups.export(ctx.project, p.name!, {
          ...(body.name ? { name: body.name } : {}),
          instanceOnly: body.instance_only || body.container_only,
          ...(compression ? { compression } : {}),
          ...(body.expires_at && !body.expires_at.startsWith('0001-')
            ? { expiresAt: body.expires_at }
            : {}),
        }),
      );
    })
    .add('GET', '/1.0/instances/:name/backups/:backup', async (ctx, p: P) => {
      ctx.allow('read');
      return sync(await ctx.engine.backups.get(ctx.project, p.name!, p.backup!));
    })
    .add('POST', '/1.0/instances/:name/backups/:backup', async (ctx, p: P) => {
      ctx.allow('files');
      const { name, backup } = p as { name: string; backup: string };
      const body = await ctx.body(RenamePost);
      await ctx.engine.backups.get(ctx.project, name, backup);
      const resources = { instances: [apiUrl.instance(ctx.project, name)] };
      return asyncOp(
        await startOperation(ctx, 'Renaming instance backup', resources, async () => {
          await ctx.engine.backups.rename(ctx.project, name, backup, body.name);
        }),
      );
    })
    .add('DELETE', '/1.0/instances/:name/backups/:backup', async (ctx, p: P) => {
      ctx.allow('files');
      const { name, backup } = p as { name: string; backup: string };
      await ctx.engine.backups.get(ctx.project, name, backup);
      const resources = { instances: [apiUrl.instance(ctx.project, name)] };
      return asyncOp(
        await startOperation(ctx, 'Deleting instance backup', resources, async () => {
          await ctx.engine.backups.delete(ctx.project, name, backup);
        }),
      );
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
