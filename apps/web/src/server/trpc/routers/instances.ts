import { z } from 'zod';
import {
  apiUrl,
  InstancePatch,
  InstancePut,
  InstancesPost,
  InstanceStatePut,
} from '@berth/engine/schemas';
import { toInstanceRow } from '../../../lib/instance-row.ts';
import { authorize, type Principal } from '../../policy.ts';
import { projectProcedure, router, userProcedure } from '../init.ts';

const InstanceName = z.object({ name: z.string().min(1) });

/**
 * A copy reads its source's project: the caller needs `read` there too (the
 * target project's `config` is the procedure's own check). Not found, as
 * for any project the user may not see.
 */
function assertMayReadSource(user: Principal, sourceProject: string | undefined): void {
  if (sourceProject !== undefined && sourceProject !== '') authorize(user, 'read', sourceProject);
}

export const instancesRouter = router({
  /**
   * The instances table: rows of what it shows, filtered with LXD's syntax on
   * the whole objects (recursion=2, so `state.status` and `config.*` work).
   */
  list: projectProcedure('read')
    .input(z.object({ filter: z.string().max(1000).optional() }))
    .query(async ({ ctx, input }) =>
      (
        await ctx.engine.instances.listFull(
          input.project,
          input.filter?.trim() ? { filter: input.filter } : {},
        )
      ).map(toInstanceRow),
    ),
  get: projectProcedure('read')
    .input(InstanceName)
    .query(({ ctx, input }) => ctx.engine.instances.getFull(input.project, input.name)),
  /** Returns at once; the instance is ready when the operation succeeds. */
  create: projectProcedure('config')
    .input(z.object({ instance: InstancesPost }))
    .mutation(({ ctx, input }) => {
      if (input.instance.source?.type === 'copy')
        assertMayReadSource(ctx.user, input.instance.source.project);
      return ctx.engine.instances.create(input.project, input.instance);
    }),
  /**
   * `lxc copy`: a new instance `newName` from `name` (or its snapshot
   * `snapshot`), with the source's snapshots unless `instanceOnly`. Returns
   * at once; the copy exists when the operation succeeds.
   */
  copy: projectProcedure('config')
    .input(
      InstanceName.extend({
        newName: z.string(),
        snapshot: z.string().min(1).optional(),
        instanceOnly: z.boolean().default(false),
        sourceProject: z.string().min(1).optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      assertMayReadSource(ctx.user, input.sourceProject);
      return ctx.engine.instances.create(input.project, {
        name: input.newName,
        source: {
          type: 'copy',
          source: input.snapshot ? `${input.name}/${input.snapshot}` : input.name,
          instance_only: input.instanceOnly,
          ...(input.sourceProject ? { project: input.sourceProject } : {}),
        },
      });
    }),
  patch: projectProcedure('config')
    .input(InstanceName.extend({ patch: InstancePatch }))
    .mutation(({ ctx, input }) =>
      ctx.engine.instances.patch(input.project, input.name, input.patch),
    ),
  changeState: projectProcedure('lifecycle')
    .input(InstanceName.extend({ state: InstanceStatePut }))
    .mutation(({ ctx, input }) =>
      ctx.engine.instances.changeState(input.project, input.name, input.state),
    ),
  delete: projectProcedure('delete')
    .input(InstanceName.extend({ force: z.boolean().default(false) }))
    .mutation(({ ctx, input }) =>
      ctx.engine.instances.delete(input.project, input.name, { force: input.force }),
    ),
  /** Live state: status, addresses, CPU, memory, disk, processes. */
  state: projectProcedure('read')
    .input(InstanceName)
    .query(({ ctx, input }) => ctx.engine.instances.state(input.project, input.name)),
  /** PUT: the local config, devices and profiles as given (volatile keys are kept). */
  update: projectProcedure('config')
    .input(InstanceName.extend({ put: InstancePut }))
    .mutation(({ ctx, input }) =>
      ctx.engine.instances.update(input.project, input.name, input.put),
    ),
  rename: projectProcedure('config')
    .input(InstanceName.extend({ newName: z.string() }))
    .mutation(({ ctx, input }) =>
      ctx.engine.instances.rename(input.project, input.name, input.newName),
    ),
  /** The console's log (what the instance printed at boot); operators only, it may hold secrets. */
  consoleLog: projectProcedure('console')
    .input(InstanceName)
    .query(({ ctx, input }) => ctx.engine.instances.consoleLog(input.project, input.name)),
  /** This instance's operations (and its snapshots' and backups'), newest first. */
  operations: projectProcedure('read')
    .input(InstanceName)
    .query(({ ctx, input }) =>
      ctx.engine.operations.list(input.project, {
        resource: apiUrl.instance(input.project, input.name),
      }),
    ),
  /** Which instance types this host can run, and why not. */
  drivers: userProcedure.query(({ ctx }) => ctx.engine.drivers()),
});
