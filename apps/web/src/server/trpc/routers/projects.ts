import { z } from 'zod';
import { ProjectName, ProjectsPost, ProjectPut } from '@berth/engine/schemas';
import { TRPCError } from '@trpc/server';
import { reservedProjectKeyChange, reservedProjectKeyReason } from '../../policy.ts';
import { fieldError } from '../field-error.ts';
import {
  projectProcedure,
  router,
  serverAdminProcedure,
  userProcedure,
  visibleProjects,
} from '../init.ts';

export const projectsRouter = router({
  /** The projects this user may see (all for server admins), with their config. */
  list: userProcedure.query(async ({ ctx }) => {
    const all = await ctx.engine.projects.list();
    const visible = new Set(
      visibleProjects(
        ctx.user,
        all.map((p) => p.name),
      ),
    );
    return all.filter((p) => visible.has(p.name));
  }),
  get: projectProcedure('read').query(({ ctx, input }) => ctx.engine.projects.get(input.project)),
  state: projectProcedure('read').query(({ ctx, input }) =>
    ctx.engine.projects.state(input.project),
  ),
  create: serverAdminProcedure
    .input(ProjectsPost)
    .mutation(({ ctx, input }) => ctx.engine.projects.create(input)),
  /** The whole config (PUT): `restricted`, `limits.*` and `features.*` stay the server admin's. */
  update: projectProcedure('config')
    .input(z.object({ put: ProjectPut }))
    .mutation(async ({ ctx, input }) => {
      return ctx.engine.projects.update(input.project, input.put, (current, next) => {
        const key = reservedProjectKeyChange(ctx.user, current, next);
        if (key) throw fieldError('FORBIDDEN', `config["${key}"]`, reservedProjectKeyReason(key));
      });
    }),
  delete: serverAdminProcedure
    .input(z.object({ name: ProjectName }))
    .mutation(async ({ ctx, input }) => {
      if (input.name === 'default')
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: 'The default project cannot be deleted',
        });
      await ctx.engine.projects.delete(input.name);
    }),
});
