import { z } from 'zod';
import { ProfilePut, ProfilesPost } from '@berth/engine/schemas';
import { projectProcedure, router } from '../init.ts';

const ProfileName = z.object({ name: z.string().min(1) });

export const profilesRouter = router({
  list: projectProcedure('read').query(({ ctx, input }) => ctx.engine.profiles.list(input.project)),
  get: projectProcedure('read')
    .input(ProfileName)
    .query(({ ctx, input }) => ctx.engine.profiles.get(input.project, input.name)),
  create: projectProcedure('profiles')
    .input(z.object({ profile: ProfilesPost }))
    .mutation(({ ctx, input }) => ctx.engine.profiles.create(input.project, input.profile)),
  update: projectProcedure('profiles')
    .input(ProfileName.extend({ put: ProfilePut }))
    .mutation(({ ctx, input }) => ctx.engine.profiles.update(input.project, input.name, input.put)),
  rename: projectProcedure('profiles')
    .input(ProfileName.extend({ newName: z.string() }))
    .mutation(({ ctx, input }) =>
      ctx.engine.profiles.rename(input.project, input.name, input.newName),
    ),
  delete: projectProcedure('profiles')
    .input(ProfileName)
    .mutation(({ ctx, input }) => ctx.engine.profiles.delete(input.project, input.name)),
});
