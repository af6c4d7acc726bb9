// /1.0/storage-pools/<pool>/volumes: a project's volumes on a pool, custom
// ones created, changed, copied, moved, snapshotted and deleted here (LXD's
// lxd/storage_volumes.go and storage_volumes_snapshot.go). Sync where LXD
// answers sync (create, update, rename, delete, restore), an operation where
// it answers with one (copy, move, snapshot create/rename/delete).
//
// Volumes belong to a project: reading needs `read`; creating, changing,
// renaming, copying, moving and deleting them is project configuration
// (`config`, `delete`), as LXD's manage-storage-volumes; snapshots are the
// operator's (`snapshots`), as for instances.
import { apiUrl } from '@berth/engine';
import {
  StorageVolumePatch,
  StorageVolumePost,
  StorageVolumePut,
  StorageVolumeSnapshotPut,
  StorageVolumeSnapshotsPost,
  StorageVolumesPost,
  RenamePost,
} from '@berth/engine/schemas';
import type { RestContext } from '../context.ts';
import { withoutGoZeroValues } from '../body.ts';
import { asyncOp, created, emptySync, RestError, sync } from '../envelope.ts';
import type { Router } from '../router.ts';

type P = Record<string, string>;

const base = '/1.0/storage-pools/:pool/volumes';

function volumeUrl(project: string, pool: string, type: string, name: string): string {
  const url = `${apiUrl.storagePool(pool)}/volumes/${encodeURIComponent(type)}/${encodeURIComponent(name)}`;
  return project === 'default' ? url : `${url}?project=${encodeURIComponent(project)}`;
}

function snapshotUrl(project: string, pool: string, volume: string, snapshot: string): string {
  const url = `${apiUrl.storagePool(pool)}/volumes/custom/${encodeURIComponent(volume)}/snapshots/${encodeURIComponent(snapshot)}`;
  return project === 'default' ? url : `${url}?project=${encodeURIComponent(project)}`;
}

/** Only custom volumes are written through this API (LXD refuses the others with these words). */
function customOnly(type: string, doing: string): void {
  if (type !== 'custom')
    throw RestError.badRequest(`${doing} storage volumes of type "${type}" is not allowed`);
}

async function listVolumes(ctx: RestContext, pool: string, type?: string) {
  ctx.allow('read');
  const list = await ctx.engine.volumes.list(pool, ctx.project, {
    ...(type === undefined ? {} : { type }),
    ...(ctx.query.filter ? { filter: ctx.query.filter } : {}),
  });
  return sync(
    ctx.query.recursion > 0
      ? list
      : list.map((v) => {
          const [parent = v.name, snap] = v.name.split('/');
          return snap === undefined
            ? volumeUrl(ctx.project, pool, v.type, v.name)
            : snapshotUrl(ctx.project, pool, parent, snap);
        }),
  );
}

async function createVolume(ctx: RestContext, pool: string, type?: string) {
  ctx.allow('config');
  const raw = await ctx.json();
  const body: Record<string, unknown> = raw && typeof raw === 'object' ? { ...raw } : {};
  if (type !== undefined) body.type = type;
  // A copy reads the source's project: the caller must be allowed to.
  const source = StorageVolumesPost.safeParse(body).data?.source;
  if (source?.type === 'copy' && source.project) ctx.allow('read', source.project);
  const { operation } = await ctx.engine.volumes.create(
    pool,
    ctx.project,
    body as StorageVolumesPost,
  );
  return operation ? asyncOp(operation) : emptySync();
}

export function registerStorageVolumes(router: Router<RestContext>): void {
  router
    .add('GET', base, (ctx, p: P) => listVolumes(ctx, p.pool!))
    .add('POST', base, (ctx, p: P) => createVolume(ctx, p.pool!))
    .add('GET', `${base}/:type`, (ctx, p: P) => listVolumes(ctx, p.pool!, p.type!))
    .add('POST', `${base}/:type`, (ctx, p: P) => {
      ctx.allow('config');
      customOnly(p.type!, 'Currently not allowed to create');
      return createVolume(ctx, p.pool!, p.type!);
    })
    .add('GET', `${base}/:type/:name`, async (ctx, p: P) => {
      ctx.allow('read');
      return sync(await ctx.engine.volumes.getOfType(p.pool!, ctx.project, p.type!, p.name!));
    })
    .add('GET', `${base}/:type/:name/state`, async (ctx, p: P) => {
      ctx.allow('read');
      customOnly(p.type!, 'Reading the state of');
      return sync(await ctx.engine.volumes.state(p.pool!, ctx.project, p.name!));
    })
    .add('PUT', `${base}/:type/:name`, async (ctx, p: P) => {
      ctx.allow('config');
      customOnly(p.type!, 'Updating');
      // Raw: the engine parses it, and must see `"config": null` (a restore only) as sent.
      const body = (await ctx.json()) as StorageVolumePut;
      await ctx.engine.volumes.update(p.pool!, ctx.project, p.name!, body);
      return emptySync();
    })
    .add('PATCH', `${base}/:type/:name`, async (ctx, p: P) => {
      ctx.allow('config');
      customOnly(p.type!, 'Updating');
      await ctx.engine.volumes.patch(
        p.pool!,
        ctx.project,
        p.name!,
        await ctx.body(StorageVolumePatch),
      );
      return emptySync();
    })
    .add('POST', `${base}/:type/:name`, async (ctx, p: P) => {
      ctx.allow('config');
      customOnly(p.type!, 'Renaming');
      const body = await ctx.body(StorageVolumePost);
      // A move to another project changes that project too.
      if (body.project && body.project !== ctx.project) ctx.allow('config', body.project);
      const { operation } = await ctx.engine.volumes.rename(p.pool!, ctx.project, p.name!, body);
      if (operation) return asyncOp(operation);
      return created(volumeUrl(ctx.project, p.pool!, 'custom', body.name));
    })
    .add('DELETE', `${base}/:type/:name`, async (ctx, p: P) => {
      ctx.allow('delete');
      if (p.type !== 'custom' && p.type !== 'image')
        throw RestError.badRequest(
          `Storage volumes of type "${p.type}" cannot be deleted with the storage API`,
        );
      if (p.type === 'image')
        throw new RestError(501, 'Image volumes are deleted with their image in Berth');
      await ctx.engine.volumes.delete(p.pool!, ctx.project, p.name!);
      return emptySync();
    })
    // ------------------------------------------------------------ snapshots
    .add('GET', `${base}/:type/:name/snapshots`, async (ctx, p: P) => {
      ctx.allow('read');
      customOnly(p.type!, 'Listing snapshots of');
      const list = await ctx.engine.volumes.snapshots.list(p.pool!, ctx.project, p.name!);
      return sync(
        ctx.query.recursion > 0
          ? list
          : list.map((s) => snapshotUrl(ctx.project, p.pool!, p.name!, s.name)),
      );
    })
    .add('POST', `${base}/:type/:name/snapshots`, async (ctx, p: P) => {
      ctx.allow('snapshots');
      customOnly(p.type!, 'Snapshotting');
      const body = (withoutGoZeroValues(await ctx.json()) ?? {}) as StorageVolumeSnapshotsPost;
      return asyncOp(
        await ctx.engine.volumes.snapshots.create(p.pool!, ctx.project, p.name!, body),
      );
    })
    .add('GET', `${base}/:type/:name/snapshots/:snap`, async (ctx, p: P) => {
      ctx.allow('read');
      customOnly(p.type!, 'Reading snapshots of');
      return sync(await ctx.engine.volumes.snapshots.get(p.pool!, ctx.project, p.name!, p.snap!));
    })
    .add('PUT', `${base}/:type/:name/snapshots/:snap`, async (ctx, p: P) => {
      ctx.allow('snapshots');
      customOnly(p.type!, 'Updating snapshots of');
      await ctx.engine.volumes.snapshots.update(
        p.pool!,
        ctx.project,
        p.name!,
        p.snap!,
        await ctx.body(StorageVolumeSnapshotPut),
      );
      return emptySync();
    })
    .add('PATCH', `${base}/:type/:name/snapshots/:snap`, async (ctx, p: P) => {
      ctx.allow('snapshots');
      customOnly(p.type!, 'Updating snapshots of');
      const current = await ctx.engine.volumes.snapshots.get(
        p.pool!,
        ctx.project,
        p.name!,
        p.snap!,
      );
      const raw = ((await ctx.json()) ?? {}) as Record<string, unknown>;
      await ctx.engine.volumes.snapshots.update(p.pool!, ctx.project, p.name!, p.snap!, {
        description: current.description,
        expires_at: current.expires_at,
        ...(raw as StorageVolumeSnapshotPut),
      });
      return emptySync();
    })
    .add('POST', `${base}/:type/:name/snapshots/:snap`, async (ctx, p: P) => {
      ctx.allow('snapshots');
      customOnly(p.type!, 'Renaming snapshots of');
      const { name } = await ctx.body(RenamePost);
      return asyncOp(
        await ctx.engine.volumes.snapshots.rename(p.pool!, ctx.project, p.name!, p.snap!, name),
      );
    })
    .add('DELETE', `${base}/:type/:name/snapshots/:snap`, async (ctx, p: P) => {
      ctx.allow('snapshots');
      customOnly(p.type!, 'Deleting snapshots of');
      return asyncOp(
        await ctx.engine.volumes.snapshots.delete(p.pool!, ctx.project, p.name!, p.snap!),
      );
    });
}
