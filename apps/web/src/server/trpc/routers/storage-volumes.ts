// A project's custom storage volumes and their snapshots (the engine's
// `volumes` service). Who may do what is the REST routes' rule
// (rest/routes/storage-volumes.ts): readers list and show them, project
// admins create, change, rename, copy, move and delete them, operators
// take, restore, rename and delete snapshots.
import { z } from 'zod';
import {
  StorageVolumePatch,
  StorageVolumePost,
  StorageVolumePut,
  StorageVolumeSnapshotPut,
  StorageVolumeSnapshotsPost,
  StorageVolumesPost,
} from '@berth/engine/schemas';
import { authorize } from '../../policy.ts';
import { projectProcedure, router } from '../init.ts';

const Pool = z.object({ pool: z.string().min(1) });
const Volume = Pool.extend({ name: z.string().min(1) });
const Snapshot = Volume.extend({ snapshot: z.string().min(1) });

export const storageVolumesRouter = router({
  list: projectProcedure('read')
    .input(Pool.extend({ filter: z.string().optional() }))
    .query(({ ctx, input }) =>
      ctx.engine.volumes.list(input.pool, input.project, {
        type: 'custom',
        ...(input.filter ? { filter: input.filter } : {}),
      }),
    ),
  get: projectProcedure('read')
    .input(Volume)
    .query(({ ctx, input }) => ctx.engine.volumes.get(input.pool, input.project, input.name)),
  state: projectProcedure('read')
    .input(Volume)
    .query(({ ctx, input }) => ctx.engine.volumes.state(input.pool, input.project, input.name)),
  /** A new volume (`operation` null), or a copy (`volume.source.type` "copy": an operation). */
  create: projectProcedure('config')
    .input(Pool.extend({ volume: StorageVolumesPost }))
    .mutation(({ ctx, input }) => {
      const sourceProject = input.volume.source?.project;
      if (sourceProject) authorize(ctx.user, 'read', sourceProject);
      return ctx.engine.volumes.create(input.pool, input.project, input.volume);
    }),
  update: projectProcedure('config')
    .input(Volume.extend({ put: StorageVolumePut }))
    .mutation(({ ctx, input }) =>
      ctx.engine.volumes.update(input.pool, input.project, input.name, input.put),
    ),
  patch: projectProcedure('config')
    .input(Volume.extend({ patch: StorageVolumePatch }))
    .mutation(({ ctx, input }) =>
      ctx.engine.volumes.patch(input.pool, input.project, input.name, input.patch),
    ),
  /** A rename (`operation` null), or a move to another pool or project (an operation). */
  rename: projectProcedure('config')
    .input(Volume.extend({ post: StorageVolumePost }))
    .mutation(({ ctx, input }) => {
      const target = input.post.project;
      if (target && target !== input.project) authorize(ctx.user, 'config', target);
      return ctx.engine.volumes.rename(input.pool, input.project, input.name, input.post);
    }),
  delete: projectProcedure('delete')
    .input(Volume)
    .mutation(({ ctx, input }) => ctx.engine.volumes.delete(input.pool, input.project, input.name)),

  snapshots: projectProcedure('read')
    .input(Volume)
    .query(({ ctx, input }) =>
      ctx.engine.volumes.snapshots.list(input.pool, input.project, input.name),
    ),
  /** Returns the operation; the snapshot exists when it succeeds. */
  createSnapshot: projectProcedure('snapshots')
    .input(Volume.extend({ snapshot: StorageVolumeSnapshotsPost }))
    .mutation(({ ctx, input }) =>
      ctx.engine.volumes.snapshots.create(input.pool, input.project, input.name, input.snapshot),
    ),
  updateSnapshot: projectProcedure('snapshots')
    .input(Snapshot.extend({ put: StorageVolumeSnapshotPut }))
    .mutation(({ ctx, input }) =>
      ctx.engine.volumes.snapshots.update(
        input.pool,
        input.project,
        input.name,
        input.snapshot,
        input.put,
      ),
    ),
  restoreSnapshot: projectProcedure('snapshots')
    .input(Snapshot)
    .mutation(({ ctx, input }) =>
      ctx.engine.volumes.snapshots.restore(input.pool, input.project, input.name, input.snapshot),
    ),
  renameSnapshot: projectProcedure('snapshots')
    .input(Snapshot.extend({ newName: z.string().min(1) }))
    .mutation(({ ctx, input }) =>
      ctx.engine.volumes.snapshots.rename(
        input.pool,
        input.project,
        input.name,
        input.snapshot,
        input.newName,
      ),
    ),
  deleteSnapshot: projectProcedure('snapshots')
    .input(Snapshot)
    .mutation(({ ctx, input }) =>
      ctx.engine.volumes.snapshots.delete(input.pool, input.project, input.name, input.snapshot),
    ),
});
