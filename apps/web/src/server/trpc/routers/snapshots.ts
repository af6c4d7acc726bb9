// An instance's snapshots: operators take, restore, rename and delete them
// and set the schedule (only the `snapshots.*` keys; other config is admin's).
import { z } from 'zod';
import { SnapshotSchedulePut, SnapshotsPost } from '@berth/engine/schemas';
import { projectProcedure, router } from '../init.ts';

const Instance = z.object({ instance: z.string().min(1) });
const Snapshot = Instance.extend({ name: z.string().min(1) });

export const snapshotsRouter = router({
  list: projectProcedure('read')
    .input(Instance)
    .query(({ ctx, input }) => ctx.engine.snapshots.list(input.project, input.instance)),
  /** Returns the operation; the snapshot exists when it succeeds. */
  create: projectProcedure('snapshots')
    .input(Instance.extend({ snapshot: SnapshotsPost }))
    .mutation(({ ctx, input }) =>
      ctx.engine.snapshots.create(input.project, input.instance, input.snapshot),
    ),
  /** `stateful`: run on from a stateful snapshot's saved memory. */
  restore: projectProcedure('snapshots')
    .input(Snapshot.extend({ stateful: z.boolean().optional() }))
    .mutation(({ ctx, input }) =>
      ctx.engine.snapshots.restore(input.project, input.instance, input.name, {
        ...(input.stateful === undefined ? {} : { stateful: input.stateful }),
      }),
    ),
  rename: projectProcedure('snapshots')
    .input(Snapshot.extend({ newName: z.string() }))
    .mutation(({ ctx, input }) =>
      ctx.engine.snapshots.rename(input.project, input.instance, input.name, input.newName),
    ),
  delete: projectProcedure('snapshots')
    .input(Snapshot)
    .mutation(({ ctx, input }) =>
      ctx.engine.snapshots.delete(input.project, input.instance, input.name),
    ),
  /** Sets (or, with "", removes) the schedule keys; the instance's other config is untouched. */
  setSchedule: projectProcedure('snapshots')
    .input(Instance.extend({ config: SnapshotSchedulePut }))
    .mutation(({ ctx, input }) =>
      ctx.engine.snapshots.setSchedule(input.project, input.instance, input.config),
    ),
});
